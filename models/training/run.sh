#!/usr/bin/env bash
# Trains faceemotion's default model and rebuilds its parity fixture:
#   models/training/run.sh                     # FER2013 from ../shared/data/fer2013
#   FER=/path/to/fer2013 models/training/run.sh
#   VENV=/path/to/venv models/training/run.sh  # use / create another virtualenv
#   models/training/run.sh --epochs 150 --width 32 --seed 1   # one run of your own instead
# By default it repeats the recorded model's two stages (models/MODELS.md): 36 epochs
# from random weights (--epochs 36 --width 24 --seed 1), then a warm restart from those
# weights (--init-from, --epochs 30 --lr 0.05 --seed 2). About 2.2 h on 2 CPU cores; a
# CUDA GPU is used when present (minutes).
# Writes models/emotion-fer48.onnx, its training logs models/emotion-fer48.train.json
# (the stage that made the weights: arguments, per-epoch PublicTest accuracy, best
# epoch, confusion matrix, hours, hardware) and models/emotion-fer48.stage1.train.json,
# and models/fixtures/emotion-fer48.*. The weights (.pt) stay in models/training/.work/.
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
train() { "$venv/bin/python" "$here/train_emotion.py" --data "$fer" "$@"; }
if [ $# -gt 0 ]; then
  train --out "$work/emotion-fer48.onnx" "$@"
else
  train --out "$work/stage1.onnx" --no-export --epochs 36 --width 24 --seed 1
  cp "$work/stage1.train.json" models/emotion-fer48.stage1.train.json
  train --out "$work/emotion-fer48.onnx" --init-from "$work/stage1.pt" --epochs 30 --lr 0.05 --seed 2
fi
cp "$work/emotion-fer48.onnx" models/emotion-fer48.onnx
cp "$work/emotion-fer48.train.json" models/emotion-fer48.train.json
"$venv/bin/python" "$here/make_fixture.py" --checkpoint "$work/emotion-fer48.pt" --onnx models/emotion-fer48.onnx
sha256sum models/emotion-fer48.onnx
