#!/usr/bin/env bash
# Identity accuracy and label flicker of the face chain on labelled classroom videos,
# without the drawing and encoding of scripts/bench.sh (minutes instead of half an hour):
# facedetect ! faceid ! facejson on each video, then ../shared/tools/score_classroom.py
# (identification, stranger rejection, flicker, duplicate boxes and named bystanders).
#
#   usage: scripts/classroom-score.sh [--seed N] [--hard] [--seconds S]
#                                     [-d "facedetect props"] [-i "faceid props"]
#   e.g.   scripts/classroom-score.sh --hard --seed 2 -d "working-size=1280"
#
# Videos are made once by make_classroom_video.py under out/bench/ (the plain and hard
# seed-1 videos are the ones scripts/bench.sh makes). Runs on ONNX Runtime when
# scripts/fetch-onnxruntime.sh can provide it, else on tract (the scores are the same).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
seed=1 hard= seconds=30 det= id=
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed=$2; shift 2 ;;
        --hard) hard=--hard; shift ;;
        --seconds) seconds=$2; shift 2 ;;
        -d) det=$2; shift 2 ;;
        -i) id=$2; shift 2 ;;
        *) echo "unknown argument: $1 (see the usage at the top of $0)" >&2; exit 2 ;;
    esac
done
# shellcheck source=scripts/classroom-video.sh
source scripts/classroom-video.sh
out="$dir/score.jsonl"
start=$(date +%s.%N)
# shellcheck disable=SC2086 # the element properties are meant to split into words
gst-launch-1.0 -q filesrc location="$dir/video.mp4" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
    ! queue max-size-buffers=4 ! facedetect $det ! queue max-size-buffers=4 \
    ! faceid gallery="$dir/gallery" $id ! facejson location="$out" ! fakesink
end=$(date +%s.%N)
echo "$name facedetect [$det] faceid [$id], $(echo "$end - $start" | bc) s:"
python3 "$shared/tools/score_classroom.py" "$dir/truth.json" "$out" | tail -1
