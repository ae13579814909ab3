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
#
#   usage: scripts/bench.sh [SECONDS_OF_CLASSROOM_VIDEO]     (default 30)
# Needs ../shared (or SHARED=path). Python packages for the peer go in .bench-venv/.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=$(cd "${SHARED:-../shared}" && pwd)
seconds=${1:-30}
out=out/bench
mkdir -p "$out"
venv=.bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy==2.4.6 opencv-python-headless==5.0.0.93 onnxruntime==1.32.0 pillow==11.3.0
fi
py="$venv/bin/python"
cargo build --release --workspace --bins --lib 2>&1 | tail -1
export GST_PLUGIN_PATH="$PWD/target/release"
export GST_REGISTRY="$PWD/$out/registry.bin"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# The peer reads the same ONNX files we ship.
mkdir -p "$out/peer-models"
cp models/yunet.onnx models/sface.onnx "$out/peer-models/"
cp models/emotion-minixception.onnx "$out/peer-models/emotion.onnx"

arcade="$shared/data/video/arcade_1080p.mp4"
classroom="$out/classroom-${seconds}s"
if [ ! -f "$classroom/video.mp4" ]; then
    "$py" "$shared/tools/make_classroom_video.py" "$shared/data/lfw" "$classroom" --seconds "$seconds" >/dev/null
fi
hard="$out/classroom-hard-${seconds}s"
if [ ! -f "$hard/video.mp4" ]; then
    "$py" "$shared/tools/make_classroom_video.py" "$shared/data/lfw" "$hard" --seconds "$seconds" --hard >/dev/null
fi

echo "== per-stage cost (release build, tract, 1 thread)"
for size in 640x360 1280x720; do
    gst-launch-1.0 -q filesrc location="$arcade" ! decodebin ! videoconvert ! videoscale \
        ! "video/x-raw,format=RGB,width=${size%x*},height=${size#*x}" ! videorate ! video/x-raw,framerate=5/1 \
        ! pngenc ! multifilesink location="$out/arcade-$size-%02d.png" max-files=20 >/dev/null
done
gst-launch-1.0 -q filesrc location="$classroom/video.mp4" ! decodebin ! videoconvert \
    ! video/x-raw,format=RGB ! videorate ! video/x-raw,framerate=1/1 \
    ! pngenc ! multifilesink location="$out/classroom-%02d.png" max-files=5 >/dev/null
./target/release/face-bench --iterations 10 "$out/arcade-640x360-08.png" "$out/arcade-1280x720-08.png" \
    "$(ls "$out"/classroom-*.png | tail -1)"

ours() { # video gallery jsonl out.mp4 [every|small] -> prints seconds
    local gal=() det=() id=() emo=()
    [ -n "$2" ] && gal=("gallery=$2")
    case "${5:-}" in
        every) det=(interval=1); id=(reidentify-interval=1); emo=(smoothing=1 interval=1) ;;
        small) det=(working-size=1280) ;;
    esac
    gst-launch-1.0 -e filesrc location="$1" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
        ! queue max-size-buffers=4 ! facedetect "${det[@]}" ! queue max-size-buffers=4 \
        ! faceid "${gal[@]}" "${id[@]}" ! faceemotion "${emo[@]}" \
        ! facejson location="$3" ! faceannotate ! queue max-size-buffers=4 \
        ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$4" 2>&1 \
        | sed -n 's/^Execution ended after \([0-9:.]*\).*/\1/p' \
        | awk -F: '{ printf "%.3f\n", $1 * 3600 + $2 * 60 + $3 }'
}

echo "== end to end (decode, detect, identify, emotion, draw, encode), same machine, back to back"
: > "$out/fps.txt"
printf '%-14s %8s %10s %10s %10s %8s\n' video frames ours_s ours_fps peer_fps ratio
for v in arcade classroom classroom-hard; do
    case $v in
        arcade) file=$arcade; gal="" ;;
        classroom) file="$classroom/video.mp4"; gal="$classroom/gallery" ;;
        classroom-hard) file="$hard/video.mp4"; gal="$hard/gallery" ;;
    esac
    t=$(ours "$file" "$gal" "$out/$v.ours.jsonl" "$out/$v.ours.mp4")
    n=$(wc -l < "$out/$v.ours.jsonl")   # facejson writes one line per frame
    peer_line=$("$py" "$shared/tools/peer_opencv.py" "$file" "$out/$v.peer.mp4" --models "$out/peer-models" \
        ${gal:+--gallery-dir "$gal"} --jsonl "$out/$v.peer.jsonl" | tail -1)
    peer_fps=$(echo "$peer_line" | sed -n 's/.*fps=\([0-9.]*\).*/\1/p')
    awk -v v=$v -v n="$n" -v t="$t" -v p="$peer_fps" 'BEGIN { f = n / t; printf "%-14s %8d %10.2f %10.2f %10.2f %7.2fx\n", v, n, t, f, p, f / p }' \
        | tee -a "$out/fps.txt"
done

echo "== ours checking every face on every frame (interval=1 reidentify-interval=1 smoothing=1)"
for v in arcade classroom-hard; do
    case $v in
        arcade) file=$arcade; gal="" ;;
        classroom-hard) file="$hard/video.mp4"; gal="$hard/gallery" ;;
    esac
    t=$(ours "$file" "$gal" "$out/$v.every.jsonl" "$out/$v.every.mp4" every)
    n=$(wc -l < "$out/$v.every.jsonl")
    peer_fps=$(awk -v v=$v '$1 == v { print $5 }' "$out/fps.txt")   # the peer's, from above
    awk -v v=$v -v n="$n" -v t="$t" -v p="$peer_fps" 'BEGIN { f = n / t; printf "%-14s %8d %10.2f %10.2f %10.2f %7.2fx\n", v, n, t, f, p, f / p }'
done

echo "== ours with facedetect working-size=1280 (small faces), classroom-hard"
t=$(ours "$hard/video.mp4" "$hard/gallery" "$out/classroom-hard.small.jsonl" "$out/classroom-hard.small.mp4" small)
n=$(wc -l < "$out/classroom-hard.small.jsonl")
peer_fps=$(awk '$1 == "classroom-hard" { print $5 }' "$out/fps.txt")
awk -v n="$n" -v t="$t" -v p="$peer_fps" 'BEGIN { f = n / t; printf "%-14s %8d %10.2f %10.2f %10.2f %7.2fx\n", "classroom-hard", n, t, f, p, f / p }'

for c in classroom classroom-hard; do
    dir=$classroom; [ $c = classroom-hard ] && dir=$hard
    echo "== classroom score ($seconds s, $(basename "$dir"))"
    for who in ours peer; do
        echo -n "$who: "
        "$py" "$shared/tools/score_classroom.py" "$dir/truth.json" "$out/$c.$who.jsonl" | tail -1
    done
done
echo -n "ours, every face every frame, classroom-hard: "
"$py" "$shared/tools/score_classroom.py" "$hard/truth.json" "$out/classroom-hard.every.jsonl" | tail -1
echo -n "ours, working-size=1280, classroom-hard: "
"$py" "$shared/tools/score_classroom.py" "$hard/truth.json" "$out/classroom-hard.small.jsonl" | tail -1
