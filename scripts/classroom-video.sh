# Sourced by the classroom scoring scripts: with $shared, $seed, $hard and $seconds set,
# makes the labelled classroom video once under out/bench/ (make_classroom_video.py, in
# the benchmarks' virtualenv), sets $name and $dir to it, builds the plugin and points
# GStreamer at it, on ONNX Runtime when scripts/fetch-onnxruntime.sh can provide it.
name="classroom${hard:+-hard}-${seconds}s"
[ "$seed" = 1 ] || name="$name-seed$seed"
dir=out/bench/$name
if [ ! -f "$dir/video.mp4" ]; then
    mkdir -p out/bench
    "$(scripts/bench-venv.sh)" "$shared/tools/make_classroom_video.py" "$shared/data/lfw" "$dir" \
        --seconds "$seconds" --seed "$seed" $hard >/dev/null
fi
cargo build --release -p gst-plugin-face 2>&1 | tail -1
if ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh 2>/dev/null); then export ORT_DYLIB_PATH; fi
export GST_PLUGIN_PATH="$PWD/target/release" GST_REGISTRY="$PWD/out/bench/registry.bin"
