#!/usr/bin/env bash
# Trains faceemotion's default model and rebuilds its parity fixture:
#   models/training/run.sh                     # FER2013 from ../shared/data/fer2013
#   FER=/path/to/fer2013 models/training/run.sh --epochs 36 --width 24 --seed 1
#   VENV=/path/to/venv models/training/run.sh  # use / create another virtualenv
# Writes models/emotion-fer48.onnx, models/emotion-fer48.train.json (the training log:
# arguments, per-epoch PublicTest accuracy, best epoch, confusion matrix, hours, hardware)
# and models/fixtures/emotion-fer48.*. The weights (.pt) stay in models/training/.work/.
# About 1 h on 2 CPU cores (see models/MODELS.md); a CUDA GPU is used when present.
# Needs python3 (3.11 tested) and access to the package registry.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
fer="${FER:-$root/../shared/data/fer2013}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip --disable-pip-version-check -q install -r "$here/requirements.txt"
fi
work="$here/.work"
mkdir -p "$work"
cd "$root"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--epochs 36 --width 24 --seed 1)
"$venv/bin/python" "$here/train_emotion.py" --data "$fer" --out "$work/emotion-fer48.onnx" "${args[@]}"
cp "$work/emotion-fer48.onnx" models/emotion-fer48.onnx
cp "$work/emotion-fer48.train.json" models/emotion-fer48.train.json
"$venv/bin/python" "$here/make_fixture.py" --checkpoint "$work/emotion-fer48.pt" --onnx models/emotion-fer48.onnx
sha256sum models/emotion-fer48.onnx
