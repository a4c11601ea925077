#!/usr/bin/env bash
# Set up .venv, then run the main job on the embedded default: the daemon over the
# repo's config/ and rules/, SQLite in var/hanchot.db, mail written as .eml files
# under var/mail/ (no SMTP server configured). Stop it with Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
.venv/bin/hanchot check
exec .venv/bin/hanchot run "$@"
