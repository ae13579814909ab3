#!/usr/bin/env bash
# Builds the TensorRT engines of the default models with trtexec, on the machine that
# will run them (a Jetson: engines only run with the TensorRT version and GPU they were
# built with). Without this the elements build the same engines themselves on first use
# with backend=tensorrt (minutes each on a Xavier NX); this does it ahead of time and
# shows trtexec's report.
#
#   usage: models/build-engines.sh [--fp32|--int8] [--dla N] [--max-batch N] [--out DIR]
#     --fp32        no fp16 kernels (default: fp16 allowed, as the elements' default)
#     --int8        int8 kernels, fp16 where a layer has no int8 one: precision=int8 in
#                   the elements. The ranges come from the calibration caches beside the
#                   models (NAME.onnx.int8.calib, made with the int8 models by
#                   models/convert/run-int8.sh from the same calibration images), so no
#                   calibration runs here. TensorRT 11 has no such int8: there the QDQ
#                   models (NAME.int8.onnx) are built as they are.
#     --dla N       place layers on DLA core N (Xavier: 0 or 1), GPU for the rest
#     --max-batch N largest batch of faces per run (default 16, the elements' default)
#     --out DIR     where to write (default: this folder, where the elements look first;
#                   give the elements' TensorRT cache folder if you set one)
#
# Engines get the file names the TensorRT backend itself gives the engines it caches
# (src/backend/tensorrt/cache.rs), e.g. sface.onnx_b16_gpu0_fp16_trt8.5.2_xavier.engine,
# so the elements pick them up with no setting. Any engine file can also be passed as is
# to an element's engine property.
#
# The shapes are the ones the elements use and the backend's own builds allow
# (src/backend/tensorrt/profile.rs):
#   yunet.onnx                [1,3,H,W], H and W from 32 to 1920, tuned for 640: facedetect
#                             scales the frame's longest side to working-size (640) and
#                             pads both sides to a multiple of 32, e.g. 640x384 for 16:9
#   sface.onnx                [N,3,112,112], N from 1 to max-batch, tuned for half of it
#   emotion-fer48.onnx        [N,1,48,48], same batch range (faceemotion's default)
#   emotion-minixception.onnx [N,1,64,64], same batch range (the baseline, model=...)
# With --dla: TensorRT 8.5's DLA only runs layers of static shape, so with these ranges
# most layers fall back to the GPU; trtexec --verbose lists where each layer runs.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")"
precision=fp16
dla=
max_batch=16
out=.
while [ $# -gt 0 ]; do
    case $1 in
        --fp32) precision=fp32 ;;
        --int8) precision=int8 ;;
        --dla) dla=$2; shift ;;
        --max-batch) max_batch=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) sed -n '2,35p' "$self"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $max_batch =~ ^[1-9][0-9]*$ ]] || { echo "--max-batch wants a positive number" >&2; exit 2; }
[ -z "$dla" ] || [[ $dla =~ ^[0-9]+$ ]] || { echo "--dla wants a core number" >&2; exit 2; }

trtexec=${TRTEXEC:-$(command -v trtexec || true)}
[ -n "$trtexec" ] || trtexec=/usr/src/tensorrt/bin/trtexec   # where JetPack puts it
[ -x "$trtexec" ] || { echo "trtexec not found: install TensorRT (JetPack: nvidia-tensorrt) or set TRTEXEC" >&2; exit 1; }

