#!/usr/bin/env bash
# Rebuild models/*.onnx and models/fixtures/* from the pinned source packages.
#   models/convert/run.sh                 # conversion + fixtures
#   LFW=/path/to/lfw models/convert/run.sh  # also the SFace agreement test on LFW crops
# Needs python3 (3.11 tested) and ffmpeg on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"
fi
args=()
if [ -n "${LFW:-}" ]; then args+=(--lfw "$LFW"); fi
exec "$venv/bin/python" "$here/convert.py" "${args[@]}" "$@"
