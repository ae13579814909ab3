#!/usr/bin/env bash
# Jetson (Xavier NX, JetPack 4.6/5.1) CSI camera → face elements → screen.
#
#   usage: jetson-csi.sh [GALLERY] [SENSOR_ID] [WIDTHxHEIGHT]
#
# nvarguscamerasrc delivers NVMM (GPU) memory; nvvidconv copies it into system memory
# as BGRx, which every face element reads directly; after the overlay, nvvidconv takes
# the frame back to NVMM for nv3dsink. The leaky queue keeps the display live when
# inference is slower than the camera.
set -euo pipefail
gallery=${1:-}
sensor=${2:-0}
size=${3:-1280x720}
width=${size%x*}
height=${size#*x}
source "$(dirname "$0")/env.sh"
id_opts=()
[ -n "$gallery" ] && id_opts+=("gallery=$gallery")
gst-launch-1.0 -e \
    nvarguscamerasrc sensor-id="$sensor" \
    ! "video/x-raw(memory:NVMM),width=$width,height=$height,framerate=30/1" \
    ! nvvidconv ! video/x-raw,format=BGRx \
    ! queue max-size-buffers=2 leaky=downstream \
    ! facedetect ! queue max-size-buffers=2 ! faceid "${id_opts[@]}" ! faceemotion ! faceannotate \
    ! nvvidconv ! "video/x-raw(memory:NVMM)" ! nv3dsink sync=false
