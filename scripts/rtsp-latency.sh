#!/usr/bin/env bash
# Measures what face-rtsp adds between a source frame and the frame a viewer decodes,
# and what happens when the analysis is slower than the source.
#
#   usage: scripts/rtsp-latency.sh [SECONDS]      (default 20 s measured per case)
#
# face-rtsp --stamp writes the wall-clock time (and a frame counter) as a barcode into
# every frame right after the source, before the leaky queue; face-rtsp-probe decodes
# the RTSP stream on the same machine, reads the code back and compares with its own
# clock. So the figures cover the leaky queue, detection, identification, emotion,
# drawing, H.264 encoding, RTP over loopback and decoding; the probe's jitterbuffer is
# set to 0 ms (a real viewer adds its own, e.g. latency=100).
#
# Cases (the demo clip, 640x360 at 23.976 fps, released in real time like a camera):
#   default   the elements' defaults, with the demo gallery
#   slow      scaled to 1920x1080, detector on every frame at full size, identity and
#             emotion on every frame: inference slower than the frame period
#
# Needs: cargo build --release -p face-rtsp
set -euo pipefail
seconds=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
server="$root/target/release/face-rtsp"
probe="$root/target/release/face-rtsp-probe"
for b in "$server" "$probe"; do
    [ -x "$b" ] || { echo "$b is not built: run 'cargo build --release -p face-rtsp'" >&2; exit 1; }
done
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    for lib in "$root"/assets/onnxruntime/libonnxruntime.so.*; do
        [ -f "$lib" ] && export ORT_DYLIB_PATH="$lib"
    done
fi
# shellcheck source=scripts/face-rtsp-common.sh
source "$root/scripts/face-rtsp-common.sh"
clip="$root/assets/video/WolfgangLanger_Pexels.mp4"
gallery="$root/assets/demo-gallery"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# run NAME ARGS...: one server, one probe; appends "NAME key=value..." to $tmp/results.
run() {
    local name=$1; shift
    "$server" --address 127.0.0.1 --port 0 --input "$clip" --loop --stamp --gallery "$gallery" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    local url
    url=$(serving_url "$tmp/$name.out" "$pid") \
        || { echo "$name: face-rtsp did not start" >&2; cat "$tmp/$name.err" >&2; exit 1; }
    echo "== $name: face-rtsp $* ($url)" >&2
    "$probe" "$url" --seconds "$seconds" --warmup 3 --latency 0 | tee "$tmp/$name.probe" >&2
    echo "$name $(tail -1 "$tmp/$name.probe")" >>"$tmp/results"
    kill -TERM "$pid"; wait "$pid" || true; pid=
}

run default
run slow --size 1920x1080 --detect-opts "interval=1 working-size=0" \
    --id-opts "reidentify-interval=1" --emotion-opts "interval=1 smoothing=1"

echo
printf '%-8s %10s %10s %9s %8s %8s %8s %13s\n' case src_fps recv_fps dropped lat_med lat_p95 lat_max first/last_10%
while read -r name rest; do
    declare -A v=()
    for kv in $rest; do v[${kv%%=*}]=${kv#*=}; done
    printf '%-8s %10s %10s %8s%% %8s %8s %8s %13s\n' "$name" "${v[source_fps]}" "${v[received_fps]}" \
        "${v[dropped_pct]}" "${v[latency_median_ms]}" "${v[latency_p95_ms]}" "${v[latency_max_ms]}" \
        "${v[latency_first_ms]}/${v[latency_last_ms]}"
    unset v
done <"$tmp/results"
echo "(latencies in ms; source frame to decoded frame on this machine, probe jitterbuffer 0 ms)"
