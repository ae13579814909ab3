#!/usr/bin/env bash
# Rebuild models/*.int8.onnx and models/*.onnx.int8.calib from the fp32 models and the
# calibration images in ../shared/data (or DATA=path):
#   models/convert/run-int8.sh
# Needs python3 (3.11 tested). Writes models/convert/report-int8.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-$here/.venv-int8}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements-int8.txt"
fi
data="${DATA:-$here/../../../shared/data}"
cd "$here"
exec "$venv/bin/python" "$here/quantize.py" --data "$data" "$@"
