#!/usr/bin/env python3
"""Trains faceemotion's expression network on FER2013 and exports it to ONNX.

The network reads what faceemotion gives it: a 48x48 grey face, pixels scaled from
0..255 to -1..1 (`normalise_pixel` in src/emotion.rs). FER2013's images are already
48x48 grey face crops, and faceemotion's crop of a FER image is the image itself, so
training needs no resampling and both sides see the same pixels.

Model selection uses PublicTest only; PrivateTest is not in ../shared/data and is not
touched. The exported graph averages the network's logits over the face and its
mirror image (a flip is one MatMul with a reversal matrix, which every backend runs),
so the flip "test-time augmentation" is part of the model, not of the caller.

Usage (Python 3.11, torch 2.x; see requirements.txt; a CUDA GPU is used when present):
    python3 models/training/train_emotion.py --data ../shared/data/fer2013 \
        --out models/emotion-fer48.onnx --epochs 124 --width 32 --seed 1
(the defaults: the recorded model's run, minutes on a GPU, about 5.6 hours on 2 CPU cores).
For a machine without ../shared/data: --write-pack FILE makes one file of the data,
which --data then takes; sweep.sh trains several widths at once in a fixed time on a
GPU (--budget-minutes), and --export-from turns the chosen weights into the ONNX.
"""

import argparse
import copy
import hashlib
import inspect
import io
import json
import lzma
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

# FER2013's label order; faceemotion's FER_LABELS is the same.
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SIDE = 48


def load_split(folder: Path):
    """All images of one split as uint8 [N, 48, 48] and labels [N], in a fixed order."""
    images, labels = [], []
    for k, name in enumerate(LABELS):
        for f in sorted((folder / name).glob("*.jpg")):
            img = Image.open(f).convert("L")
            if img.size != (SIDE, SIDE):
                raise SystemExit(f"{f}: expected {SIDE}x{SIDE}, got {img.size}")
            images.append(np.asarray(img, dtype=np.uint8))
            labels.append(k)
    if not images:
        raise SystemExit(f"no images under {folder}/<class>/*.jpg")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def load_data(data: Path):
    """(train images, train labels, public_test images, public_test labels), from the
    FER2013 folder or from a pack that --write-pack made of it."""
    if data.is_file():
        with np.load(io.BytesIO(lzma.decompress(data.read_bytes()))) as pack:
            return pack["train_x"], pack["train_y"], pack["test_x"], pack["test_y"]
    return (*load_split(data / "train"), *load_split(data / "public_test"))


