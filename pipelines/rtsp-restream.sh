#!/usr/bin/env bash
# A file or a camera in, the same video with every face boxed, named and labelled out
# as an RTSP stream, for any number of viewers (one shared pipeline for all of them).
#
#   usage: rtsp-restream.sh INPUT [GALLERY]
#   INPUT    a video file (played in real time; LOOP=1 to repeat it), /dev/videoN, or rtsp://...
#   GALLERY  a folder of <Name>/*.jpg|png, or a gallery file from face-enrol
#
# Settings from the environment (defaults in brackets):
#   PORT [8554]  MOUNT [/faces]  ADDRESS [0.0.0.0]  ENCODER [auto]  BITRATE [2000 kbit/s]
#   LOOP [0]  SIZE [source size, e.g. 1280x720]  RTSP_LATENCY [200 ms, rtsp:// inputs]
#   FACEDETECT_OPTS, FACEID_OPTS, FACEEMOTION_OPTS, FACEANNOTATE_OPTS: prop=value pairs
#   for each element, e.g. FACEDETECT_OPTS="working-size=960 interval=1"
#
# Watch it from another machine (SERVER = this host):
#   gst-launch-1.0 rtspsrc location=rtsp://SERVER:8554/faces latency=100 ! decodebin ! autovideosink
#   ffplay -fflags nobuffer -flags low_delay -rtsp_transport tcp rtsp://SERVER:8554/faces
#
# face-rtsp is built with: cargo build --release -p face-rtsp (it contains the elements:
# no GST_PLUGIN_PATH needed).
set -euo pipefail
if [ $# -lt 1 ]; then sed -n '2,22p' "$0"; exit 2; fi
input=$1
gallery=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/face-rtsp"
[ -x "$bin" ] || { echo "face-rtsp is not built: run 'cargo build --release -p face-rtsp' in $root" >&2; exit 1; }
# ONNX Runtime fetched into the checkout, when present (2-3x faster inference).
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    for lib in "$root"/assets/onnxruntime/libonnxruntime.so.*; do
        [ -f "$lib" ] && export ORT_DYLIB_PATH="$lib"
    done
fi

args=(--input "$input" --port "${PORT:-8554}" --path "${MOUNT:-/faces}" --address "${ADDRESS:-0.0.0.0}"
      --encoder "${ENCODER:-auto}" --bitrate "${BITRATE:-2000}")
[ -n "$gallery" ] && args+=(--gallery "$gallery")
[ -n "${RTSP_LATENCY:-}" ] && args+=(--rtsp-latency "$RTSP_LATENCY")
[ "${LOOP:-0}" = 1 ] && args+=(--loop)
[ -n "${SIZE:-}" ] && args+=(--size "$SIZE")
[ -n "${FACEDETECT_OPTS:-}" ] && args+=(--detect-opts "$FACEDETECT_OPTS")
[ -n "${FACEID_OPTS:-}" ] && args+=(--id-opts "$FACEID_OPTS")
[ -n "${FACEEMOTION_OPTS:-}" ] && args+=(--emotion-opts "$FACEEMOTION_OPTS")
[ -n "${FACEANNOTATE_OPTS:-}" ] && args+=(--annotate-opts "$FACEANNOTATE_OPTS")

# What face-rtsp builds, and why it stays live:
#   INPUT ! decode ! videoconvert ! I420 ! appsink                 (rebuilt when the camera fails)
#   appsrc ! queue leaky=downstream max-size-buffers=2
#     ! facedetect ! faceid ! faceemotion ! faceannotate ! appsink  (runs from start to exit)
#   appsrc ! queue ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30
#     ! rtph264pay                                                  (while anyone watches)
# - A camera that fails is reconnected for ever (1 s, then doubling waits up to 30 s);
#   viewers meanwhile get the last frame under a "no signal" banner at the stream's rate.
# - The leaky queue holds two frames and drops the oldest when the analysis falls
#   behind: a slow CPU skips frames instead of drifting further and further behind.
# - A file is released at its own frame rate (clocksync), as a camera would be.
# - x264enc tune=zerolatency: no lookahead and no B-frames, so a frame leaves the
#   encoder as soon as it went in; a keyframe every 30 frames lets a viewer who joins
#   late start within about a second.
# - On a Jetson, ENCODER=nvv4l2 (auto picks it when present) uses the hardware encoder,
#   with nvvidconv moving each annotated frame into NVMM memory before it.
exec "$bin" "${args[@]}"
