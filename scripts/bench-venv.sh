#!/usr/bin/env bash
# Makes .bench-venv (once) with the pinned Python packages that the benchmark tools in
# ../shared/tools need (the classroom video generator and the OpenCV peer), and prints
# its python. Used by scripts/bench.sh and scripts/classroom-score.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy==2.4.6 opencv-python-headless==5.0.0.93 onnxruntime==1.32.0 pillow==11.3.0 >&2
fi
echo "$PWD/$venv/bin/python"
