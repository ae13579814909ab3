# Sourced by the pipeline scripts: makes the freshly built plugin visible to GStreamer.
# Uses an installed libgstface.so when GStreamer already finds one; otherwise the
# release build in this checkout (cargo build --release -p gst-plugin-face).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# (Read the whole output: with pipefail, grep -q closing the pipe early would fail it.)
inspect=$(gst-inspect-1.0 facedetect 2>/dev/null || true)
if [[ "$inspect" != *gst-plugin-face* ]]; then
    export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
    if [ ! -f "$root/target/release/libgstface.so" ]; then
        echo "libgstface.so is not built: run 'cargo build --release -p gst-plugin-face' in $root" >&2
        exit 1
    fi
fi
# ONNX Runtime fetched into the checkout (scripts/fetch-onnxruntime.sh): the elements'
# backend=auto uses it when ORT_DYLIB_PATH does not name another.
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    for lib in "$root"/assets/onnxruntime/libonnxruntime.so.*; do
        [ -f "$lib" ] && export ORT_DYLIB_PATH="$lib"
    done
fi
