#!/usr/bin/env bash
# What publishing face events to an MQTT broker costs the pipeline: the bench's
# pipeline (queues between the stages, no drawing or encoding) on the same video, with
# facejson writing a file and with facejson publishing to a mosquitto started here on
# 127.0.0.1, taking turns, RUNS times each: the best frame rate and the median CPU
# time of each, and their ratios.
# Both at the defaults (mode=events, QoS 1) and with a frame line per frame as well
# (mode=both: the heaviest traffic facejson makes).
#
#   usage: scripts/publish-cost.sh [VIDEO] [RUNS]
#   (default: the classroom video scripts/bench.sh makes, out/bench/classroom-30s; 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
video=${1:-out/bench/classroom-30s/video.mp4}
runs=${2:-3}
gallery=$(dirname "$video")/gallery
[ -f "$video" ] || { echo "no video $video: run scripts/bench.sh (or scripts/classroom-score.sh) first" >&2; exit 1; }
[ -d "$gallery" ] || gallery=assets/demo-gallery
command -v mosquitto >/dev/null || { echo "mosquitto is missing: scripts/install-deps.sh installs it" >&2; exit 1; }
cargo build --release -p gst-plugin-face 2>&1 | tail -1
export GST_PLUGIN_PATH="$PWD/target/release"
export GST_REGISTRY="$PWD/out/bench/registry.bin"
if ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh 2>/dev/null); then export ORT_DYLIB_PATH; fi
work=$(mktemp -d)
trap 'kill $broker $consumer 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
broker=$!
sleep 0.5
# A consumer, so the broker delivers what it receives as a deployment's would.
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'faces/#' -q 1 > "$work/received.txt" &
consumer=$!

# "wall-seconds cpu-seconds" of the pipeline with facejson $1 (its options). CPU time
# (user + system) is what the work costs; wall time also carries whatever else the
# machine does meanwhile.
run() {
    local TIMEFORMAT='%R %U %S' t
    # shellcheck disable=SC2086 # $1 is several properties on purpose
    t=$({ time gst-launch-1.0 -q filesrc location="$video" ! decodebin ! videoconvert ! queue ! facedetect \
        ! queue ! faceid gallery="$gallery" ! faceemotion ! facejson $1 ! fakesink sync=false \
        >/dev/null 2>&1; } 2>&1)
    awk '{ print $1, $2 + $3 }' <<<"$t"
}

echo "== $(nproc) cores; $video; backend auto: $([ -n "${ORT_DYLIB_PATH:-}" ] && echo "ONNX Runtime" || echo tract)"
# mode=both first: its file has a line per frame, which counts the frames.
frames=
for mode in both events; do
    file_r=() mqtt_r=()
    for i in $(seq "$runs"); do
        file_r+=("$(run "mode=$mode location=$work/events.jsonl")")
        mqtt_r+=("$(run "mode=$mode source=room location=mqtt://127.0.0.1:$port/faces/{source}/{event} spool=$work/spool")")
    done
    lines=$(wc -l < "$work/events.jsonl")
    [ -n "$frames" ] || frames=$(grep -vc '"event"' "$work/events.jsonl")
    # Best wall time (fps) and median CPU time of each side.
    stats() {
        local wall cpu
        wall=$(printf '%s\n' "$@" | awk '{ print $1 }' | sort -g | head -1)
        cpu=$(printf '%s\n' "$@" | awk '{ print $2 }' | sort -g | awk '{ v[NR] = $1 }
            END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
        awk -v n="$frames" -v w="$wall" -v c="$cpu" 'BEGIN { printf "%.2f %.2f", n / w, c }'
    }
    read -r ffps fcpu <<<"$(stats "${file_r[@]}")"
    read -r mfps mcpu <<<"$(stats "${mqtt_r[@]}")"
    printf 'mode=%-6s %4s lines/run  file: %6.2f fps, %6.1f CPU s   mqtt: %6.2f fps, %6.1f CPU s   mqtt/file: fps %.3f, CPU %.3f\n' \
        "$mode" "$lines" "$ffps" "$fcpu" "$mfps" "$mcpu" \
        "$(awk -v a="$mfps" -v b="$ffps" 'BEGIN { print a / b }')" "$(awk -v a="$mcpu" -v b="$fcpu" 'BEGIN { print a / b }')"
    echo "  runs (wall s, CPU s): file ${file_r[*]/%/;}  mqtt ${mqtt_r[*]/%/;}"
done
echo "messages the consumer received: $(wc -l < "$work/received.txt")"
