#!/bin/sh
# Installs a target's Python packages during its image build, with no package index: every target's
# Dockerfile (rendered from harness/runtime/dockerfile.py) copies the staged wheelhouse, this script and
# <name>/requirements.txt into /tmp/wheelhouse/ and runs it.
set -eu
wheelhouse=/tmp/wheelhouse
# Debian's python refuses system-wide pip installs (PEP 668); the image exists to hold one service.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install --no-index --find-links="$wheelhouse" -r "$wheelhouse/requirements.txt"
rm -rf "$wheelhouse"
