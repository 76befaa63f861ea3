#!/usr/bin/env bash
# Install kimicode into a virtual environment (default: .venv in this checkout).
# Idempotent: run it again to update. Usage: ./install.sh [--test]
#   --test   also install what the test suite needs
#   KIMICODE_VENV=DIR ./install.sh   puts the environment elsewhere
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${KIMICODE_VENV:-$here/.venv}
extras=""
for arg in "$@"; do
  case $arg in
    --test) extras="[test]" ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: kimicode needs Python >= 3.11 (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating virtual environment in $venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here$extras"
echo "kimicode installed in $venv"
echo "next:"
echo "  $venv/bin/kimicode doctor          # check the machine"
echo "  $venv/bin/kimicode pack --stats    # pack this repository"
echo "  export MOONSHOT_API_KEY=...; $venv/bin/kimicode ask \"how is the budget computed?\""
