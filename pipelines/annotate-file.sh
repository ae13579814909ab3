#!/usr/bin/env bash
# Annotates a video file: every face boxed, named from GALLERY and labelled with its
# emotion; writes OUT (H.264 in MP4) and OUT's name with .jsonl (one JSON line per frame).
#
#   usage: annotate-file.sh IN OUT.mp4 [GALLERY]
#   IN       anything decodebin reads (mp4, mkv, webm, mov, avi, ...)
#   GALLERY  a folder of <Name>/*.jpg|png, or a gallery file from face-enrol
#
# Extra element options go in FACEDETECT_OPTS, FACEID_OPTS, FACEEMOTION_OPTS, e.g.
#   FACEDETECT_OPTS="working-size=960 threshold=0.7" annotate-file.sh in.mp4 out.mp4 people/
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,12p' "$0"; exit 2; fi
in=$1
out=$2
gallery=${3:-}
source "$(dirname "$0")/env.sh"
[ -f "$in" ] || { echo "no such input file: $in" >&2; exit 1; }
json="${out%.*}.jsonl"
id_opts=()
[ -n "$gallery" ] && id_opts+=("gallery=$gallery")

# The analysis elements read I420 directly; videoconvert is a no-op for most decoders.
# x264enc wants I420 too, so faceannotate blends into the same frames. Each queue
# starts a thread, so decoding, detection, identification and encoding of successive
# frames overlap on a multi-core CPU.
# shellcheck disable=SC2086
gst-launch-1.0 -e -q \
    filesrc location="$in" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
    ! queue max-size-buffers=4 ! facedetect ${FACEDETECT_OPTS:-} \
    ! queue max-size-buffers=4 ! faceid "${id_opts[@]}" ${FACEID_OPTS:-} \
    ! faceemotion ${FACEEMOTION_OPTS:-} \
    ! facejson location="$json" \
    ! faceannotate \
    ! queue max-size-buffers=4 ! x264enc speed-preset=veryfast ! h264parse ! mp4mux \
    ! filesink location="$out"
echo "wrote $out and $json"
