#!/usr/bin/env python3
"""Static int8 (QDQ) variants of the bundled fp32 models, calibrated on public data.

For each model it feeds a fixed calibration set through the model, prepared exactly as
the Rust engine prepares its inputs, records each activation's range, and writes a QDQ
model (int8 per-channel weights, uint8 per-tensor activations: the pairing ONNX
Runtime's x86 int8 kernels run fastest, with VNNI) beside the fp32 file:

  yunet.int8.onnx          WIDER FACE images, longest side scaled to 640, padded to /32
                           (facedetect's default working size), planar BGR 0..255
  sface.int8.onnx          LFW faces found by YuNet and aligned to the 112x112 ArcFace
                           template from their five landmarks, planar RGB 0..255
  emotion-fer48.int8.onnx  FER2013 training faces, 48x48 grey scaled to -1..1

It also writes, for the TensorRT int8 builds (models/build-engines.sh --int8), one
calibration cache per fp32 model (`<model>.int8.calib`) in TensorRT's text format:
every tensor's largest absolute value over the same calibration set, as the scale
TensorRT reads (amax / 127, a big-endian float32 in hex).

The calibration sets are drawn from ../shared/data by a fixed rule (sorted file names,
every k-th), so rerunning gives the same files with the same packages
(models/convert/requirements-int8.txt). SFace's fp16-stored weights are turned back into
fp32 initializers first, so that they are quantised as weights.

Usage:  models/convert/run-int8.sh [--data ../shared/data] [--count N]
"""

import argparse
import json
import platform
import struct
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

from common import log, sha256

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent

# Same as src/align.rs TEMPLATE (right eye, left eye, nose, right and left mouth corner).
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
TRT_CACHE_HEADER = "TRT-8502-EntropyCalibration2"


def every_kth(paths, count):
    paths = sorted(paths)
    if not paths:
        raise SystemExit("no calibration images found")
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def yunet_input(bgr, working=640):
    """facedetect's input: longest side to `working`, zero padding to a multiple of 32."""
    h, w = bgr.shape[:2]
    s = working / max(h, w)
    sw, sh = max(1, round(w * s)), max(1, round(h * s))
    img = cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_LINEAR)
    pw, ph = -(-sw // 32) * 32, -(-sh // 32) * 32
    out = np.zeros((ph, pw, 3), np.float32)
    out[:sh, :sw] = img
    return out.transpose(2, 0, 1)[None]


def yunet_set(data, count):
    images = every_kth((data / "wider" / "images").glob("*/*.jpg"), count)
    return [{"input": yunet_input(cv2.imread(str(p)))} for p in images], [str(p.relative_to(data)) for p in images]


def aligned_faces(data, count):
    """LFW faces as faceid feeds them to SFace: YuNet's landmarks, similarity transform."""
    det = cv2.FaceDetectorYN.create(str(MODELS / "yunet.onnx"), "", (250, 250), 0.6, 0.3, 5000)
    people = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())
    faces, names = [], []
    for person in every_kth(people, count):
        photo = sorted(person.glob("*.jpg"))[0]
        bgr = cv2.imread(str(photo))
        det.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, found = det.detect(bgr)
        if found is None or len(found) == 0:
            continue
        # The face nearest the centre: LFW centres the named person.
        cx, cy = bgr.shape[1] / 2, bgr.shape[0] / 2
        f = min(found, key=lambda r: (r[0] + r[2] / 2 - cx) ** 2 + (r[1] + r[3] / 2 - cy) ** 2)
        marks = f[4:14].reshape(5, 2).astype(np.float32)
        m, _ = cv2.estimateAffinePartial2D(marks, TEMPLATE, method=cv2.LMEDS)
        if m is None:
            continue
        face = cv2.warpAffine(bgr, m, (112, 112), flags=cv2.INTER_LINEAR)
        rgb = face[:, :, ::-1].astype(np.float32)
        faces.append(rgb.transpose(2, 0, 1)[None])
        names.append(str(photo.relative_to(data)))
    return faces, names


