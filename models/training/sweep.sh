#!/usr/bin/env bash
# Trains several widths of the emotion network side by side on one GPU, each for as
# many epochs as fit in MINUTES (train_emotion.py --budget-minutes), and leaves each
# run's weights, training log and output in OUTDIR/wWIDTH-sSEED.tar:
#   models/training/sweep.sh PACK OUTDIR MINUTES WIDTH:SEED [WIDTH:SEED...]
# PACK is the file `train_emotion.py --data ../shared/data/fer2013 --write-pack PACK`
# makes, for a machine that cannot see ../shared/data. The networks are small enough
# that one GPU trains three at once at nearly the speed of one (each run is bound by
# kernel launches, not arithmetic). The weights are exported to ONNX afterwards with
# `train_emotion.py --export-from`, so the ONNX comes from the same exporter as before.
# PYTHON picks the interpreter (default python3, which needs torch and numpy).
set -uo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PACK OUTDIR MINUTES WIDTH:SEED [WIDTH:SEED...]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
pack="$1" out="$2" minutes="$3"
shift 3
mkdir -p "$out"
work="$(mktemp -d)"
# A run that the budget check fails to stop is killed two minutes after its budget;
# its best weights so far are on disk by then (train_emotion.py saves them as they improve).
limit="$(awk -v m="$minutes" 'BEGIN { print int(m * 60 + 120) }')"
names=() pids=()
for cfg in "$@"; do
  width="${cfg%%:*}" seed="${cfg##*:}"
  name="w$width-s$seed"
  names+=("$name")
  mkdir -p "$work/$name"
  PYTHONUNBUFFERED=1 timeout "$limit" "$py" "$here/train_emotion.py" --data "$pack" \
    --out "$work/$name/emotion-fer48.onnx" --no-export --budget-minutes "$minutes" \
    --epochs 400 --width "$width" --seed "$seed" --threads 2 >"$work/$name/train.log" 2>&1 &
  pids+=($!)
done
status=0
for k in "${!names[@]}"; do
  name="${names[$k]}"
  wait "${pids[$k]}"
  rc=$?
  [ $rc -eq 0 ] || status=1
  echo "== $name: exit $rc$([ $rc -eq 124 ] && echo ' (killed at the time limit)'), $(grep -c '"epoch"' "$work/$name/train.log") epochs"
  grep -E '^(budget|stopping|best epoch)|Error' "$work/$name/train.log"
  tar -C "$work" -cf "$out/$name.tar" "$name"
done
rm -rf "$work"
exit $status
