#!/usr/bin/env bash
# Installs what building, running and testing gst-face needs on Debian 12 / Ubuntu:
# GStreamer with its development files and the usual plugin sets (decoders, x264enc,
# mp4mux), gst-rtsp-server (face-rtsp), mosquitto and openssl (the MQTT tests start their own
# broker), SQLite and PostgreSQL (face-attendance; the tests start a throw-away cluster), pkg-config, Python/pip and npm for fetching the test photos, and a Rust
# toolchain (rustup) when cargo is missing. Run as root or with sudo available.
set -euo pipefail
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
pkgs=(
    pkg-config build-essential
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
    libgstrtspserver-1.0-dev gstreamer1.0-rtsp
    python3 curl ca-certificates
    mosquitto mosquitto-clients openssl
    libsqlite3-dev postgresql
)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# pip and npm only fetch the test photos; a machine may have them from elsewhere (a
# nodejs build that conflicts with Debian's npm, for one), so only install when absent.
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo >/dev/null; then
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        source "$HOME/.cargo/env"
    else
        curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        # shellcheck disable=SC1091
        source "$HOME/.cargo/env"
    fi
fi
echo "dependencies ready: $(pkg-config --modversion gstreamer-1.0) GStreamer, $(cargo --version)"
