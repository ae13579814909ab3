#!/usr/bin/env bash
# Live webcam: faces boxed, named and labelled in a window.
#
#   usage: webcam.sh [GALLERY] [DEVICE]      (DEVICE defaults to /dev/video0)
#
# A leaky queue before the analysis drops frames rather than let latency grow when
# the CPU cannot keep up with the camera.
set -euo pipefail
gallery=${1:-}
device=${2:-/dev/video0}
source "$(dirname "$0")/env.sh"
[ -e "$device" ] || { echo "no camera at $device" >&2; exit 1; }
id_opts=()
[ -n "$gallery" ] && id_opts+=("gallery=$gallery")
gst-launch-1.0 -e \
    v4l2src device="$device" ! videoconvert ! video/x-raw,format=I420 \
    ! queue max-size-buffers=2 leaky=downstream \
    ! facedetect ! queue max-size-buffers=2 ! faceid "${id_opts[@]}" ! faceemotion ! faceannotate \
    ! videoconvert ! autovideosink sync=false
