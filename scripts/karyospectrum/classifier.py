"""Chromosome classifier: torchvision CNNs on 1-channel crops, the crop dataset and the training loop.

Crops are grey, dark bands on white. They are inverted (background 0), padded to a square keeping the
aspect ratio, then resized. Classes are in chromosome order 1..22, X, Y (index = ``CHROMOSOMES``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from . import CHROMOSOMES
from .cli import InputError

log = logging.getLogger("karyospectrum.classifier")

ARCHS = ("resnet18", "resnet50", "vgg16", "inception_v3")
NUM_CLASSES = len(CHROMOSOMES)
CLASS_INDEX = {c: i for i, c in enumerate(CHROMOSOMES)}
# Inputs are 1 - grey/255 (background 0); these centre them for the first convolution.
MEAN, STD = 0.15, 0.25


@dataclass
class Recipe:
    """The training recipe; the defaults are the original project's (its ``gpu`` preset)."""

    arch: str = "resnet18"
    size: int = 224
    epochs: int = 100
    batch: int = 16
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 1e-5
    step_size: int = 30
    gamma: float = 0.1
    # "step": StepLR (x gamma every step_size epochs); "time": cosine decay over max_minutes of wall time,
    # so a run cut short by its time budget still ends at a low learning rate.
    schedule: str = "step"
    patience: int = 10
    # augmentation
    rotation: float = 15.0
    translate: float = 0.1
    scale: tuple = (0.9, 1.1)
    brightness: float = 0.2
    contrast: float = 0.2
    blur_p: float = 0.3
    blur_sigma: tuple = (0.1, 5.0)  # at 224 px; scaled with the input size
    hflip: bool = True
    max_minutes: float = 0.0  # 0 = no wall-clock limit
    amp: bool = False  # mixed precision: bf16 autocast on the CPU, fp16 on CUDA
    seed: int = 0
    extra: dict = field(default_factory=dict)


PRESETS = {
    # The original recipe at full resolution: for a GPU.
    "gpu": {},
    # Small input and a faster schedule so ResNet18 trains from scratch on 2 shared CPU cores.
    "cpu": dict(
        size=64, epochs=30, batch=32, lr=1e-3, schedule="time", patience=6, max_minutes=50.0, amp=True
    ),
}


