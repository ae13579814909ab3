#!/usr/bin/env bash
# Fetches ONNX Runtime's CPU library from the PyPI `onnxruntime` wheel (MIT licence) into
# assets/onnxruntime/ and prints the path to give ORT_DYLIB_PATH (or the elements'
# onnxruntime-library property). Optional: without it every element runs on tract.
#
#   eval "$(scripts/fetch-onnxruntime.sh --export)"   # sets ORT_DYLIB_PATH in this shell
#
# The wheel is pinned by version and SHA-256 for x86_64 and aarch64 (Jetson: JetPack 5's
# glibc 2.31 is new enough for the manylinux_2_28 wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.31.1
case "$(uname -m)" in
    x86_64) plat=manylinux_2_28_x86_64 sum=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f ;;
    aarch64) plat=manylinux_2_28_aarch64 sum=da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3 ;;
    *) echo "no pinned onnxruntime wheel for $(uname -m); the elements will use tract" >&2; exit 1 ;;
esac
dest=assets/onnxruntime
lib="$dest/libonnxruntime.so.$version"
if [ ! -f "$lib" ]; then
    cache=assets/.cache
    mkdir -p "$cache" "$dest"
    whl="$cache/onnxruntime-$version-cp311-cp311-$plat.whl"
    if [ ! -f "$whl" ]; then
        # The library inside does not depend on the Python version; cp311 is just one pin.
        python3 -m pip download --quiet --no-deps --only-binary :all: --platform "$plat" \
            --python-version 3.11 -d "$cache" "onnxruntime==$version" >&2
    fi
    echo "$sum  $whl" | sha256sum -c --quiet - || { echo "checksum mismatch for $whl" >&2; rm -f "$whl"; exit 1; }
    python3 - "$whl" "$dest" "$version" <<'PY'
import os, sys, zipfile
whl, out, version = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for src, dst in ((f"onnxruntime/capi/libonnxruntime.so.{version}", f"libonnxruntime.so.{version}"),
                     ("onnxruntime/LICENSE", "LICENSE"),
                     ("onnxruntime/ThirdPartyNotices.txt", "ThirdPartyNotices.txt")):
        with z.open(src) as f, open(os.path.join(out, dst), "wb") as g:
            g.write(f.read())
PY
fi
path="$(cd "$dest" && pwd)/libonnxruntime.so.$version"
if [ "${1:-}" = --export ]; then echo "export ORT_DYLIB_PATH=$path"; else echo "$path"; fi
