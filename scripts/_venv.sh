# Sourced by scripts/run.sh and scripts/test.sh: make .venv with the project installed.
# Usage: source scripts/_venv.sh [EXTRA[,EXTRA...]]
# Re-installs only when pyproject.toml changed or an extra is missing. The stamp file
# holds pyproject.toml's hash and the extras installed; an install with more extras
# satisfies a request for fewer (run.sh after test.sh installs nothing), and a
# re-install keeps the extras installed before.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
hash="$(sha256sum pyproject.toml | cut -c1-16)"
have_hash="" have_extras=""
read -r have_hash have_extras 2>/dev/null <.venv/.hanchot-stamp || true
if [ -z "$have_extras" ] && [ "${#have_hash}" -gt 16 ]; then
  # An older stamp: the 16-character hash and the extras written back to back.
  have_extras=${have_hash:16}
  have_hash=${have_hash:0:16}
fi
# Sorted, de-duplicated, comma-joined: the extras wanted (plus those installed).
_extras() { tr ', ' '\n\n' | sed '/^$/d' | sort -u | paste -sd, -; }
want_extras="$(printf '%s' "${1:-}" | _extras)"
all_extras="$(printf '%s,%s' "${have_extras:-}" "$want_extras" | _extras)"
if [ "${have_hash:-}" != "$hash" ] || [ "$all_extras" != "${have_extras:-}" ]; then
  echo "Installing hanchot into .venv (log: .venv/pip.log)..." >&2
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check \
           -e ".${all_extras:+[$all_extras]}"; \
       } >.venv/pip.log 2>&1; then
    tail -n 30 .venv/pip.log >&2
    echo "pip install failed; full log in .venv/pip.log" >&2
    exit 1
  fi
  echo "$hash $all_extras" >.venv/.hanchot-stamp
fi
