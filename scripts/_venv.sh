# Sourced by scripts/run.sh and scripts/test.sh: make .venv with the project installed.
# Re-installs only when pyproject.toml changed (a stamp file holds its hash).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
extras=${1:-}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
want="$(sha256sum pyproject.toml | cut -c1-16)$extras"
if [ "$(cat .venv/.hanchot-stamp 2>/dev/null || true)" != "$want" ]; then
  echo "Installing hanchot into .venv (log: .venv/pip.log)..." >&2
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check -e ".${extras:+[$extras]}"; \
       } >.venv/pip.log 2>&1; then
    tail -n 30 .venv/pip.log >&2
    echo "pip install failed; full log in .venv/pip.log" >&2
    exit 1
  fi
  echo "$want" > .venv/.hanchot-stamp
fi
