#!/usr/bin/env bash
# On a Jetson (or any machine with TensorRT and CUDA): checks that backend=tensorrt gives
# the same faces, names and emotions as backend=tract, and how much faster it is.
#
#   usage: pipelines/jetson-selftest.sh [VIDEO]    (default: the Pexels clip)
#
# Runs every test photo (assets/photos/*.jpg) and the video through
#   facedetect ! faceid gallery=assets/demo-gallery ! faceemotion ! facejson
# with every inference element on backend=tract, then on backend=tensorrt, compares the
# JSON lines and prints frames per second for each (wall clock over the whole file with
# sync=false, minus the start-up time measured on one photo).
#
# Needs: scripts/fetch-assets.sh run once; the plugin built with the TensorRT backend
#   cargo build --release -p gst-plugin-face --features tensorrt
# The first TensorRT run builds and caches the engines (minutes on a Xavier NX) unless
# models/build-engines.sh did already.
#
# Agreement required (any failure exits 1):
#   * the same number of frames;
#   * boxes: >= 98% of the faces of each backend have a face of the other with IoU >= 0.9;
#   * identity: the same name on >= 98% of the matched faces;
#   * emotion: the same top label on >= 95% of the matched faces.
# Why not 100%: the engine runs in fp16 by default, which moves scores by about 1e-3. A
# face whose detector score sits at the threshold, whose similarity sits at faceid's
# threshold or whose two likeliest emotions are near-tied can flip (emotions are the
# closest calls, hence the lower bar), and tracking carries a flip over a few frames. A
# real fault (wrong input layout, scale, output order) breaks every frame, far below
# these bars, and IoU 0.9 is strict for boxes that agree to a pixel or two.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/pipelines/env.sh"
cd "$root"
video=${1:-assets/video/WolfgangLanger_Pexels.mp4}
gallery=assets/demo-gallery
out=out/jetson-selftest
shopt -s nullglob
photos=(assets/photos/*.jpg)
if [ ! -f "$video" ] || [ ! -d "$gallery" ] || [ ${#photos[@]} -eq 0 ]; then
    echo "test assets missing: run scripts/fetch-assets.sh" >&2
    exit 1
fi
# One frame through backend=tensorrt first: it says why when the plugin lacks the feature
# or TensorRT/CUDA are missing (and builds the detector's engine if none is cached).
if ! probe=$(gst-launch-1.0 -q videotestsrc num-buffers=1 ! facedetect backend=tensorrt ! fakesink 2>&1); then
    echo "backend=tensorrt does not start here:" >&2
    echo "$probe" | grep -i "backend" >&2 || echo "$probe" >&2
    echo "(build the plugin with: cargo build --release -p gst-plugin-face --features tensorrt)" >&2
    exit 1
fi
# Jetson decoders may hand out NVMM (GPU) memory, which only nvvidconv reads.
convert=videoconvert
gst-inspect-1.0 nvvidconv >/dev/null 2>&1 && convert=nvvidconv
rm -rf "$out"
mkdir -p "$out/tract" "$out/tensorrt"

analyse() { # backend json source-elements...
    local backend=$1 json=$2
    shift 2
    gst-launch-1.0 -q "$@" ! video/x-raw,format=I420 \
        ! facedetect backend="$backend" \
        ! faceid backend="$backend" gallery="$gallery" \
        ! faceemotion backend="$backend" \
        ! facejson location="$json" \
        ! fakesink sync=false
}

photo() { # backend file json
    analyse "$1" "$3" filesrc location="$2" ! jpegdec ! videoconvert
}

now() { date +%s.%N; }

for backend in tract tensorrt; do
    echo "== $backend"
    # Untimed: loads (or, for tensorrt, may first build) every model once.
    photo "$backend" "${photos[0]}" "$out/warmup-$backend.jsonl"
    for p in "${photos[@]}"; do
        photo "$backend" "$p" "$out/$backend/photo-$(basename "${p%.*}").jsonl"
    done
    # Start-up cost, to take out of the video's time: one photo, everything loaded from cache.
    t0=$(now)
    photo "$backend" "${photos[0]}" "$out/startup-$backend.jsonl"
    t1=$(now)
    analyse "$backend" "$out/$backend/video.jsonl" filesrc location="$video" ! decodebin ! "$convert"
    t2=$(now)
    frames=$(wc -l <"$out/$backend/video.jsonl")
    awk -v b="$backend" -v f="$frames" -v s="$t0" -v m="$t1" -v e="$t2" 'BEGIN {
        total = e - m; start = m - s; run = total - start
        printf "%s: %d frames in %.1f s = %.1f fps (%.1f fps after %.1f s start-up)\n",
            b, f, total, f / total, (run > 0 ? f / run : 0), start }' | tee "$out/fps-$backend.txt"
done

echo "== comparing tensorrt with tract"
python3 - "$out/tract" "$out/tensorrt" <<'EOF'
import json, os, sys

ref_dir, trt_dir = sys.argv[1], sys.argv[2]
MIN_IOU, BOXES, NAMES, EMOTIONS = 0.9, 0.98, 0.98, 0.95


def frames(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


failures, notes = [], []
n_ref = n_trt = matched = 0
names = [0, 0]  # same, compared
emotions = [0, 0]
for file in sorted(os.listdir(ref_dir)):
    ref, trt = frames(os.path.join(ref_dir, file)), frames(os.path.join(trt_dir, file))
    if len(ref) != len(trt):
        failures.append(f"{file}: {len(ref)} frames with tract, {len(trt)} with tensorrt")
        continue
    for r, t in zip(ref, trt):
        rf, tf = r.get("faces", []), t.get("faces", [])
        n_ref += len(rf)
        n_trt += len(tf)
        # Greedy one-to-one matching, best overlaps first.
        pairs = sorted(((iou(a["box"], b["box"]), i, j) for i, a in enumerate(rf) for j, b in enumerate(tf)),
                       reverse=True)
        used_r, used_t = set(), set()
        for o, i, j in pairs:
            if o < MIN_IOU or i in used_r or j in used_t:
                continue
            used_r.add(i)
            used_t.add(j)
            matched += 1
            a, b = rf[i], tf[j]
            if "identity" in a and "identity" in b:
                names[1] += 1
                if a["identity"]["name"] == b["identity"]["name"]:
                    names[0] += 1
                elif len(notes) < 10:
                    notes.append(f"{file} frame {r['frame']}: {a['identity']} vs {b['identity']}")
            if "emotion" in a and "emotion" in b:
                emotions[1] += 1
                if a["emotion"]["label"] == b["emotion"]["label"]:
                    emotions[0] += 1
                elif len(notes) < 10:
                    notes.append(f"{file} frame {r['frame']}: {a['emotion']['label']} "
                                 f"({a['emotion']['confidence']:.2f}) vs {b['emotion']['label']} "
                                 f"({b['emotion']['confidence']:.2f})")


def share(part, whole, what, bar):
    if whole == 0:
        failures.append(f"no {what} to compare")
        return
    ok = part / whole >= bar
    print(f"{what}: {part}/{whole} = {100 * part / whole:.1f}% (need {100 * bar:.0f}%)" + ("" if ok else "  FAIL"))
    if not ok:
        failures.append(what)


print(f"faces: {n_ref} with tract, {n_trt} with tensorrt, {matched} matched at IoU >= {MIN_IOU}")
share(matched, n_ref, "tract faces found by tensorrt", BOXES)
share(matched, n_trt, "tensorrt faces found by tract", BOXES)
share(names[0], names[1], "same identity", NAMES)
share(emotions[0], emotions[1], "same top emotion", EMOTIONS)
for n in notes:
    print("  differs:", n)
if failures:
    print("FAIL:", "; ".join(failures))
    sys.exit(1)
print("PASS")
EOF
cat "$out"/fps-*.txt