def write_pack(data: Path, pack: Path):
    """The decoded FER2013 splits in one xz file (58 MB instead of 32k JPEGs), for a
    training machine that cannot see ../shared/data. The pixels are the ones
    load_split reads, so training on the pack and on the folder is the same."""
    train_x, train_y, test_x, test_y = load_data(data)
    buf = io.BytesIO()
    np.savez(buf, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
    pack.write_bytes(lzma.compress(buf.getvalue(), preset=6))
    print(f"wrote {pack}: train {len(train_x)}, public_test {len(test_x)} images")


def normalise(u8: torch.Tensor) -> torch.Tensor:
    """faceemotion's pixel scaling: 0..255 to -1..1."""
    return (u8.float() / 255.0 - 0.5) * 2.0


def conv_bn(cin: int, cout: int):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ExpressionNet(nn.Module):
    """A VGG-style stack: four stages of two 3x3 convolutions (width w, 2w, 4w, 8w),
    each followed by 2x2 max pooling, then global average pooling and one linear layer.
    Plain 3x3 convolutions are what TensorRT, ONNX Runtime and tract all run fastest."""

    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.width = width
        layers, cin = [], 1
        for mult in (1, 2, 4, 8):
            cout = width * mult
            layers += conv_bn(cin, cout) + conv_bn(cout, cout) + [nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(cin, len(LABELS))

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(x))


class WithMirror(nn.Module):
    """Softmax of the logits averaged over the face and its mirror image."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.register_buffer("reverse", torch.flip(torch.eye(SIDE), dims=[0]))

    def forward(self, x):
        mirrored = torch.matmul(x, self.reverse)
        return F.softmax((self.net(x) + self.net(mirrored)) / 2.0, dim=1)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Batched augmentation of normalised faces [N,1,48,48]: mirror, rotation, scale,
    shift, brightness and contrast, and an erased patch (a hand, hair, glasses)."""
    n, dev = x.shape[0], x.device

    def rand(*shape):
        return torch.rand(*shape, generator=gen, device=dev)

    def uniform(lo, hi):
        return rand(n) * (hi - lo) + lo

    angle = uniform(-15, 15) * np.pi / 180
    scale = uniform(0.85, 1.15)
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    tx, ty = uniform(-0.12, 0.12), uniform(-0.12, 0.12)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform(0.7, 1.3).view(n, 1, 1, 1)
    bright = uniform(-0.2, 0.2).view(n, 1, 1, 1)
    x = (x * contrast + bright).clamp(-1.0, 1.0)
    # Random erasing on half the faces: a patch 8..20 px wide set to one grey level.
    h = torch.randint(8, 21, (n, 1, 1), generator=gen, device=dev)
    w = torch.randint(8, 21, (n, 1, 1), generator=gen, device=dev)
    y0 = (rand(n, 1, 1) * (SIDE - h + 1)).long()
    x0 = (rand(n, 1, 1) * (SIDE - w + 1)).long()
    pos = torch.arange(SIDE, device=dev)
    inside = (
        (pos.view(1, SIDE, 1) >= y0)
        & (pos.view(1, SIDE, 1) < y0 + h)
        & (pos.view(1, 1, SIDE) >= x0)
        & (pos.view(1, 1, SIDE) < x0 + w)
        & (rand(n, 1, 1) < 0.5)
    )
    level = (rand(n, 1, 1) * 2 - 1).expand(n, SIDE, SIDE)
    x = torch.where(inside.unsqueeze(1), level.unsqueeze(1), x)
    return x


@torch.no_grad()
def evaluate(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: str = "cpu"):
    """Accuracy on the face alone, accuracy with the mirror average (what the exported
    model does), and the latter's confusion matrix; one pass of the network per view."""
    net.eval()
    plain, mirrored = [], []
    for i in range(0, len(images), 512):
        x = normalise(images[i : i + 512]).unsqueeze(1).to(device).contiguous(memory_format=torch.channels_last)
        logits = net(x)
        plain.append(logits.argmax(1).cpu())
        mirrored.append(((logits + net(torch.flip(x, dims=[3]))) / 2).argmax(1).cpu())
    plain, mirrored = torch.cat(plain), torch.cat(mirrored)
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for t, p in zip(labels.tolist(), mirrored.tolist()):
        confusion[t, p] += 1
    return float((plain == labels).float().mean()), float((mirrored == labels).float().mean()), confusion


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def export_onnx(net: nn.Module, path: Path):
    """Writes the network, with its mirror average and softmax, as ONNX (opset 13,
    input "face" [N,1,48,48], output "probs" [N,7], the batch axis free)."""
    model = WithMirror(net).eval()
    extra = {}
    # torch 2.9+ exports through dynamo by default, to a newer opset and IR than the
    # elements were tested with; the TorchScript exporter writes the graph they were.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        extra["dynamo"] = False
    torch.onnx.export(
        model,
        torch.zeros(1, 1, SIDE, SIDE),
        str(path),
        input_names=["face"],
        output_names=["probs"],
        dynamic_axes={"face": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=13,
        do_constant_folding=True,
        **extra,
    )


def load_checkpoint(path: Path) -> nn.Module:
    ckpt = torch.load(path, map_location="cpu")
    net = ExpressionNet(ckpt["width"], ckpt["dropout"])
    net.load_state_dict(ckpt["state"])
    return net.eval()


def sync(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_step(net, opt, sched, loss_fn, x_u8, y, gen):
    x = augment(normalise(x_u8).unsqueeze(1), gen).contiguous(memory_format=torch.channels_last)
    loss = loss_fn(net(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    return loss.detach()


def epochs_in_budget(args, net, train_x, train_y, test_x, test_y, steps, gen) -> int:
    """How many epochs fit in --budget-minutes, from timing up to 200 training steps
    and one evaluation on a throw-away copy of the network (after 10 warm-up steps, so
    cuDNN's algorithm search is not counted). That many steps also see the slow-down
    of runs sharing the GPU (sweep.sh). A fixed budget is what a rented GPU gives; the
    report records the number, so --epochs N repeats the run anywhere."""
    probe = copy.deepcopy(net)
    opt = torch.optim.SGD(probe.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    n, timed = len(train_x), min(steps, 200)
    for k in range(10 + timed):
        if k == 10:
            sync(args.device)
            t0 = time.time()
        idx = torch.randint(0, n, (args.batch,), generator=gen, device=gen.device)
        train_step(probe, opt, None, loss_fn, train_x[idx], train_y[idx], gen)
    sync(args.device)
    step_s = (time.time() - t0) / timed
    t0 = time.time()
    evaluate(probe, test_x, test_y, device=args.device)
    epoch_s = steps * step_s + (time.time() - t0)
    # 15% spare for what the probe did not see (a neighbour starting late, logging).
    fit = int(args.budget_minutes * 60 * 0.85 / epoch_s)
    epochs = max(1, min(args.epochs, fit))
    print(f"budget: {epoch_s:.2f} s per epoch, {fit} epochs fit in {args.budget_minutes} min; training {epochs}", flush=True)
    return epochs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="FER2013 folder with train/ and public_test/, or a --write-pack file")
    ap.add_argument("--out", type=Path, help="ONNX file to write (the weights go beside it as .pt)")
    ap.add_argument("--write-pack", type=Path, metavar="FILE", help="write --data as one pack file and stop")
    ap.add_argument("--export-from", type=Path, metavar="PT", help="export a .pt this script wrote to --out and stop")
    ap.add_argument("--epochs", type=int, default=124)
    ap.add_argument("--init-from", type=Path, metavar="PT", help="start from these weights (a .pt this script wrote; its width and dropout are used) instead of random ones")
    ap.add_argument("--budget-minutes", type=float, help="train as many epochs (up to --epochs) as fit in this time")
    ap.add_argument("--width", type=int, default=32, help="channels of the first stage")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1, help="peak learning rate (one-cycle SGD)")
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--no-export", action="store_true", help="write the .pt and the log, not the ONNX")
    ap.add_argument("--log", type=Path, help="JSON report (default: OUT with .train.json)")
    args = ap.parse_args()

    if args.write_pack:
        if not args.data:
            ap.error("--write-pack needs --data")
        write_pack(args.data, args.write_pack)
        return
    if not args.out:
        ap.error("--out is required")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.export_from:
        export_onnx(load_checkpoint(args.export_from), args.out)
        print(f"wrote {args.out} from {args.export_from}")
        return
    if not args.data:
        ap.error("--data is required")

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    started = time.time()
    log = args.log or args.out.with_suffix(".train.json")
    checkpoint = args.out.with_suffix(".pt")

    train_x, train_y, test_x, test_y = load_data(args.data)
    print(f"train {len(train_x)} images, public_test {len(test_x)}", flush=True)
    # The whole training set is 66 MB: it lives on the training device, so a step
    # moves no data and the augmentation runs where the network does.
    train_x, train_y = torch.from_numpy(train_x).to(args.device), torch.from_numpy(train_y).to(args.device)
    test_x, test_y = torch.from_numpy(test_x), torch.from_numpy(test_y)

    if args.init_from:
        # A second one-cycle from trained weights (a warm restart, as in SGDR): the
        # network keeps what it learnt and anneals again from a smaller peak.
        net = load_checkpoint(args.init_from)
        if (args.width, args.dropout) != (net.width, net.dropout.p):
            print(f"--init-from: width {net.width} and dropout {net.dropout.p} come from the weights", flush=True)
        args.width, args.dropout = net.width, net.dropout.p
        args.init_from_sha256 = hashlib.sha256(args.init_from.read_bytes()).hexdigest()
    else:
        net = ExpressionNet(args.width, args.dropout)
    net = net.to(args.device, memory_format=torch.channels_last)
    params = sum(p.numel() for p in net.parameters())
    steps = (len(train_x) + args.batch - 1) // args.batch
    epochs = args.epochs
    if args.budget_minutes:
        epochs = epochs_in_budget(args, net, train_x, train_y, test_x, test_y, steps, gen)
    train_started = time.time()
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=epochs, steps_per_epoch=steps, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    best = {"accuracy": -1.0}
    history = []
    stopped_early = False

    def report():
        return {
            "labels": LABELS,
            "input": f"[N,1,{SIDE},{SIDE}] grey, (v/255-0.5)*2",
            "args": {k: str(v) for k, v in vars(args).items()},
            "epochs_trained": len(history),
            "epochs_planned": epochs,
            "stopped_early": stopped_early,
            "parameters": params,
            "best_epoch": best.get("epoch"),
            "public_test_mirror": best["accuracy"],
            "confusion": best.get("confusion"),
            "history": history,
            "hours": (time.time() - started) / 3600,
            "hardware": torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{cpu_name()}, {args.threads} threads",
            "torch": torch.__version__,
        }

    for epoch in range(1, epochs + 1):
        net.train()
        t0 = time.time()
        order = torch.randperm(len(train_x), generator=gen, device=gen.device)
        total_loss = torch.zeros((), device=args.device)
        for s in range(steps):
            idx = order[s * args.batch : (s + 1) * args.batch]
            total_loss += train_step(net, opt, sched, loss_fn, train_x[idx], train_y[idx], gen) * len(idx)
        acc, acc_m, confusion = evaluate(net, test_x, test_y, device=args.device)
        row = {
            "epoch": epoch,
            "loss": float(total_loss) / len(train_x),
            "public_test": acc,
            "public_test_mirror": acc_m,
            "seconds": time.time() - t0,
        }
        history.append(row)
        print(json.dumps(row), flush=True)
        if acc_m > best["accuracy"]:
            best = {"accuracy": acc_m, "epoch": epoch, "confusion": confusion.tolist()}
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            # Saved as it improves, so a run cut short still leaves its best weights.
            torch.save({"width": args.width, "dropout": args.dropout, "state": best_state}, checkpoint)
        log.write_text(json.dumps(report(), indent=1) + "\n")
        # A budget run stops rather than overrun when contention slowed it down; the
        # report says so (the one-cycle schedule did not reach its end).
        if args.budget_minutes and epoch < epochs:
            per_epoch = (time.time() - train_started) / epoch
            if time.time() - train_started + per_epoch > args.budget_minutes * 60:
                stopped_early = True
                print(f"stopping after epoch {epoch}: the next would pass the budget", flush=True)
                break

    log.write_text(json.dumps(report(), indent=1) + "\n")
    if not args.no_export:
        net = net.cpu()
        net.load_state_dict(best_state)
        export_onnx(net.eval(), args.out)
    print(f"best epoch {best['epoch']}: PublicTest {best['accuracy']:.4f} (with mirror); wrote {checkpoint} and {log}")


if __name__ == "__main__":
    main()