def sface_set(data, count):
    """Half the faces as they are, half as a dim classroom camera shows them (darker,
    blurred, noisy, seeded): ranges fitted to clean photos alone clip what such faces
    need, and move their embeddings most."""
    faces, names = aligned_faces(data, count)
    rng = np.random.default_rng(1)
    half = len(faces) // 2
    feeds = [{"data": f} for f in faces[:half]]
    for f in faces[:half]:
        x = f[0].transpose(1, 2, 0)
        d = cv2.GaussianBlur(x, (5, 5), 1.2) * rng.uniform(0.35, 0.8) + rng.normal(0, 5, x.shape)
        feeds.append({"data": np.clip(d, 0, 255).astype(np.float32).transpose(2, 0, 1)[None]})
    return feeds, names[:half] + [n + " (degraded)" for n in names[:half]]


def emotion_set(data, count):
    classes = sorted(p for p in (data / "fer2013" / "train").iterdir() if p.is_dir())
    per = max(1, count // len(classes))
    feeds, names = [], []
    for c in classes:
        for p in every_kth(c.glob("*.jpg"), per):
            g = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            g = cv2.resize(g, (48, 48), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            feeds.append({"face": ((g / 255.0 - 0.5) * 2.0)[None, None]})
            names.append(str(p.relative_to(data)))
    return feeds, names


class Feeds(CalibrationDataReader):
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def fp32_weights(src, dst):
    """Folds Cast(fp16 initializer -> float) into a float initializer (SFace)."""
    m = onnx.load(str(src))
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "Cast" and node.input[0] in inits and \
                inits[node.input[0]].data_type == onnx.TensorProto.FLOAT16:
            arr = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
            m.graph.initializer.append(numpy_helper.from_array(arr, node.output[0]))
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    used = {i for n in m.graph.node for i in n.input}
    alive = [t for t in m.graph.initializer if t.name in used or t.name in {o.name for o in m.graph.output}]
    del m.graph.initializer[:]
    m.graph.initializer.extend(alive)
    onnx.save(m, str(dst))


def split_prelu(src, dst):
    """PRelu(x, a) as Relu(x) + a * Min(x, 0): ONNX Runtime's PRelu kernel broadcasts a
    per-channel slope element by element and takes half of SFace's time; the three
    plain ops it becomes run vectorised, and quantise (QLinearMul, QLinearAdd)."""
    m = onnx.load(str(src))
    g = m.graph
    g.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), "prelu_zero"))
    nodes = []
    for n in g.node:
        if n.op_type != "PRelu":
            nodes.append(n)
            continue
        x, a = n.input
        y = n.output[0]
        nodes += [onnx.helper.make_node("Relu", [x], [y + "_pos"]),
                  onnx.helper.make_node("Min", [x, "prelu_zero"], [y + "_min"]),
                  onnx.helper.make_node("Mul", [y + "_min", a], [y + "_neg"]),
                  onnx.helper.make_node("Add", [y + "_pos", y + "_neg"], [y])]
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(m, str(dst))


def per_call_ms(path, feed, runs=30):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for _ in range(3):
        sess.run(None, feed)
    t0 = time.perf_counter()
    for _ in range(runs):
        sess.run(None, feed)
    return (time.perf_counter() - t0) / runs * 1000


def activation_ranges(model_path, feeds):
    """Largest |value| of every float tensor the graph computes, over the feeds."""
    m = onnx.load(str(model_path))
    inits = {t.name for t in m.graph.initializer}
    names = [o for n in m.graph.node for o in n.output if o and o not in inits]
    inputs = [i.name for i in m.graph.input if i.name not in inits]
    del m.graph.output[:]
    for name in dict.fromkeys(inputs + names):
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    amax = {}
    for feed in feeds:
        for name, value in zip(outs, sess.run(outs, feed)):
            if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.size:
                amax[name] = max(amax.get(name, 0.0), float(np.abs(value).max()))
        for name, value in feed.items():
            amax[name] = max(amax.get(name, 0.0), float(np.abs(value).max()))
    return amax


def write_trt_cache(path, amax):
    lines = [TRT_CACHE_HEADER]
    for name, a in amax.items():
        scale = max(a, 1e-8) / 127.0
        lines.append(f"{name}: {struct.pack('>f', scale).hex()}")
    path.write_text("\n".join(lines) + "\n")


