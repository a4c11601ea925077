#!/usr/bin/env bash
# Regenerate the hash-pinned lock files from pyproject.toml (pip-tools), for the
# Python of .venv (3.11, the Docker image's). Run after changing a dependency:
#   bash scripts/lock.sh            # keep versions already locked where still allowed
#   bash scripts/lock.sh --upgrade  # take the newest versions the bounds allow
# requirements/runtime.txt: hanchot's dependencies + PostgreSQL driver (Dockerfile);
# requirements/test.txt: + the test extras (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh test
.venv/bin/python -m pip install --disable-pip-version-check -q "pip-tools>=7.4,<8"
common=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url
        --no-emit-trusted-host --no-emit-find-links --resolver=backtracking "$@")
CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" .venv/bin/pip-compile "${common[@]}" \
  --extra postgres -o requirements/runtime.txt pyproject.toml
CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" .venv/bin/pip-compile "${common[@]}" \
  --extra postgres --extra test -o requirements/test.txt pyproject.toml
echo "requirements/runtime.txt and requirements/test.txt written" >&2
