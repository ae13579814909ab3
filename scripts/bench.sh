#!/usr/bin/env bash
# Speed and accuracy figures for the README, all in one run on this machine:
#   1. per-stage cost (face-bench: detection at 640x360 and 1280x720, SFace and emotion
#      per face) on stills from the arcade clip;
#   2. end-to-end frames per second of our gst-launch pipeline and of the OpenCV peer
#      (../shared/tools/peer_opencv.py) on the same videos, one after the other;
#   3. the classroom score (../shared/tools/score_classroom.py) of both, on the plain
#      classroom video and on the --hard one (12 seats, dim, blur, noise, occlusion);
#   4. ours with every face checked on every frame (interval=1 reidentify-interval=1
#      smoothing=1): what tracking and intervals buy;
#   5. ours on the hard classroom with facedetect working-size=1280 (small faces).
# Every figure of ours comes twice, once per CPU backend: tract and ONNX Runtime (the
# library from scripts/fetch-onnxruntime.sh; without it, tract only).
#
#   usage: scripts/bench.sh [SECONDS_OF_CLASSROOM_VIDEO]     (default 30)
# Needs ../shared (or SHARED=path). Python packages for the peer go in .bench-venv/.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=$(cd "${SHARED:-../shared}" && pwd)
seconds=${1:-30}
out=out/bench
mkdir -p "$out"
py=$(scripts/bench-venv.sh)
cargo build --release --workspace --bins --lib 2>&1 | tail -1
backends=tract
if ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh); then
    export ORT_DYLIB_PATH
    backends="tract onnxruntime"
else
    echo "ONNX Runtime not available: tract only" >&2
fi
export GST_PLUGIN_PATH="$PWD/target/release"
export GST_REGISTRY="$PWD/$out/registry.bin"
source scripts/bench-common.sh

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

bench_inputs "$out" "$py" "$shared" "$seconds"
arcade="$shared/data/video/arcade_1080p.mp4"

echo "== per-stage cost (release build; milliseconds)"
for size in 640x360 1280x720; do
    gst-launch-1.0 -q filesrc location="$arcade" ! decodebin ! videoconvert ! videoscale \
        ! "video/x-raw,format=RGB,width=${size%x*},height=${size#*x}" ! videorate ! video/x-raw,framerate=5/1 \
        ! pngenc ! multifilesink location="$out/arcade-$size-%02d.png" max-files=20 >/dev/null
done
gst-launch-1.0 -q filesrc location="$classroom/video.mp4" ! decodebin ! videoconvert \
    ! video/x-raw,format=RGB ! videorate ! video/x-raw,framerate=1/1 \
    ! pngenc ! multifilesink location="$out/classroom-%02d.png" max-files=5 >/dev/null
for b in $backends; do
    ./target/release/face-bench --backend "$b" --iterations 10 "$out/arcade-640x360-08.png" \
        "$out/arcade-1280x720-08.png" "$(ls "$out"/classroom-*.png | tail -1)" | sed 's/ (.*//'
done

echo "== end to end (decode, detect, identify, emotion, draw, encode), same machine, back to back"
: > "$out/fps.txt"
header
for v in arcade classroom classroom-hard; do
    case $v in
        arcade) file=$arcade; gal="" ;;
        classroom) file="$classroom/video.mp4"; gal="$classroom/gallery" ;;
        classroom-hard) file="$hard/video.mp4"; gal="$hard/gallery" ;;
    esac
    peer_line=$("$py" "$shared/tools/peer_opencv.py" "$file" "$out/$v.peer.mp4" --models "$out/peer-models" \
        ${gal:+--gallery-dir "$gal"} --jsonl "$out/$v.peer.jsonl" | tail -1)
    peer_fps=$(echo "$peer_line" | sed -n 's/.*fps=\([0-9.]*\).*/\1/p')
    echo "$v $peer_fps" >> "$out/fps.txt"
    for b in $backends; do
        t=$(ours "$file" "$gal" "$out/$v.$b.jsonl" "$out/$v.$b.mp4" "$b" | cut -d" " -f1)
        n=$(wc -l < "$out/$v.$b.jsonl")   # facejson writes one line per frame
        row "$v" "$b" "$n" "$t" "$peer_fps"
    done
done

peer_fps_of() { awk -v v="$1" '$1 == v { print $2 }' "$out/fps.txt"; }

echo "== ours checking every face on every frame (interval=1 reidentify-interval=1 smoothing=1)"
header
for v in arcade classroom-hard; do
    case $v in
        arcade) file=$arcade; gal="" ;;
        classroom-hard) file="$hard/video.mp4"; gal="$hard/gallery" ;;
    esac
    for b in $backends; do
        t=$(ours "$file" "$gal" "$out/$v.$b.every.jsonl" "$out/$v.$b.every.mp4" "$b" every | cut -d" " -f1)
        row "$v" "$b" "$(wc -l < "$out/$v.$b.every.jsonl")" "$t" "$(peer_fps_of "$v")"
    done
done

echo "== ours with facedetect working-size=1280 (small faces), classroom-hard"
header
for b in $backends; do
    t=$(ours "$hard/video.mp4" "$hard/gallery" "$out/classroom-hard.$b.small.jsonl" "$out/classroom-hard.$b.small.mp4" "$b" small | cut -d" " -f1)
    row classroom-hard "$b" "$(wc -l < "$out/classroom-hard.$b.small.jsonl")" "$t" "$(peer_fps_of classroom-hard)"
done

score() { # truth jsonl
    "$py" "$shared/tools/score_classroom.py" "$1" "$2" | tail -1
}
for c in classroom classroom-hard; do
    dir=$classroom; [ $c = classroom-hard ] && dir=$hard
    echo "== classroom score ($seconds s, $(basename "$dir"))"
    echo "peer: $(score "$dir/truth.json" "$out/$c.peer.jsonl")"
    for b in $backends; do
        echo "ours $b: $(score "$dir/truth.json" "$out/$c.$b.jsonl")"
    done
done
for b in $backends; do
    echo "ours $b, every face every frame, classroom-hard: $(score "$hard/truth.json" "$out/classroom-hard.$b.every.jsonl")"
    echo "ours $b, working-size=1280, classroom-hard: $(score "$hard/truth.json" "$out/classroom-hard.$b.small.jsonl")"
done
