#!/usr/bin/env bash
# Trains faceemotion's default model and rebuilds its parity fixture:
#   models/training/run.sh                     # FER2013 from ../shared/data/fer2013
#   FER=/path/to/fer2013 models/training/run.sh
#   VENV=/path/to/venv models/training/run.sh  # use / create another virtualenv
#   models/training/run.sh --epochs 150 --width 40 --seed 2   # a run of your own instead
# By default it repeats the recorded model's run (models/MODELS.md): 124 epochs of the
# width-32 network, seed 1 (train_emotion.py's defaults). A CUDA GPU is used when torch
# sees one (about 4 minutes on an H200); on 2 CPU cores it takes about 5.6 hours.
# Writes models/emotion-fer48.onnx, its training log models/emotion-fer48.train.json
# (arguments, per-epoch PublicTest accuracy, best epoch, confusion matrix, hours,
# hardware) and models/fixtures/emotion-fer48.*. The weights (.pt) stay in
# models/training/.work/.
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
"$venv/bin/python" "$here/train_emotion.py" --data "$fer" --out "$work/emotion-fer48.onnx" "$@"
cp "$work/emotion-fer48.onnx" models/emotion-fer48.onnx
cp "$work/emotion-fer48.train.json" models/emotion-fer48.train.json
"$venv/bin/python" "$here/make_fixture.py" --checkpoint "$work/emotion-fer48.pt" --onnx models/emotion-fer48.onnx
sha256sum models/emotion-fer48.onnx
