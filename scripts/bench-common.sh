# Shared by scripts/bench.sh and scripts/bench-int8.sh (sourced): the peer's models and
# the classroom videos, our pipeline as the benchmarks run it, and the table rows.

bench_inputs() { # out python shared seconds -> sets $classroom and $hard
    # The peer reads the same ONNX files we ship.
    mkdir -p "$1/peer-models"
    cp models/yunet.onnx models/sface.onnx "$1/peer-models/"
    cp models/emotion-minixception.onnx "$1/peer-models/emotion.onnx"
    classroom="$1/classroom-${4}s"
    hard="$1/classroom-hard-${4}s"
    [ -f "$classroom/video.mp4" ] || "$2" "$3/tools/make_classroom_video.py" "$3/data/lfw" "$classroom" --seconds "$4" >/dev/null
    [ -f "$hard/video.mp4" ] || "$2" "$3/tools/make_classroom_video.py" "$3/data/lfw" "$hard" --seconds "$4" --hard >/dev/null
}

ours() { # video gallery jsonl out.mp4 backend [every|small|-] [precision] -> "seconds peak_rss_MiB"
    local gal=() det=("backend=$5") id=("backend=$5") emo=("backend=$5") p=${7:-auto}
    [ -n "$2" ] && gal=("gallery=$2")
    det+=("precision=$p"); id+=("precision=$p"); emo+=("precision=$p")
    case "${6:-}" in
        every) det+=(interval=1); id+=(reidentify-interval=1); emo+=(smoothing=1 interval=1) ;;
        small) det+=(working-size=1280) ;;
    esac
    /usr/bin/time -f "peak_rss_kib=%M" gst-launch-1.0 -e filesrc location="$1" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
        ! queue max-size-buffers=4 ! facedetect "${det[@]}" ! queue max-size-buffers=4 \
        ! faceid "${gal[@]}" "${id[@]}" ! faceemotion "${emo[@]}" \
        ! facejson location="$3" ! faceannotate ! queue max-size-buffers=4 \
        ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$4" 2>&1 \
        | sed -n -e 's/^Execution ended after \([0-9:.]*\).*/t \1/p' -e 's/^peak_rss_kib=\([0-9]*\)/m \1/p' \
        | awk '$1 == "t" { split($2, a, ":"); t = a[1] * 3600 + a[2] * 60 + a[3] } $1 == "m" { m = $2 / 1024 }
               END { printf "%.3f %.0f\n", t, m }'
}

row() { # video backend frames seconds peer_fps
    awk -v v="$1" -v b="$2" -v n="$3" -v t="$4" -v p="$5" \
        'BEGIN { f = n / t; printf "%-14s %-12s %7d %9.2f %9.2f %9.2f %7.2fx\n", v, b, n, t, f, p, f / p }'
}
header() { printf '%-14s %-12s %7s %9s %9s %9s %8s\n' video backend frames ours_s ours_fps peer_fps ratio; }
