#!/usr/bin/env bash
# int8 against fp32 and against the OpenCV peer, and the README's hand-written pipeline
# against the benchmark's, all in one run on this machine:
#   1. per-stage cost (face-bench) on ONNX Runtime, --precision fp32 and int8;
#   2. the hard classroom video end to end: the peer (every model on every frame), ours
#      on ONNX Runtime at the defaults in fp32 and with precision=auto (int8 where it is
#      faster), and every face on every frame with precision=auto; peak RSS of each;
#   3. the classroom score of each, plain and hard videos, fp32 against auto;
#   4. the README's "same by hand" gst-launch line, taken from README.md as it stands,
#      against the benchmark's own pipeline (scripts/bench-common.sh), on tract.
#
#   usage: scripts/bench-int8.sh [SECONDS_OF_CLASSROOM_VIDEO]     (default 30)
# Needs ../shared (or SHARED=path) and the ONNX Runtime library (scripts/fetch-onnxruntime.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=$(cd "${SHARED:-../shared}" && pwd)
seconds=${1:-30}
out=out/bench
mkdir -p "$out"
py=$(scripts/bench-venv.sh)
cargo build --release --workspace --bins --lib 2>&1 | tail -1
ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh)
export ORT_DYLIB_PATH
export GST_PLUGIN_PATH="$PWD/target/release"
export GST_REGISTRY="$PWD/$out/registry.bin"
source scripts/bench-common.sh
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), VNNI: $(grep -q vnni /proc/cpuinfo && echo yes || echo no)"

bench_inputs "$out" "$py" "$shared" "$seconds"

echo "== per-stage cost, ONNX Runtime (milliseconds)"
gst-launch-1.0 -q filesrc location="$classroom/video.mp4" ! decodebin ! videoconvert \
    ! video/x-raw,format=RGB ! videorate ! video/x-raw,framerate=1/1 \
    ! pngenc ! multifilesink location="$out/classroom-%02d.png" max-files=5 >/dev/null
still=$(ls "$out"/classroom-*.png | tail -1)
for p in fp32 int8; do
    ./target/release/face-bench --backend onnxruntime --precision "$p" --iterations 10 "$still" | sed 's/ (.*//'
done

score() { "$py" "$shared/tools/score_classroom.py" "$1" "$2" | tail -1; }

echo "== end to end, hard classroom ($seconds s), same machine, back to back"
peer_line=$("$py" "$shared/tools/peer_opencv.py" "$hard/video.mp4" "$out/int8.peer.mp4" --models "$out/peer-models" \
    --gallery-dir "$hard/gallery" --jsonl "$out/int8.peer.jsonl" | tail -1)
peer_fps=$(echo "$peer_line" | sed -n 's/.*fps=\([0-9.]*\).*/\1/p')
header
for run in "fp32 -" "auto -" "auto every"; do
    read -r p mode <<<"$run"
    tag="hard.$p.$mode"
    read -r t rss < <(ours "$hard/video.mp4" "$hard/gallery" "$out/int8.$tag.jsonl" "$out/int8.$tag.mp4" onnxruntime "$mode" "$p")
    row "ort-$p-${mode/-/defaults}" "rss=${rss}MiB" "$(wc -l < "$out/int8.$tag.jsonl")" "$t" "$peer_fps"
done

echo "== classroom scores, ONNX Runtime, fp32 against precision=auto"
echo "hard, peer: $(score "$hard/truth.json" "$out/int8.peer.jsonl")"
for p in fp32 auto; do
    echo "hard, $p: $(score "$hard/truth.json" "$out/int8.hard.$p.-.jsonl")"
done
echo "hard, auto, every face every frame: $(score "$hard/truth.json" "$out/int8.hard.auto.every.jsonl")"
for p in fp32 auto; do
    ours "$classroom/video.mp4" "$classroom/gallery" "$out/int8.plain.$p.jsonl" "$out/int8.plain.$p.mp4" onnxruntime - "$p" >/dev/null
    echo "plain, $p: $(score "$classroom/truth.json" "$out/int8.plain.$p.jsonl")"
done

echo "== the README's hand-written line against the benchmark's pipeline, hard classroom, tract"
# The line as README.md has it, with the file names filled in and backend=tract added
# to the three inference elements (the README's line says nothing of the backend).
line=$(awk '/^# The same by hand/ { on = 1; next } on && /^#/ { next } on && /^$/ { exit } on { print }' README.md \
    | sed 's/\\$//' | tr '\n' ' ')
[ -n "$line" ] || { echo "no 'The same by hand' line in README.md" >&2; exit 1; }
line=${line//in.mp4/$hard/video.mp4}
line=${line//people\//$hard/gallery}
line=${line//out.jsonl/$out/int8.readme.jsonl}
line=${line//out.mp4/$out/int8.readme.mp4}
line=$(echo "$line" | sed -E 's/! (facedetect|faceid|faceemotion)( |$)/! \1 backend=tract /g')
echo "README: $line"
header
start=$(date +%s.%N)
bash -c "$line" >/dev/null
end=$(date +%s.%N)
t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
row readme-line tract "$(wc -l < "$out/int8.readme.jsonl")" "$t" "$peer_fps"
read -r t rss < <(ours "$hard/video.mp4" "$hard/gallery" "$out/int8.bench.jsonl" "$out/int8.bench.mp4" tract - fp32)
row bench-line tract "$(wc -l < "$out/int8.bench.jsonl")" "$t" "$peer_fps"
