#!/usr/bin/env bash
# Install what the tests need, then run every test: unit tests, nbval over the
# lessons, the served-app and JupyterLab browser tests, packaging and Binder.
# Usage: bash tools/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# CPU PyTorch first, pinned: a bare `torch` would pull a multi-GB CUDA build.
python -m pip install --quiet --disable-pip-version-check torch==2.13.0
python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# Browser tests drive Debian's Chromium through Playwright (which cannot
# download its own browser here).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium >/dev/null
fi

python -m pytest --nbval -p no:cacheprovider tests lessons "$@"
