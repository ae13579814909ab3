#!/usr/bin/env python3
"""Check models/*.onnx against models/fixtures/*.json with onnxruntime, using the same
rule the Rust/tract tests are meant to apply:
    |actual - expected| <= abs + rel * |expected|   (elementwise)
plus, where the fixture has "min_cosine", a per-row cosine similarity check."""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS = Path(__file__).resolve().parent.parent
ok = True
for spec_path in sorted((MODELS / "fixtures").glob("*.json")):
    spec = json.loads(spec_path.read_text())
    load = lambda e: np.fromfile(MODELS / "fixtures" / e["file"], "<f4").reshape(e["shape"])
    sess = ort.InferenceSession(str(MODELS / spec["model"]), providers=["CPUExecutionProvider"])
    feeds = {e["name"]: load(e) for e in spec["inputs"]}
    names = [e["name"] for e in spec["outputs"]]
    got = dict(zip(names, sess.run(names, feeds)))
    tol = spec["tolerance"]
    for e in spec["outputs"]:
        exp, act = load(e), got[e["name"]]
        err = np.abs(act - exp)
        bad = int((err > tol["abs"] + tol["rel"] * np.abs(exp)).sum())
        msg = f"{spec['model']:28s} {e['name']:8s} max abs err {err.max():.3g}  violations {bad}"
        if "min_cosine" in spec:
            a = act.reshape(act.shape[0], -1)
            b = exp.reshape(exp.shape[0], -1)
            cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
            msg += f"  min cosine {cos.min():.7f} (>= {spec['min_cosine']})"
            bad += int((cos < spec["min_cosine"]).sum())
        ok &= bad == 0
        print(("ok   " if bad == 0 else "FAIL ") + msg)
sys.exit(0 if ok else 1)
