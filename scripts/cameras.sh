#!/usr/bin/env bash
# Several cameras in one face-rtsp against the same cameras in separate processes:
# resident memory and analysed frames per second, each with one viewer per camera.
#
#   usage: scripts/cameras.sh [CAMERAS] [SECONDS] [VIDEO GALLERY]
#          (default 4 cameras, 60 s measured after a 30 s warm-up, the demo clip and gallery)
#
#   BACKEND=tract|onnxruntime   the elements' backend (default: onnxruntime when
#                               scripts/fetch-onnxruntime.sh provides it, else tract)
#
# Every camera is face-rtsp-camera serving VIDEO (looped, real time) on 127.0.0.1, one
# stand-in process per camera. The figures come from face-rtsp's own --stats line
# (frames analysed per camera) and /proc (RSS). Needs: cargo build --release -p face-rtsp
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4}
seconds=${2:-60}
video=${3:-assets/video/WolfgangLanger_Pexels.mp4}
gallery=${4:-assets/demo-gallery}
warmup=30
# shellcheck source=scripts/face-rtsp-common.sh
source scripts/face-rtsp-common.sh
choose_backend
opts="backend=$backend"
bin=target/release
for b in face-rtsp face-rtsp-camera; do
    [ -x "$bin/$b" ] || { echo "$bin/$b is not built: cargo build --release -p face-rtsp" >&2; exit 1; }
done
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

url_of() { serving_url "$1" || { echo "no server in $1" >&2; exit 1; }; }

cams=()
for i in $(seq "$n"); do
    "$bin/face-rtsp-camera" "$video" --port 0 --path "/cam$i" >"$tmp/cam$i.out" 2>/dev/null &
    pids+=("$!")
    cams+=("$(url_of "$tmp/cam$i.out")")
done

# run NAME ARGS...: one face-rtsp, a viewer per mount; after the warm-up and the
# measured seconds prints "RSS_MB FPS..." (FPS analysed per camera, from --stats).
run() {
    local name=$1; shift
    "$bin/face-rtsp" --address 127.0.0.1 --port 0 --gallery "$gallery" --stats "$seconds" \
        --detect-opts "$opts" --id-opts "$opts" --emotion-opts "$opts" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    local pid=$!
    pids+=("$pid")
    for url in $(url_of "$tmp/$name.out"); do
        gst-launch-1.0 -q rtspsrc location="$url" latency=100 ! decodebin ! fakesink sync=false >/dev/null 2>&1 &
        pids+=("$!")
    done
    echo "$pid"
}

echo "== $n cameras ($backend, $video), ${seconds} s after a ${warmup} s warm-up"
args=()
for i in $(seq "$n"); do args+=(--input "cam$i=${cams[$((i - 1))]}"); done
one=$(run together "${args[@]}")
sleep $((warmup + seconds + 5))
rss_one=$(awk '/^VmRSS:/ {print $2 / 1024}' "/proc/$one/status")
line_one=$(grep 'stats:' "$tmp/together.err" | tail -1)
kill "$one"

sep=()
for i in $(seq "$n"); do sep+=("$(run "alone$i" --input "${cams[$((i - 1))]}")"); done
sleep $((warmup + seconds + 5))
rss_sep=0
for i in $(seq "$n"); do
    pid=${sep[$((i - 1))]}
    rss_sep=$(echo "$rss_sep + $(awk '/^VmRSS:/ {print $2 / 1024}' "/proc/$pid/status")" | bc -l)
done
lines_sep=$(for i in $(seq "$n"); do grep 'stats:' "$tmp/alone$i.err" | tail -1; done)
for p in "${sep[@]}"; do kill "$p"; done

# One camera alone, for the memory ratio.
single=$(run single --input "${cams[0]}")
sleep $((warmup + 5))
rss_single=$(awk '/^VmRSS:/ {print $2 / 1024}' "/proc/$single/status")
kill "$single"

printf '\n%-34s %10s %s\n' "case" "RSS MB" "analysed fps per camera (total)"
together=$(echo "$line_one" | grep -o 'cam[0-9]* in [0-9.]* fps, analysed [0-9.]* fps' | awk '{print $6}')
printf '%-34s %10.0f %s (%s)\n' "$n cameras in one face-rtsp" "$rss_one" "$(echo $together)" \
    "$(echo "$together" | paste -sd+ | bc)"
alone=$(echo "$lines_sep" | grep -o 'faces in [0-9.]* fps, analysed [0-9.]* fps' | awk '{print $6}')
printf '%-34s %10.0f %s (%s)\n' "$n separate face-rtsp processes" "$rss_sep" "$(echo $alone)" \
    "$(echo "$alone" | paste -sd+ | bc)"
printf '%-34s %10.0f\n' "1 camera alone" "$rss_single"
echo "memory: one process with $n cameras = $(echo "scale=2; $rss_one / $rss_single" | bc)x one camera's; separate processes = $(echo "scale=2; $rss_sep / $rss_single" | bc)x"
