#!/usr/bin/env bash
# An RTSP (IP) camera in, the same stream with every face boxed, named and labelled out
# on this machine's RTSP server, tuned for the least delay.
#
#   usage: rtsp-camera.sh CAMERA_URL [GALLERY]
#   e.g.   rtsp-camera.sh rtsp://user:pass@192.168.1.20:554/stream1 people/
#
# Settings from the environment (defaults in brackets):
#   PORT [8554]  MOUNT [/faces]  CAMERA_LATENCY [200 ms]  SIZE [camera's, e.g. 1280x720]
#   ENCODER [auto; nvv4l2 on a Jetson]  BITRATE [2000 kbit/s]
#   FACEDETECT_OPTS, FACEID_OPTS, FACEEMOTION_OPTS, FACEANNOTATE_OPTS
#
# Watch it (the client's jitterbuffer is the client's share of the delay; 100 ms is
# plenty on a LAN):
#   gst-launch-1.0 rtspsrc location=rtsp://SERVER:8554/faces latency=100 ! decodebin ! autovideosink
#   ffplay -fflags nobuffer -flags low_delay -rtsp_transport tcp rtsp://SERVER:8554/faces
#
# Jetson (Xavier NX, JetPack 5): the same command; face-rtsp picks nvv4l2h264enc when
# it is installed (nvvidconv ! video/x-raw(memory:NVMM) ! nvv4l2h264enc), or force it
# with ENCODER=nvv4l2. A camera sending 1080p is worth scaling (SIZE=1280x720) before
# the analysis: the detector works at 640 px anyway.
set -euo pipefail
if [ $# -lt 1 ]; then sed -n '2,22p' "$0"; exit 2; fi
url=$1
gallery=${2:-}
case "$url" in rtsp://*|rtsps://*) ;; *) echo "not an rtsp:// URL: $url" >&2; exit 2 ;; esac
# The settings that decide the delay, in the order a frame meets them:
# --rtsp-latency: rtspsrc's jitterbuffer (ms). Every frame from the camera waits this
#   long to put reordered packets back in order; it is the floor of the added delay.
#   face-rtsp also sets drop-on-latency=true, so a packet later than that is dropped
#   rather than letting the delay grow after a network hiccup.
# The leaky queue before the analysis (face-rtsp always inserts it: leaky=downstream,
#   two frames): when inference is slower than the camera, frames are skipped, never
#   queued, so the delay stays bounded.
# x264enc tune=zerolatency speed-preset=ultrafast (or the hardware encoder): no
#   lookahead, no B-frames; a keyframe every 30 frames so late viewers start quickly.
# pipelines/rtsp-restream.sh does the rest (face-rtsp, the ONNX Runtime library, the
# element options from the environment).
RTSP_LATENCY=${CAMERA_LATENCY:-200} exec "$(dirname "$0")/rtsp-restream.sh" "$url" ${gallery:+"$gallery"}
