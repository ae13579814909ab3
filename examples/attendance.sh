#!/usr/bin/env bash
# Turns a video into an attendance and engagement table: who was there, when, for how
# long, and how they looked. Runs the face chain with facejson mode=events, records the
# events with face-attendance (SQLite, beside the events) and prints its report.
#
#   usage: examples/attendance.sh VIDEO GALLERY [EVENTS.jsonl]
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,6p' "$0"; exit 2; fi
video=$1
gallery=$2
events=${3:-${video%.*}.events.jsonl}
source "$(dirname "$0")/../pipelines/env.sh"
tool="$root/target/release/face-attendance"
[ -x "$tool" ] || { echo "face-attendance is not built: run 'cargo build --release -p face-attendance' in $root" >&2; exit 1; }
[ -f "$video" ] || { echo "no such video: $video" >&2; exit 1; }
gst-launch-1.0 -q filesrc location="$video" ! decodebin ! videoconvert \
    ! facedetect ! faceid gallery="$gallery" ! faceemotion \
    ! facejson mode=events location="$events" ! fakesink
echo "events in $events"
db="${events%.jsonl}.sqlite"
rm -f "$db"
"$tool" ingest --database "$db" "$events" >&2
"$tool" report --database "$db"
