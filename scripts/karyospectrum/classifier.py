"""Chromosome classifier: torchvision CNNs on 1-channel crops, preprocessing, augmentation and inference.

Every crop goes through :func:`preprocess` (polarity to "ink", robust contrast, square padding keeping the
aspect ratio). Classes are in chromosome order 1..22, X, Y (index = ``CHROMOSOMES``). The training loop,
evaluation and the model card live in :mod:`karyospectrum.classifier_training`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import CHROMOSOMES
from .errors import InputError

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
    label_smoothing: float = 0.0
    ema: float = 0.0  # EMA decay of the weights per step (0 = off); the better of raw/EMA on val is kept
    # augmentation (on the preprocessed square)
    rotation: float = 15.0
    translate: float = 0.1
    scale: tuple = (0.9, 1.1)
    brightness: float = 0.2
    contrast: float = 0.2
    blur_p: float = 0.3
    blur_sigma: tuple = (0.1, 5.0)  # at 224 px; scaled with the input size
    hflip: bool = True
    gamma_range: tuple = (1.0, 1.0)  # ink ** gamma, log-uniform
    band_jitter: float = 0.0  # amplitude of a smooth random gain along the chromosome
    lowres_p: float = 0.0  # downscale to lowres_scale x the side and back up
    lowres_scale: tuple = (0.35, 0.8)
    noise: float = 0.0  # sd of additive Gaussian noise
    # lab shift on the raw crop, then the real preprocess: inversion, gamma, contrast, offset, low resolution
    shift_p: float = 0.0
    invert_p: float = 0.5  # of the shifted crops
    synthetic: int = 0  # synthetic G-band crops per class mixed into the training set
    synthetic_epochs: int = 0  # epochs of pre-training on synthetic crops only
    max_minutes: float = 0.0  # 0 = no wall-clock limit (training loop; loading and evaluation excluded)
    amp: bool = False  # mixed precision: bf16 autocast on the CPU, fp16 on CUDA
    seed: int = 0


# The lab-shift recipe for long CPU runs: augmentations, synthetic crops mixed in, EMA weights.
CPU_SHIFT = dict(
    size=96,
    epochs=200,
    batch=48,
    lr=1e-3,
    weight_decay=5e-5,
    schedule="time",
    patience=1000,
    max_minutes=100.0,
    amp=True,
    label_smoothing=0.1,
    ema=0.998,
    rotation=12.0,
    translate=0.06,
    brightness=0.15,
    contrast=0.15,
    blur_p=0.25,
    blur_sigma=(0.1, 3.0),
    gamma_range=(0.7, 1.4),
    band_jitter=0.25,
    lowres_p=0.2,
    noise=0.02,
    shift_p=0.35,
    synthetic=40,
)

PRESETS = {
    # The original recipe at full resolution: for a GPU.
    "gpu": {},
    # Small input and a faster schedule so ResNet18 trains from scratch on 2 shared CPU cores.
    "cpu": dict(
        size=64, epochs=30, batch=32, lr=1e-3, schedule="time", patience=6, max_minutes=50.0, amp=True
    ),
    # 96 px with the lab-shift augmentations, synthetic crops mixed in, EMA weights; for long CPU runs.
    "cpu96": CPU_SHIFT,
    # The same at 64 px, for fine-tuning a 64-px model (--init) on shared CPU cores.
    "cpu64": CPU_SHIFT | dict(size=64, batch=64, lr=5e-4, max_minutes=90.0),
}
TTA_MODES = ("none", "hflip")


def recipe_from(preset: str, **overrides) -> Recipe:
    from .training import apply_overrides, preset_config

    values = asdict(Recipe()) | preset_config(PRESETS, preset)
    apply_overrides(values, overrides, lambda key: f"unknown recipe key {key!r}")
    for k in ("scale", "blur_sigma", "gamma_range", "lowres_scale"):
        values[k] = tuple(values.get(k, getattr(Recipe, k)))
    r = Recipe(**values)
    if r.arch not in ARCHS:
        raise InputError(None, f"unknown architecture {r.arch!r} (choose from {', '.join(ARCHS)})")
    if r.schedule not in ("step", "time") or (r.schedule == "time" and not r.max_minutes):
        raise InputError(None, "schedule is 'step', or 'time' with max_minutes > 0")
    if r.optimizer not in ("adam", "adamw", "sgd", "rmsprop"):
        raise InputError(None, f"unknown optimizer {r.optimizer!r} (adam, adamw, sgd, rmsprop)")
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
#
# One function, ``preprocess``, turns any crop into the network's input; training, the CLI, the rules and
# the API all call it. Version 2 (cards with ``"preprocess_version": 2``): detect polarity and bring the
# crop to "ink" (object bright, background 0), stretch the contrast between robust percentiles, trim to
# the object, pad to a square keeping the aspect ratio, resize. Version 1 (older cards): 1 - grey/255,
# after the same polarity check.

PREPROCESS_VERSION = 2
PREPROCESS_TEXT = {
    1: "grey (light-on-dark inverted first) -> 255-grey (background 0), pad to square keeping aspect, "
    "bilinear resize, /255",
    2: "grey (any bit depth) -> percentile stretch (0.5-99.5) -> polarity by border vs Otsu (to ink: "
    "object bright, background 0) -> zero at the background median, 1 at the object's 99th percentile -> "
    "trim to the object + 4% margin -> pad to square keeping aspect -> antialiased bilinear resize",
}
# Share of the square left as margin around the object (room for the training rotations).
MARGIN = 0.04


def grey_of(img) -> np.ndarray:
    """A crop (PIL image or array; grey, RGB, with alpha, 8/16-bit, float) -> 2-D float32 grey.

    Transparent pixels become background: the opposite end of the grey scale from the opaque object.
    """
    if not isinstance(img, np.ndarray):
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = np.asarray(img.convert("LA"))
        elif img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            img = np.asarray(img, dtype=np.float32)
        else:
            img = np.asarray(img.convert("L"))
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] in (2, 4):  # grey/RGB + alpha
        alpha = a[..., -1].astype(np.float32) / (65535.0 if a.dtype == np.uint16 else 255.0)
        g = a[..., :-1].astype(np.float32).mean(axis=2)
        opaque = g[alpha > 0.5]
        if opaque.size and opaque.size < g.size:
            top = 65535.0 if a.dtype == np.uint16 else 255.0 if a.dtype == np.uint8 else float(g.max())
            bg = top if np.median(opaque) < top / 2 else 0.0
            g = g * alpha + bg * (1 - alpha)
        return g
    if a.ndim == 3:
        return a[..., :3].astype(np.float32).mean(axis=2)
    if a.ndim != 2:
        raise InputError(None, f"a crop must be a 2-D image, got shape {a.shape}")
    return a.astype(np.float32)


def otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold of values in [0, 1]."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * mids)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * (1 - w0))
    between = np.nan_to_num(between[:-1], nan=-1.0)
    return float(edges[1:][int(np.argmax(between))]) if between.size else 0.5


def background_is_bright(g: np.ndarray) -> bool:
    """Polarity of a [0, 1] crop: True when its border pixels fall mostly above the Otsu threshold.

    Crops are cut with a margin, so the border is background; a tie falls back to the border's mean
    against the whole crop's.
    """
    t = otsu(g)
    border = np.concatenate([g[0], g[-1], g[1:-1, 0], g[1:-1, -1]]) if min(g.shape) > 1 else g.ravel()
    frac = float((border > t).mean())
    if abs(frac - 0.5) > 1e-9:
        return frac > 0.5
    return float(border.mean()) >= float(g.mean())


def to_ink(img) -> np.ndarray:
    """Crop -> float32 ink in [0, 1]: object bright, background 0, contrast set by robust percentiles.

    A flat crop (all background, a single pixel) gives all zeros.
    """
    g = grey_of(img)
    if g.size == 0:
        return np.zeros((1, 1), np.float32)
    lo, hi = np.percentile(g, [0.5, 99.5])
    if not np.isfinite(hi - lo) or hi - lo <= 1e-6 * max(1.0, abs(float(hi))):
        return np.zeros(g.shape, np.float32)
    g = np.clip((g - lo) / (hi - lo), 0.0, 1.0)
    ink = 1.0 - g if background_is_bright(g) else g
    t = otsu(ink)
    bg, fg = ink[ink <= t], ink[ink > t]
    zero = float(np.median(bg)) if bg.size else 0.0
    top = float(np.percentile(fg, 99)) if fg.size else 1.0
    if top - zero <= 1e-6:
        return np.zeros(g.shape, np.float32)
    return np.clip((ink - zero) / (top - zero), 0.0, 1.0).astype(np.float32)


def trim(ink: np.ndarray, level: float = 0.2) -> np.ndarray:
    """The box of the pixels above ``level`` (the object), so margins of other labs do not matter."""
    ys, xs = np.nonzero(ink > level)
    if len(ys) == 0:
        return ink
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def pad_square(ink: np.ndarray, size: int, margin: float = 0.0) -> np.ndarray:
    """Pad ink (background 0) to a square keeping the aspect ratio, then resize to ``size``."""
    from PIL import Image

    from .imaging import fit_within

    ink = fit_within(ink, max(4 * size, 512))  # the canvas stays small whatever the crop (issue 14)
    h, w = ink.shape
    side = max(int(np.ceil(max(h, w) * (1 + 2 * margin))), 1)
    canvas = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = ink
    img = Image.fromarray(canvas, mode="F").resize((size, size), Image.BILINEAR)
    return np.clip(np.asarray(img, np.float32), 0.0, 1.0)


def preprocess(img, size: int, version: int = PREPROCESS_VERSION) -> np.ndarray:
    """Any crop (either polarity, any bit depth, any size) -> float32 [size, size] in [0, 1], background 0."""
    if version == 1:  # as the weights were trained, plus the polarity check (light-on-dark is inverted)
        g = to_uint8(grey_of(img)).astype(np.float32) / 255.0
        if g.size and not background_is_bright(g):
            g = 1.0 - g
        return pad_square(1.0 - g, size)
    return pad_square(trim(to_ink(img)), size, MARGIN)


def crop_problem(img) -> str | None:
    """Why a crop cannot be read (too small, all background), or None: for one-line refusals."""
    g = grey_of(img)
    if min(g.shape) < 2:
        return f"crop of {g.shape[1] if g.ndim == 2 else 0}x{g.shape[0]} px is too small to classify"
    if not (to_ink(g) > 0.2).any():
        return "crop holds no chromosome (uniform background)"
    return None


def to_square(grey, size: int) -> np.ndarray:
    """Alias of :func:`preprocess` (current version), kept for older callers."""
    return preprocess(grey, size)


def load_grey(path: str | Path) -> np.ndarray:
    """Read a crop file as a 2-D uint8 grey array through the owner of user images (16-bit, alpha over
    the background); a crop with no chromosome (1x1, uniform) is refused in one line."""
    from .imaging import load_crop

    return load_crop(path)


def to_uint8(g: np.ndarray) -> np.ndarray:
    """Grey of any range -> uint8: as is when it fits 0-255 in whole numbers, else a percentile stretch."""
    g = np.asarray(g)
    if g.dtype == np.uint8:
        return g
    if g.size and g.min() >= 0 and g.max() <= 255 and np.allclose(g, np.round(g), atol=0.02):
        return np.round(g).astype(np.uint8)
    lo, hi = np.percentile(g, [0.1, 99.9]) if g.size else (0.0, 1.0)
    return np.round(np.clip((g - lo) / ((hi - lo) or 1.0), 0, 1) * 255).astype(np.uint8)


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


def load_squares(files, size: int, raw: list | None = None) -> np.ndarray:
    """Load and preprocess crops into a uint8 [N, size, size] array (kept in memory for training).

    ``raw``, when a list, receives each decoded grey crop (for the lab-shift augmentation).
    """
    out = np.zeros((len(files), size, size), np.uint8)
    for i, f in enumerate(files):
        g = load_grey(f)
        if raw is not None:
            raw.append(g)
        out[i] = to_u8_square(preprocess(g, size))
    return out


def to_u8_square(sq: np.ndarray) -> np.ndarray:
    return np.round(sq * 255).astype(np.uint8)


# --------------------------------------------------------------------------- augmentation


def lab_shift(grey: np.ndarray, rng: np.random.Generator, invert_p: float = 0.5) -> np.ndarray:
    """A raw crop as another lab might image it: inverted polarity (fluorescence), gamma, low contrast
    on an offset background, lower resolution and sensor noise. uint8 in, uint8 out; fed to ``preprocess``.
    """
    from PIL import Image

    g = np.asarray(grey, np.float32) / 255.0
    if rng.random() < 0.5:  # lower resolution: fewer pixels across the chromosome
        f = rng.uniform(0.35, 0.9)
        h, w = g.shape
        size = (max(2, round(w * f)), max(2, round(h * f)))
        g = np.asarray(Image.fromarray(g, mode="F").resize(size, Image.BILINEAR), np.float32)
    g = np.clip(g, 0, 1) ** np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
    if rng.random() < invert_p:
        g = 1.0 - g
    lo = rng.uniform(0.0, 0.35)
    hi = rng.uniform(max(lo + 0.2, 0.6), 1.0)
    g = lo + (hi - lo) * g + rng.normal(0, rng.uniform(0, 0.03), g.shape)
    return np.round(np.clip(g, 0, 1) * 255).astype(np.uint8)


def augment(x, r: Recipe, gen):
    """Random affine (rotation, translation, scale), h-flip, gamma, band-intensity jitter,
    brightness/contrast, low resolution, Gaussian blur and noise.

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
    if r.gamma_range != (1.0, 1.0):
        lo, hi = (math.log(v) for v in r.gamma_range)
        x = x.clamp(min=0) ** torch.exp(unif(lo, hi)).view(n, 1, 1, 1)
    if r.band_jitter > 0:
        # A smooth random gain along the chromosome's axis (rows): bands lighter or darker than usual.
        knots = 1 + r.band_jitter * (2 * torch.rand(n, 1, 10, generator=gen) - 1)
        gain = F.interpolate(knots, size=s, mode="linear", align_corners=True)
        x = x * gain.view(n, 1, s, 1)
    b = unif(1 - r.brightness, 1 + r.brightness).view(n, 1, 1, 1)
    c = unif(1 - r.contrast, 1 + r.contrast).view(n, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * c + mean) * b
    if r.lowres_p > 0:
        low = torch.rand(n, generator=gen) < r.lowres_p
        if low.any():
            f = float(unif(*r.lowres_scale, size=(1,)))
            small = F.interpolate(x[low], scale_factor=f, mode="area")
            x[low] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    if r.blur_p > 0:
        # Per-sample Gaussian blur as one grouped separable convolution (sigma 0 = identity kernel).
        lo, hi = (v * s / 224 for v in r.blur_sigma)
        sigma = torch.where(torch.rand(n, generator=gen) < r.blur_p, unif(lo, hi), torch.zeros(n))
        half = max(1, min(int(math.ceil(3 * hi)), (s - 1) // 2))
        t = torch.arange(-half, half + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t[None, :] / sigma.clamp(min=1e-3)[:, None]) ** 2)
        k = k / k.sum(1, keepdim=True)
        xb = x.reshape(1, n, s, s)
        xb = F.conv2d(F.pad(xb, (0, 0, half, half), mode="reflect"), k.view(n, 1, -1, 1), groups=n)
        xb = F.conv2d(F.pad(xb, (half, half, 0, 0), mode="reflect"), k.view(n, 1, 1, -1), groups=n)
        x = xb.view(n, 1, s, s)
    if r.noise > 0:
        x = x + torch.randn(x.shape, generator=gen) * unif(0, r.noise).view(n, 1, 1, 1)
    return x.clamp(0, 1)


# --------------------------------------------------------------------------- inference


def tta_views(x, mode: str):
    """The test-time views of a batch [N, 1, S, S]: the crop itself, plus its mirror for ``hflip``."""
    import torch

    if mode == "none":
        return [x]
    if mode == "hflip":
        return [x, torch.flip(x, dims=(3,))]
    raise InputError(None, f"unknown test-time augmentation {mode!r} (choose from {', '.join(TTA_MODES)})")


def forward_probs(model, x, tta: str = "none"):
    """Mean softmax over the TTA views of a normalised batch."""
    import torch

    views = tta_views(x, tta)
    return sum(torch.softmax(model(v).float(), 1) for v in views) / len(views)


class Classifier:
    """A loaded classifier: ``predict(list of crops) -> probabilities [N, 24]``.

    The card says which preprocessing the weights were trained with (``preprocess_version``) and which
    test-time augmentation was chosen on validation cells (``tta``).
    """

    def __init__(self, model, card: dict, device):
        import threading

        self.model, self.card, self.device = model.eval(), card, device
        self.lock = threading.Lock()  # one forward pass at a time (the API serves from threads)
        self.size = int(card["size"])
        self.classes = list(card.get("classes", CHROMOSOMES))
        self.version = int(card.get("preprocess_version", 1))
        self.tta = card.get("tta", "none")
        if self.version not in PREPROCESS_TEXT or self.tta not in TTA_MODES:
            raise InputError(None, "model card names an unknown preprocessing version or TTA mode")

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
        try:
            return cls(inference_model(model).to(dev), card, dev)
        except InputError as err:
            raise InputError(weights, err.problem) from None

    def squares(self, crops) -> list:
        return [preprocess(c, self.size, self.version) for c in crops]

    def predict(self, crops, batch: int = 64, both_ways: bool = False, tta: str | None = None) -> np.ndarray:
        """Class probabilities [N, 24] of crops (arrays or PIL images, either polarity, any bit depth).

        ``both_ways`` also reads each crop upside down and keeps the surer reading: crops cut from a
        spread are upright, but their p-arm may point down. ``tta`` overrides the card's choice.
        """
        squares = self.squares(crops)
        if both_ways:
            squares += [s[::-1, ::-1] for s in squares]
        p = self.predict_squares(np.stack(squares) if squares else np.zeros((0, 1, 1)), batch, tta)
        if both_ways and len(crops):
            up, down = p[: len(crops)], p[len(crops) :]
            p = np.where((up.max(1) >= down.max(1))[:, None], up, down)
        return p

    def predict_squares(self, squares, batch: int = 64, tta: str | None = None) -> np.ndarray:
        with self.lock:
            return predict_squares(self.model, squares, self.device, batch, tta or self.tta)


def top_k(probs: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
    order = np.argsort(-probs, axis=1)[:, :k]
    return [[(CHROMOSOMES[j], float(p[j])) for j in row] for row, p in zip(order, probs)]


def inference_model(model):
    """An eval-mode copy of a classifier for inference only: each batch norm folded into its convolution
    (torch.fx) and the weights in channels-last layout. The same probabilities to float rounding (~1e-7),
    and ~18% less time per crop on 2 CPU threads (219 vs 178 crops/s; benchmarks/bench_classifier.py --compare)."""
    import torch
    from torch.fx.experimental.optimization import fuse

    return fuse(model.eval()).to(memory_format=torch.channels_last)


def predict_squares(model, squares, device, batch: int = 256, tta: str = "none") -> np.ndarray:
    """Probabilities of preprocessed squares ([N, S, S]: uint8 0-255 or float 0-1)."""
    import torch

    squares = np.asarray(squares)
    scale = 255.0 if squares.dtype == np.uint8 else 1.0
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(squares), batch):
            x = batch_tensor(squares[i : i + batch].astype(np.float32) / scale).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            out.append(forward_probs(model, x, tta).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)


# --------------------------------------------------------------------------- cards


def recipe_dict(r: Recipe) -> dict:
    d = asdict(r)
    for k in ("scale", "blur_sigma", "gamma_range", "lowres_scale"):
        d[k] = list(getattr(r, k))
    return d


def base_card(r: Recipe) -> dict:
    return {
        "kind": "classifier",
        "arch": r.arch,
        "size": r.size,
        "in_channels": 1,
        "classes": list(CHROMOSOMES),
        "preprocess_version": PREPROCESS_VERSION,
        "preprocessing": PREPROCESS_TEXT[PREPROCESS_VERSION] + f", then (x-{MEAN})/{STD}",
        "tta": "none",
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