def recipe_from(preset: str, **overrides) -> Recipe:
    if preset not in PRESETS:
        raise InputError(None, f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    values = dict(PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    names = {f.name for f in fields(Recipe)}
    unknown = set(values) - names
    if unknown:
        raise InputError(None, f"unknown recipe keys: {', '.join(sorted(unknown))}")
    r = Recipe(**values)
    if r.arch not in ARCHS:
        raise InputError(None, f"unknown architecture {r.arch!r} (choose from {', '.join(ARCHS)})")
    if r.schedule not in ("step", "time") or (r.schedule == "time" and not r.max_minutes):
        raise InputError(None, "schedule is 'step', or 'time' with max_minutes > 0")
    if r.optimizer not in ("adam", "sgd", "rmsprop"):
        raise InputError(None, f"unknown optimizer {r.optimizer!r} (adam, sgd, rmsprop)")
    return r


def default_size(arch: str) -> int:
    return 299 if arch == "inception_v3" else 224


# --------------------------------------------------------------------------- models


def build_model(arch: str = "resnet18", num_classes: int = NUM_CLASSES):
    """A torchvision model taking 1-channel input, with a ``num_classes`` head (random init)."""
    import torch.nn as nn
    import torchvision

    if arch == "resnet18" or arch == "resnet50":
        m = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
        m.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    elif arch == "vgg16":
        m = torchvision.models.vgg16_bn(weights=None, num_classes=num_classes)
        m.features[0] = nn.Conv2d(1, 64, kernel_size=3, padding=1)
    elif arch == "inception_v3":
        m = torchvision.models.inception_v3(
            weights=None, num_classes=num_classes, aux_logits=False, init_weights=True, transform_input=False
        )
        m.Conv2d_1a_3x3.conv = nn.Conv2d(1, 32, kernel_size=3, stride=2, bias=False)
    else:
        raise InputError(None, f"unknown architecture {arch!r} (choose from {', '.join(ARCHS)})")
    return m


# --------------------------------------------------------------------------- preprocessing


def to_square(grey: np.ndarray, size: int) -> np.ndarray:
    """uint8 grey crop (dark on white) -> float32 [size, size] in [0, 1], inverted, square-padded, resized."""
    from PIL import Image

    grey = np.asarray(grey)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=2)
    ink = 255.0 - grey.astype(np.float32)
    h, w = ink.shape
    side = max(h, w, 1)
    canvas = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = ink
    img = Image.fromarray(canvas, mode="F").resize((size, size), Image.BILINEAR)
    return np.clip(np.asarray(img, np.float32) / 255.0, 0.0, 1.0)


def load_grey(path: str | Path) -> np.ndarray:
    from .imaging import open_image, to_grey

    return to_grey(open_image(path))


def batch_tensor(squares: np.ndarray):
    """[N, S, S] float in [0, 1] -> normalized torch tensor [N, 1, S, S]."""
    import torch

    x = torch.as_tensor(np.asarray(squares, np.float32)).unsqueeze(1)
    return (x - MEAN) / STD


# --------------------------------------------------------------------------- data


def read_manifest(path: str | Path, need_chrom: bool = True):
    """Read a crop manifest (CSV: ``path`` relative to the CSV's folder[, chrom, cell_id, ...])."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(path, "manifest not found")
    try:
        m = pd.read_csv(path, dtype=str).fillna("")
    except Exception as err:  # pandas raises several parser errors
        raise InputError(path, f"not a readable CSV ({str(err).splitlines()[0]})") from err
    if "path" not in m.columns:
        raise InputError(path, "manifest has no 'path' column")
    if need_chrom and "chrom" not in m.columns:
        raise InputError(path, "manifest has no 'chrom' column")
    if "chrom" in m.columns:
        m["chrom"] = m["chrom"].str.removeprefix("chr")
        bad = sorted(set(m["chrom"]) - set(CHROMOSOMES) - {""})
        if bad:
            raise InputError(path, f"unknown chromosome labels: {', '.join(bad[:5])}")
    m["file"] = [str(path.parent / p) for p in m["path"]]
    return m


def split_groups(groups, val_frac: float = 0.1, test_frac: float = 0.15, seed: int = 0) -> np.ndarray:
    """Assign each group (cell) to train/val/test by a keyed hash: stable, never splits a cell."""
    out = []
    for g in groups:
        u = int(hashlib.sha1(f"{seed}:{g}".encode()).hexdigest()[:8], 16) / 2**32
        out.append("test" if u < test_frac else "val" if u < test_frac + val_frac else "train")
    return np.array(out)


def load_squares(files, size: int, workers: int = 1) -> np.ndarray:
    """Load and preprocess crops into a uint8 [N, size, size] array (kept in memory for training)."""
    out = np.zeros((len(files), size, size), np.uint8)
    for i, f in enumerate(files):
        out[i] = np.round(to_square(load_grey(f), size) * 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- augmentation


def augment(x, r: Recipe, gen):
    """Random affine (rotation, translation, scale), h-flip, brightness/contrast, Gaussian blur.

    ``x`` is [N, 1, S, S] in [0, 1] with background 0; the whole batch is warped with one grid_sample.
    """
    import torch
    import torch.nn.functional as F

    n, _, s, _ = x.shape

    def unif(lo, hi, size=(n,)):
        return torch.rand(size, generator=gen) * (hi - lo) + lo

    ang = unif(-r.rotation, r.rotation) * math.pi / 180
    sc = unif(*r.scale)
    tx, ty = unif(-r.translate, r.translate) * 2, unif(-r.translate, r.translate) * 2
    flip = torch.where(torch.rand(n, generator=gen) < (0.5 if r.hflip else 0.0), -1.0, 1.0)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    b = unif(1 - r.brightness, 1 + r.brightness).view(n, 1, 1, 1)
    c = unif(1 - r.contrast, 1 + r.contrast).view(n, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * c + mean) * b
    if r.blur_p > 0:
        # Per-sample Gaussian blur as one grouped separable convolution (sigma 0 = identity kernel).
        lo, hi = (v * s / 224 for v in r.blur_sigma)
        sigma = torch.where(torch.rand(n, generator=gen) < r.blur_p, unif(lo, hi), torch.zeros(n))
        half = max(1, min(int(math.ceil(3 * hi)), (s - 1) // 2))
        t = torch.arange(-half, half + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t[None, :] / sigma.clamp(min=1e-3)[:, None]) ** 2)
        k = k / k.sum(1, keepdim=True)
        xb = x.view(1, n, s, s)
        xb = F.conv2d(F.pad(xb, (0, 0, half, half), mode="reflect"), k.view(n, 1, -1, 1), groups=n)
        xb = F.conv2d(F.pad(xb, (half, half, 0, 0), mode="reflect"), k.view(n, 1, 1, -1), groups=n)
        x = xb.view(n, 1, s, s)
    return x.clamp(0, 1)


# --------------------------------------------------------------------------- inference


class Classifier:
    """A loaded classifier: ``predict(list of grey arrays) -> probabilities [N, 24]``."""

    def __init__(self, model, card: dict, device):
        import threading

        self.model, self.card, self.device = model.eval(), card, device
        self.lock = threading.Lock()  # one forward pass at a time (the API serves from threads)
        self.size = int(card["size"])
        self.classes = list(card.get("classes", CHROMOSOMES))

    @classmethod
    def load(cls, weights: str | Path, device="auto", threads: int | None = None) -> "Classifier":
        from .checkpoints import load_checkpoint, load_into
        from .devices import pick_device, set_threads

        set_threads(threads)
        state, card = load_checkpoint(weights, kind="classifier")
        if card.get("arch") not in ARCHS:
            raise InputError(weights, f"unknown classifier architecture {card.get('arch')!r}")
        if list(card.get("classes", CHROMOSOMES)) != CHROMOSOMES:
            raise InputError(weights, "classes are not 1..22, X, Y in chromosome order")
        model = build_model(card["arch"], NUM_CLASSES)
        load_into(model, state, weights)
        dev = pick_device(device) if isinstance(device, str) else device
        return cls(model.to(dev), card, dev)

    def predict(self, crops, batch: int = 64, both_ways: bool = False) -> np.ndarray:
        """Class probabilities [N, 24] of grey crops (uint8 arrays or PIL images, dark on white).

        ``both_ways`` also reads each crop upside down and keeps the surer reading: crops cut from a
        spread are upright, but their p-arm may point down.
        """
        import torch

        squares = [to_square(_grey(c), self.size) for c in crops]
        if both_ways:
            squares += [s[::-1, ::-1] for s in squares]
        probs = []
        with self.lock, torch.inference_mode():
            for i in range(0, len(squares), batch):
                logits = self.model(batch_tensor(np.stack(squares[i : i + batch])).to(self.device))
                probs.append(torch.softmax(logits.float(), 1).cpu().numpy())
        p = np.concatenate(probs) if probs else np.zeros((0, NUM_CLASSES), np.float32)
        if both_ways and len(crops):
            up, down = p[: len(crops)], p[len(crops) :]
            p = np.where((up.max(1) >= down.max(1))[:, None], up, down)
        return p


def _grey(img) -> np.ndarray:
    if isinstance(img, np.ndarray):
        return img
    from .imaging import to_grey

    return to_grey(img)


def top_k(probs: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
    order = np.argsort(-probs, axis=1)[:, :k]
    return [[(CHROMOSOMES[j], float(p[j])) for j in row] for row, p in zip(order, probs)]


def predict_squares(model, squares_u8: np.ndarray, device, batch: int = 256) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(squares_u8), batch):
            x = batch_tensor(squares_u8[i : i + batch].astype(np.float32) / 255.0).to(device)
            out.append(torch.softmax(model(x).float(), 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)


# --------------------------------------------------------------------------- training


def make_optimizer(model, r: Recipe):
    import torch

    p = model.parameters()
    if r.optimizer == "adam":
        return torch.optim.Adam(p, lr=r.lr, weight_decay=r.weight_decay)
    if r.optimizer == "sgd":
        return torch.optim.SGD(p, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    return torch.optim.RMSprop(p, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)


def train(
    r: Recipe,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    device,
    metrics_path: str | Path | None = None,
    progress: bool = True,
    init_state: dict | None = None,
):
    """Train with early stopping on validation accuracy; returns (best model, history list)."""
    import copy

    import torch
    import torch.nn.functional as F

    torch.manual_seed(r.seed)
    gen = torch.Generator().manual_seed(r.seed)
    model = build_model(r.arch).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    opt = make_optimizer(model, r)
    dev_type = torch.device(device).type
    amp_dtype = torch.float16 if dev_type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(dev_type, enabled=r.amp and dev_type == "cuda")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=r.step_size, gamma=r.gamma)
    n = len(train_x)
    best, best_state, bad, history = -1.0, None, 0, []
    t0 = time.time()
    metrics_fh = open(metrics_path, "a") if metrics_path else None
    try:
        for epoch in range(1, r.epochs + 1):
            model.train()
            perm = torch.randperm(n, generator=gen)
            steps = range(0, n - (n % r.batch if n > r.batch else 0), r.batch)
            if progress:
                from tqdm import tqdm

                steps = tqdm(steps, desc=f"epoch {epoch}/{r.epochs}", leave=False, mininterval=10)
            tot_loss, tot_ok, seen = 0.0, 0, 0
            for i in steps:
                if r.schedule == "time":
                    frac = min((time.time() - t0) / 60 / r.max_minutes, 1.0)
                    for g in opt.param_groups:
                        g["lr"] = r.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
                    if frac >= 1.0:
                        break
                idx = perm[i : i + r.batch]
                x = torch.as_tensor(train_x[idx.numpy()], dtype=torch.float32).unsqueeze(1) / 255.0
                x = augment(x, r, gen)
                x = ((x - MEAN) / STD).to(device)
                y = torch.as_tensor(train_y[idx.numpy()], dtype=torch.long).to(device)
                with torch.autocast(dev_type, dtype=amp_dtype, enabled=r.amp):
                    logits = model(x)
                    loss = F.cross_entropy(logits.float(), y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                tot_loss += loss.item() * len(idx)
                tot_ok += int((logits.argmax(1) == y).sum())
                seen += len(idx)
            if r.schedule == "step":
                sched.step()
            probs = predict_squares(model, val_x, device)
            val_acc = float((probs.argmax(1) == val_y).mean()) if len(val_y) else 0.0
            val_loss = (
                float(-np.log(probs[np.arange(len(val_y)), val_y] + 1e-9).mean()) if len(val_y) else 0.0
            )
            rec = {
                "epoch": epoch,
                "lr": opt.param_groups[0]["lr"],
                "train_loss": tot_loss / max(seen, 1),
                "train_acc": tot_ok / max(seen, 1),
                "val_loss": val_loss,
                "val_acc": val_acc,
                "minutes": (time.time() - t0) / 60,
            }
            history.append(rec)
            log.info("epoch %d: %s", epoch, json.dumps({k: round(v, 4) for k, v in rec.items()}))
            if metrics_fh:
                metrics_fh.write(json.dumps(rec) + "\n")
                metrics_fh.flush()
            if val_acc > best:
                best, bad = val_acc, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
                if bad >= r.patience:
                    log.info("early stopping: no better validation accuracy for %d epochs", r.patience)
                    break
            minutes = (time.time() - t0) / 60
            if r.schedule == "time" and minutes >= r.max_minutes:
                log.info("stopping: the %.0f-minute budget is spent", r.max_minutes)
                break
            if r.schedule == "step" and r.max_minutes and minutes * (epoch + 1) / epoch > r.max_minutes:
                log.info("stopping: another epoch would pass the %.0f-minute budget", r.max_minutes)
                break
    finally:
        if metrics_fh:
            metrics_fh.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


def recipe_dict(r: Recipe) -> dict:
    d = asdict(r)
    d["scale"], d["blur_sigma"] = list(r.scale), list(r.blur_sigma)
    return d


def base_card(r: Recipe) -> dict:
    return {
        "kind": "classifier",
        "arch": r.arch,
        "size": r.size,
        "in_channels": 1,
        "classes": list(CHROMOSOMES),
        "preprocessing": "grey -> 255-grey (background 0), pad to square keeping aspect, bilinear resize, "
        f"/255, (x-{MEAN})/{STD}",
        "recipe": recipe_dict(r),
    }


def init_checkpoint(weights: str | Path, arch: str = "resnet18", size: int = 64, seed: int = 0) -> dict:
    """Write an untrained (random) classifier checkpoint: for smoke tests of the plumbing, not for use."""
    import torch

    from .checkpoints import save_checkpoint

    torch.manual_seed(seed)
    r = recipe_from("cpu", arch=arch, size=size, epochs=0)
    card = base_card(r) | {"data": {"note": "untrained: random weights"}, "metrics": {}}
    save_checkpoint(weights, build_model(arch).state_dict(), card, half=True)
    return card