def quantize(name, fp32, feeds, work):
    src = fp32
    if name == "sface":
        src = work / "sface.fp32.onnx"
        fp32_weights(fp32, src)
        split_prelu(src, src)
    pre = work / f"{name}.pre.onnx"
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    out = MODELS / f"{fp32.stem}.int8.onnx"
    # SFace's embeddings are the most sensitive to clipped outliers and to ranges widened
    # by a few of them: the 99.999th percentile keeps similarities closest to fp32's.
    method = CalibrationMethod.Percentile if name == "sface" else CalibrationMethod.MinMax
    quantize_static(str(pre), str(out), Feeds(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=method)
    return out


def mark_auto(int8, fp32, feed):
    """Records in the int8 file whether precision=auto should pick it: only where ONNX
    Runtime ran it at least 10% faster than the fp32 model here (one thread, the
    calibration set's first input). The elements read `gst_face_auto` from the file."""
    speed = {"fp32": per_call_ms(fp32, feed), "int8": per_call_ms(int8, feed)}
    choice = "int8" if speed["int8"] * 1.1 <= speed["fp32"] else "fp32"
    m = onnx.load(str(int8))
    del m.metadata_props[:]
    # The timings themselves go to the report: in the file they would change its bytes
    # on every run.
    try:
        vnni = "with VNNI" if "vnni" in Path("/proc/cpuinfo").read_text() else "without VNNI"
    except OSError:
        vnni = ""
    verdict = "at least 10% faster" if choice == "int8" else "not 10% faster"
    for k, v in {"gst_face_auto": choice,
                 "gst_face_auto_why": f"int8 {verdict} than fp32 on onnxruntime {ort.__version__}, "
                                      f"one thread, {platform.machine()} {vnni}"}.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(int8))
    return {**speed, "auto": choice}


def agreement(fp32, int8, feeds):
    """How far the int8 model's outputs are from the fp32 model's on the calibration set."""
    a = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    worst = 0.0
    cos = []
    for feed in feeds:
        x = a.run(None, feed)
        y = b.run(None, feed)
        for u, v in zip(x, y):
            worst = max(worst, float(np.abs(u - v).max()))
        u, v = x[0].ravel(), y[0].ravel()
        cos.append(float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12)))
    return {"max_abs_diff": worst, "first_output_cosine_min": min(cos),
            "first_output_cosine_mean": float(np.mean(cos))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=MODELS.parent.parent / "shared" / "data")
    ap.add_argument("--count", type=int, default=200, help="calibration inputs per model")
    args = ap.parse_args()
    data = args.data.resolve()
    report = {"onnxruntime": ort.__version__, "onnx": onnx.__version__, "models": {}}
    sets = {
        "yunet": (MODELS / "yunet.onnx", yunet_set, min(args.count, 100)),
        "sface": (MODELS / "sface.onnx", sface_set, args.count),
        "emotion-fer48": (MODELS / "emotion-fer48.onnx", emotion_set, args.count),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (fp32, make, count) in sets.items():
            feeds, used = make(data, count)
            log(f"[{name}] {len(feeds)} calibration inputs from {data}")
            out = quantize(name, fp32, feeds, work)
            cache = MODELS / f"{fp32.name}.int8.calib"
            write_trt_cache(cache, activation_ranges(fp32, feeds))
            agree = agreement(fp32, out, feeds)
            speed = mark_auto(out, fp32, feeds[0])
            log(f"[{name}] {out.name}: {out.stat().st_size} bytes; {cache.name}; {agree}; {speed}")
            report["models"][out.name] = {
                "from": fp32.name, "sha256": sha256(out), "bytes": out.stat().st_size,
                "trt_calibration_cache": cache.name, "trt_calibration_cache_sha256": sha256(cache),
                "calibration_inputs": len(feeds), "calibration_first": used[:3],
                "agreement_on_calibration_set": agree, "one_thread_ms": speed,
            }
    (HERE / "report-int8.json").write_text(json.dumps(report, indent=2) + "\n")
    log("[done] models/convert/report-int8.json")


if __name__ == "__main__":
    main()
