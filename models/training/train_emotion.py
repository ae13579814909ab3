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

Usage (CPU, Python 3.11, torch 2.x; see requirements-training.txt):
    python3 models/training/train_emotion.py --data ../shared/data/fer2013 \
        --out models/emotion-fer48.onnx --epochs 36 --width 24 --seed 1
"""

import argparse
import json
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
    n = x.shape[0]

    def uniform(lo, hi):
        return torch.rand(n, generator=gen) * (hi - lo) + lo

    angle = uniform(-15, 15) * np.pi / 180
    scale = uniform(0.85, 1.15)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
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
    h = torch.randint(8, 21, (n, 1, 1), generator=gen)
    w = torch.randint(8, 21, (n, 1, 1), generator=gen)
    y0 = (torch.rand(n, 1, 1, generator=gen) * (SIDE - h + 1)).long()
    x0 = (torch.rand(n, 1, 1, generator=gen) * (SIDE - w + 1)).long()
    pos = torch.arange(SIDE)
    inside = (
        (pos.view(1, SIDE, 1) >= y0)
        & (pos.view(1, SIDE, 1) < y0 + h)
        & (pos.view(1, 1, SIDE) >= x0)
        & (pos.view(1, 1, SIDE) < x0 + w)
        & (torch.rand(n, 1, 1, generator=gen) < 0.5)
    )
    level = (torch.rand(n, 1, 1, generator=gen) * 2 - 1).expand(n, SIDE, SIDE)
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
    torch.onnx.export(
        model,
        torch.zeros(1, 1, SIDE, SIDE),
        str(path),
        input_names=["face"],
        output_names=["probs"],
        dynamic_axes={"face": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=13,
        do_constant_folding=True,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="FER2013 folder with train/ and public_test/")
    ap.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    ap.add_argument("--epochs", type=int, default=36)
    ap.add_argument("--width", type=int, default=24, help="channels of the first stage")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1, help="peak learning rate (one-cycle SGD)")
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--log", type=Path, help="JSON report (default: OUT with .json)")
    args = ap.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    started = time.time()

    train_x, train_y = load_split(args.data / "train")
    test_x, test_y = load_split(args.data / "public_test")
    print(f"train {len(train_x)} images, public_test {len(test_x)}", flush=True)
    train_x, train_y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    test_x, test_y = torch.from_numpy(test_x), torch.from_numpy(test_y)

    net = ExpressionNet(args.width, args.dropout).to(args.device, memory_format=torch.channels_last)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    steps = (len(train_x) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps, pct_start=0.15
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    best = {"accuracy": -1.0}
    history = []
    for epoch in range(1, args.epochs + 1):
        net.train()
        t0 = time.time()
        order = torch.randperm(len(train_x), generator=gen)
        total_loss = 0.0
        for s in range(steps):
            idx = order[s * args.batch : (s + 1) * args.batch]
            x = augment(normalise(train_x[idx]).unsqueeze(1), gen)
            x = x.to(args.device).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(net(x), train_y[idx].to(args.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * len(idx)
        acc, acc_m, confusion = evaluate(net, test_x, test_y, device=args.device)
        row = {
            "epoch": epoch,
            "loss": total_loss / len(train_x),
            "public_test": acc,
            "public_test_mirror": acc_m,
            "seconds": time.time() - t0,
        }
        history.append(row)
        print(json.dumps(row), flush=True)
        if acc_m > best["accuracy"]:
            best = {"accuracy": acc_m, "epoch": epoch, "confusion": confusion.tolist()}
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    net = net.cpu()
    net.load_state_dict(best_state)
    net.eval()
    # The weights themselves, for make_fixture.py (not committed; the ONNX is).
    torch.save({"width": args.width, "dropout": args.dropout, "state": best_state}, args.out.with_suffix(".pt"))
    export_onnx(net, args.out)
    report = {
        "labels": LABELS,
        "input": f"[N,1,{SIDE},{SIDE}] grey, (v/255-0.5)*2",
        "args": {k: str(v) for k, v in vars(args).items()},
        "parameters": params,
        "best_epoch": best["epoch"],
        "public_test_mirror": best["accuracy"],
        "confusion": best["confusion"],
        "history": history,
        "hours": (time.time() - started) / 3600,
        "hardware": torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{cpu_name()}, {args.threads} threads",
        "torch": torch.__version__,
    }
    log = args.log or args.out.with_suffix(".train.json")
    log.write_text(json.dumps(report, indent=1) + "\n")
    print(f"best epoch {best['epoch']}: PublicTest {best['accuracy']:.4f} (with mirror); wrote {args.out} and {log}")


if __name__ == "__main__":
    main()
