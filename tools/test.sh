#!/usr/bin/env bash
# Build a fresh virtual environment, install what the tests need into it, then run
# every test: unit tests, nbval over the lessons, the served-app and JupyterLab
# browser tests, the classroom server (several processes, nginx), packaging and Binder.
#
# Usage: bash tools/test.sh [extra pytest arguments]
#   ATTNVIZ_TEST_VENV  where the environment goes (default: .venv-test in the checkout)
#   PYTHON             the interpreter that builds it (default: python3)
#
# The environment is rebuilt from nothing on every run, so pip installs the newest
# releases that pyproject.toml allows and nothing left on this machine can hide a
# missing install step (an old transformers once kept CI green while a fresh clone
# failed). pip's download cache is kept: it saves time, never changes what resolves.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${ATTNVIZ_TEST_VENV:-.venv-test}"
"${PYTHON:-python3}" -m venv --clear "$venv"
python="$venv/bin/python"
# as if activated: anything the tests start by name comes from this environment
export VIRTUAL_ENV="$(cd "$venv" && pwd)" PATH="$(cd "$venv/bin" && pwd):$PATH"
pip=("$python" -m pip install --quiet --disable-pip-version-check)

# CPU PyTorch first, pinned: a bare `torch` would pull a multi-GB CUDA build.
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e ".[dev]"
echo "tools/test.sh: testing with" $("$python" -m pip list --disable-pip-version-check \
    --format=freeze 2>/dev/null | grep -iE '^(torch|transformers|kernels|panel|bokeh|jupyterlab|nbval|playwright|numpy)==')

# Browser tests drive Debian's Chromium through Playwright (which cannot
# download its own browser here); the several-machines recipe runs Debian's nginx
# in front of two servers (tests/test_nginx_recipe.py).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

"$python" -m pytest --nbval -p no:cacheprovider --durations=30 tests lessons "$@"
