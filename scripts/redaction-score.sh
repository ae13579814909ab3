#!/usr/bin/env bash
# How often a face that must be hidden still shows: facedetect ! faceid ! faceredact on a
# labelled classroom video, encoded at high quality, then
# ../shared/tools/score_redaction.py (leaks, leak rate, needless hiding of enrolled people).
#
#   usage: scripts/redaction-score.sh [--seed N] [--hard] [--seconds S] [--hide strangers|all]
#                                     [-r "faceredact props"] [-d "facedetect props"]
#   e.g.   scripts/redaction-score.sh --hard --seed 2 --hide all
#
# --hide strangers (the default) runs faceredact who=unknown and scores enrolled people as
# faces that should show; --hide all runs who=all. Videos are made once under out/bench/,
# as by scripts/classroom-score.sh. Runs on ONNX Runtime when scripts/fetch-onnxruntime.sh
# can provide it, else on tract.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
seed=1 hard= seconds=30 hide=strangers redact= det=
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed=$2; shift 2 ;;
        --hard) hard=--hard; shift ;;
        --seconds) seconds=$2; shift 2 ;;
        --hide) hide=$2; shift 2 ;;
        -r) redact=$2; shift 2 ;;
        -d) det=$2; shift 2 ;;
        *) echo "unknown argument: $1 (see the usage at the top of $0)" >&2; exit 2 ;;
    esac
done
case "$hide" in
    strangers) who=unknown ;;
    all) who=all ;;
    *) echo "--hide takes strangers or all, not $hide" >&2; exit 2 ;;
esac
# shellcheck source=scripts/classroom-video.sh
source scripts/classroom-video.sh
out="$dir/redacted-$hide.mp4"
start=$(date +%s.%N)
# Near-lossless encoding: the scorer compares the output's detail with the original's.
# shellcheck disable=SC2086 # the element properties are meant to split into words
gst-launch-1.0 -q filesrc location="$dir/video.mp4" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
    ! queue max-size-buffers=4 ! facedetect $det ! queue max-size-buffers=4 \
    ! faceid gallery="$dir/gallery" ! faceredact who=$who $redact \
    ! x264enc speed-preset=ultrafast pass=quant quantizer=10 ! mp4mux ! filesink location="$out"
end=$(date +%s.%N)
echo "$name faceredact who=$who [$redact], $(echo "$end - $start" | bc) s:"
"$(scripts/bench-venv.sh)" "$shared/tools/score_redaction.py" "$dir/truth.json" "$dir/video.mp4" "$out" --hide "$hide" | tail -1
