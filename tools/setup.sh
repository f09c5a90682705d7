#!/usr/bin/env bash
# Set up sweep on a fresh machine: a virtualenv in .venv with the package installed.
#   bash tools/setup.sh          runtime only
#   bash tools/setup.sh --test   plus the test extra and the system programs the tests use
#                                (Debian's chromium for the report test, PostgreSQL server binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install --quiet -e '.[test]'
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    echo "installing from Debian's packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
else
  .venv/bin/python -m pip install --quiet -e .
fi
echo "sweep is installed in .venv ($(.venv/bin/python -c 'import sweep; print(sweep.__version__)'))" >&2
