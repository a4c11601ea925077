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
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  echo "$want" > .venv/.hanchot-stamp
fi
