#!/usr/bin/env bash
# Set up .venv with the test extras, lint, then run the whole test suite.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