# TensorRT version and GPU name, read the way the backend reads them (getInferLibVersion,
# cuDeviceGetName), so the file names match what it looks for.
read -r trt_version gpu trt_number < <(python3 - <<'EOF'
import ctypes, re, sys
lib = None
for name in ("libnvinfer.so.8", "libnvinfer.so.10", "libnvinfer.so.11", "libnvinfer.so"):
    try:
        lib = ctypes.CDLL(name)
        break
    except OSError:
        pass
if lib is None:
    sys.exit("libnvinfer not found: install TensorRT")
v = lib.getInferLibVersion()
major, minor, patch = (v // 10000, v // 100 % 100, v % 100) if v >= 10000 else (v // 1000, v // 100 % 10, v % 100)
cuda = ctypes.CDLL("libcuda.so.1")
dev = ctypes.c_int()
buf = ctypes.create_string_buffer(256)
if cuda.cuInit(0) or cuda.cuDeviceGet(ctypes.byref(dev), 0) or cuda.cuDeviceGetName(buf, 256, dev):
    sys.exit("CUDA device 0 not usable")
# Same as cache.rs sanitise(): lower case, runs of other characters -> one '-', at most 48.
name = re.sub(r"[^a-z0-9]+", "-", buf.value.decode(errors="replace").lower()).strip("-")[:48] or "unknown-gpu"
print(f"{major}.{minor}.{patch} {name} {v}")
EOF
)
[ -n "${gpu:-}" ] || { echo "could not read the TensorRT version and GPU name (see above)" >&2; exit 1; }
device=gpu0
dla_args=()
if [ -n "$dla" ]; then
    device=dla$dla
    dla_args=(--useDLACore="$dla" --allowGPUFallback)
fi
precision_args=()
[ "$precision" = fp16 ] && precision_args=(--fp16)
[ "$precision" = int8 ] && precision_args=(--int8 --fp16)
trt_major=${trt_version%%.*}
# trtexec 8.4+ calls it --skipInference; older ones --buildOnly.
build_only=--skipInference
"$trtexec" --help 2>&1 | grep -q -- --skipInference || build_only=--buildOnly
half=$(( (max_batch + 1) / 2 ))
mkdir -p "$out"
echo "TensorRT $trt_version on $gpu: $precision, $device, batches up to $max_batch -> $out"

build() { # model input min opt max
    local model=$1 input=$2 calib=()
    if [ "$precision" = int8 ]; then
        if [ "$trt_major" -ge 11 ]; then
            model=${model%.onnx}.int8.onnx
            precision_args=()
        else
            [ -f "$model.int8.calib" ] || { echo "no $model.int8.calib: run models/convert/run-int8.sh" >&2; exit 1; }
            # TensorRT reads a cache only under its own version's header; the ranges are
            # the same whichever TensorRT reads them.
            tmp_calib=$(mktemp)
            { echo "TRT-$trt_number-EntropyCalibration2"; tail -n +2 "$model.int8.calib"; } > "$tmp_calib"
            calib=(--calib="$tmp_calib")
        fi
    fi
    [ -f "$model" ] || { echo "no $model here" >&2; exit 1; }
    local engine="$out/${model}_b${max_batch}_${device}_${precision}_trt${trt_version}_${gpu}.engine"
    local tmp="$engine.tmp.$$"
    echo "== $model -> $engine"
    "$trtexec" --onnx="$model" --saveEngine="$tmp" "$build_only" "${calib[@]}" \
        --minShapes="$input:$3" --optShapes="$input:$4" --maxShapes="$input:$5" \
        "${precision_args[@]}" "${dla_args[@]}" >"$tmp.log" 2>&1 || {
        tail -30 "$tmp.log" >&2
        rm -f "$tmp" "$tmp.log"
        echo "trtexec failed for $model" >&2
        exit 1
    }
    # Renamed only once complete, so a pipeline starting meanwhile never reads half a file.
    mv "$tmp" "$engine"
    rm -f "$tmp.log"
}

build yunet.onnx input 1x3x32x32 1x3x640x640 1x3x1920x1920
build sface.onnx data 1x3x112x112 "${half}x3x112x112" "${max_batch}x3x112x112"
build emotion-fer48.onnx face 1x1x48x48 "${half}x1x48x48" "${max_batch}x1x48x48"
# The baseline emotion model has no int8 variant.
[ "$precision" = int8 ] || build emotion-minixception.onnx input 1x1x64x64 "${half}x1x64x64" "${max_batch}x1x64x64"
rm -f "${tmp_calib:-}"
echo "done: the elements use these with backend=tensorrt (and the same --fp32/--dla/--max-batch settings)"
