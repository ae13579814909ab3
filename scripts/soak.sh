#!/usr/bin/env bash
# Memory over a long run: face-rtsp on a looped clip with one viewer, its resident
# memory sampled every 10 s, and the slope after the warm-up; or, with `cycles`, the
# whole chain started and stopped N times in one process.
#
#   usage: scripts/soak.sh MINUTES [VIDEO GALLERY]      (default: the demo clip and gallery)
#          scripts/soak.sh cycles N [VIDEO GALLERY]
#
#   BACKEND=tract|onnxruntime   the elements' backend (default: onnxruntime when
#                               scripts/fetch-onnxruntime.sh provides it, else tract)
#   WARMUP=MINUTES              samples before this are left out of the slope (default 5,
#                               or a quarter of a shorter run)
#
# Prints "t_min rss_mb" lines, then one line of key=value figures (slope in MB per hour).
# Needs: cargo build --release -p face-rtsp (and, for cycles, the example, built here).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=soak
if [ "${1:-}" = cycles ]; then mode=cycles; shift; fi
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
amount=$1
video=${2:-assets/video/WolfgangLanger_Pexels.mp4}
gallery=${3:-assets/demo-gallery}
[ -f "$video" ] || { echo "no video $video (scripts/fetch-assets.sh fetches the demo clip)" >&2; exit 2; }
# shellcheck source=scripts/face-rtsp-common.sh
source scripts/face-rtsp-common.sh
choose_backend
opts="backend=$backend"

if [ "$mode" = cycles ]; then
    cargo build --release -q -p gst-plugin-face --example state-cycles
    echo "== $amount state cycles of the whole chain ($backend), $video, $gallery"
    # The example leaves the elements at backend=auto: ONNX Runtime when ORT_DYLIB_PATH
    # is set, tract otherwise.
    if [ "$backend" = tract ]; then unset ORT_DYLIB_PATH; fi
    exec target/release/examples/state-cycles "$amount" "$video" "$gallery"
fi

bin=target/release/face-rtsp
[ -x "$bin" ] || { echo "$bin is not built: cargo build --release -p face-rtsp" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
"$bin" --address 127.0.0.1 --port 0 --input "$video" --loop --gallery "$gallery" --stats 60 \
    --detect-opts "$opts" --id-opts "$opts" --emotion-opts "$opts" >"$tmp/out" 2>"$tmp/err" &
server=$!
pids+=("$server")
url=$(serving_url "$tmp/out" "$server") || { echo "face-rtsp did not start" >&2; cat "$tmp/err" >&2; exit 1; }
gst-launch-1.0 -q rtspsrc location="$url" latency=100 ! decodebin ! fakesink sync=false >/dev/null 2>&1 &
pids+=("$!")
echo "== $amount min: face-rtsp ($backend) on $video looped, one viewer at $url"
samples=$((amount * 6))
start=$(date +%s)
for _ in $(seq "$samples"); do
    sleep 10
    kill -0 "$server" 2>/dev/null || { echo "face-rtsp exited" >&2; cat "$tmp/err" >&2; exit 1; }
    rss=$(awk '/^VmRSS:/ {print $2 / 1024}' "/proc/$server/status")
    t=$(echo "($(date +%s) - $start) / 60" | bc -l)
    printf '%6.2f %8.1f\n' "$t" "$rss" | tee -a "$tmp/samples"
done
warmup=${WARMUP:-$(( amount >= 20 ? 5 : amount / 4 ))}
grep 'stats:' "$tmp/err" | tail -1 >&2 || true
awk -v w="$warmup" -v b="$backend" -v m="$amount" '
    { t[NR] = $1; r[NR] = $2 }
    $1 >= w { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
    END {
        slope = (n > 1) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60 : 0
        printf "minutes=%d backend=%s warmup_min=%d rss_start_mb=%.1f rss_mean_after_warmup_mb=%.1f rss_end_mb=%.1f slope_mb_per_hour=%.2f\n",
            m, b, w, r[1], (n > 0 ? sy / n : 0), r[NR], slope
    }' "$tmp/samples"
