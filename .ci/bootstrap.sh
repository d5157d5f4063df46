#!/usr/bin/env bash
# Install whatever is missing, and nothing else: Debian packages, a project venv, the project itself.
# Usage: bash .ci/bootstrap.sh run|test      (called by `make start` / `make test`)
#
# torch: an already-importable torch (e.g. a CUDA build on a GPU box) is reused through --system-site-packages
# and pinned via a constraints file so pip never replaces it; otherwise torch==2.13.0 is installed first
# (on the dev/CI machines pip's find-links resolves that to the local CPU wheel instead of GBs of CUDA wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
python="${PYTHON:-python3}"

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if [ "$mode" = "test" ]; then command -v chromium >/dev/null 2>&1 || need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: warning: please install ${need[*]} with your package manager (no root, no sudo)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  if "$python" -c "import torch" >/dev/null 2>&1; then
    echo "setup: reusing the torch already installed for $python"
    "$python" -m venv --system-site-packages .venv
  else
    "$python" -m venv .venv
  fi
fi
py=.venv/bin/python
if ! torch_version="$($py -c 'import torch; print(torch.__version__)' 2>/dev/null)"; then
  echo "setup: installing torch==2.13.0"
  $py -m pip install -q "torch==2.13.0"
  torch_version="$($py -c 'import torch; print(torch.__version__)')"
fi
echo "torch==${torch_version}" > .venv/constraints.txt

stamp=".venv/.installed-${mode}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  extras=""
  if [ "$mode" = "test" ]; then extras="[dev]"; fi
  echo "setup: installing the project${extras} (torch stays ${torch_version})"
  $py -m pip install -q -c .venv/constraints.txt -e ".${extras}"
  touch "$stamp"
fi
