#!/usr/bin/env bash
# Creates .venv (if missing) and installs crescendo with its test tools into it.
# torch is installed first and pinned: 2.13.0 is the CPU build; any looser range pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[dev]'
# bytecode for the editable source: where PYTHONDONTWRITEBYTECODE is set (containers, CI) Python would
# otherwise compile every crescendo module again at each `cr` start (~0.2 s)
.venv/bin/python -m compileall -q src >/dev/null
