#!/usr/bin/env bash
# Annotates a video file: every face boxed, named from GALLERY and labelled with its
# emotion; writes OUT (H.264 in MP4) and OUT's name with .jsonl (one JSON line per frame).
#
#   usage: annotate-file.sh [--redact WHO] IN OUT.mp4 [GALLERY]
#   IN       anything decodebin reads (mp4, mkv, webm, mov, avi, ...)
#   GALLERY  a folder of <Name>/*.jpg|png, or a gallery file from face-enrol
#   WHO      hide faces in OUT (faceredact): unknown (everyone GALLERY does not name),
#            all, known, or a comma-separated list of gallery names (only those)
#
# Extra element options go in FACEDETECT_OPTS, FACEID_OPTS, FACEEMOTION_OPTS,
# FACEREDACT_OPTS, e.g.
#   FACEDETECT_OPTS="working-size=960 threshold=0.7" annotate-file.sh in.mp4 out.mp4 people/
set -euo pipefail
usage() { sed -n '2,17p' "$0"; exit 2; }
# Without --redact the stage is an identity, so the line stays one line. With it,
# detection runs on every frame (FACEDETECT_OPTS come after and may change that): a face
# entering between two detection frames has no track yet to hide it.
redact=(identity) detect=(facedetect)
if [ "${1:-}" = --redact ]; then
    [ $# -ge 2 ] || usage
    case "$2" in
        unknown|all|known) redact=(faceredact "who=$2") ;;
        *) redact=(faceredact who=listed "hide=$2") ;;
    esac
    detect=(facedetect interval=1)
    shift 2
fi
if [ $# -lt 2 ]; then usage; fi
in=$1
out=$2
gallery=${3:-}
source "$(dirname "$0")/env.sh"
[ -f "$in" ] || { echo "no such input file: $in" >&2; exit 1; }
json="${out%.*}.jsonl"
id_opts=()
[ -n "$gallery" ] && id_opts+=("gallery=$gallery")
[ "${redact[0]}" = identity ] && [ -n "${FACEREDACT_OPTS:-}" ] && { echo "FACEREDACT_OPTS needs --redact" >&2; exit 2; }

# The analysis elements read I420 directly; videoconvert is a no-op for most decoders.
# x264enc wants I420 too, so faceannotate blends into the same frames. Each queue
# starts a thread, so decoding, detection, identification and encoding of successive
# frames overlap on a multi-core CPU.
# shellcheck disable=SC2086
gst-launch-1.0 -e -q \
    filesrc location="$in" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
    ! queue max-size-buffers=4 ! "${detect[@]}" ${FACEDETECT_OPTS:-} \
    ! queue max-size-buffers=4 ! faceid "${id_opts[@]}" ${FACEID_OPTS:-} \
    ! faceemotion ${FACEEMOTION_OPTS:-} \
    ! facejson location="$json" \
    ! "${redact[@]}" ${FACEREDACT_OPTS:-} ! faceannotate \
    ! queue max-size-buffers=4 ! x264enc speed-preset=veryfast ! h264parse ! mp4mux \
    ! filesink location="$out"
echo "wrote $out and $json"
