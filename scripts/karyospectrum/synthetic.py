"""Synthetic G-banded chromosomes and metaphase spreads from the hg38 cytobands (bioframe's tables).

A chromosome is drawn upright (p-arm up): band darkness by Giemsa stain, a centromere constriction, rounded
ends, variable condensation, width, bending, blur, noise and contrast. A spread scatters 46 of them at random
positions and angles, some touching, with ground-truth boxes: used to test and measure the crop step.
"""

from __future__ import annotations

import numpy as np

from . import AUTOSOMES, CHROMOSOMES
from .cytobands import chrom_sizes, cytobands, p_arm_fraction

CHROM1_LENGTH = 90  # px of chromosome 1 at condensation 1


def band_profile(chrom: str, n: int) -> np.ndarray:
    """Darkness in [0, 1] at ``n`` evenly spaced points from pter to qter."""
    bands = cytobands(chrom)
    size = chrom_sizes()[chrom]
    pos = (np.arange(n) + 0.5) / n * size
    idx = np.searchsorted(bands["end"].to_numpy(), pos, side="right").clip(0, len(bands) - 1)
    return bands["darkness"].to_numpy()[idx].astype(np.float32)


def render_chromosome(
    chrom: str,
    rng: np.random.Generator | None = None,
    length: float | None = None,
    width: float | None = None,
    bend: float | None = None,
    blur: float | None = None,
    noise: float | None = None,
    contrast: float | None = None,
    condense_blur: float | None = None,
) -> np.ndarray:
    """One G-banded chromosome: uint8 grey, dark on white (255), upright, with a white margin.

    Unset parameters are drawn from ``rng``: condensation 0.75-1.25, width 12-20 px, bend up to
    an eighth of the length, band merging 0.8-2, blur sigma 0.4-1.4 px, noise 0-8 grey levels, contrast 0.7-1.1.
    """
    from scipy.ndimage import gaussian_filter

    chrom = str(chrom).removeprefix("chr")
    if chrom not in CHROMOSOMES:
        raise ValueError(f"unknown chromosome {chrom!r}")
    rng = rng or np.random.default_rng()
    rel = chrom_sizes()[chrom] / chrom_sizes()["1"]
    length = length if length is not None else CHROM1_LENGTH * rel * rng.uniform(0.75, 1.25) + 8
    width = width if width is not None else rng.uniform(12, 20)
    bend = bend if bend is not None else rng.uniform(-0.12, 0.12) * length
    blur = blur if blur is not None else rng.uniform(0.4, 1.4)
    noise = noise if noise is not None else rng.uniform(0, 8)
    contrast = contrast if contrast is not None else rng.uniform(0.7, 1.1)
    condense_blur = condense_blur if condense_blur is not None else rng.uniform(0.8, 2.0)

    L = max(int(round(length)), 6)
    margin = 2 + int(np.ceil(3 * blur))
    half = width / 2
    H = L + 2 * margin
    W = int(np.ceil(width + abs(bend) + 2 * margin))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    t = np.clip((yy - margin) / L, 0, 1)
    x0 = margin + half + (max(-bend, 0))
    centre = x0 + bend * np.sin(np.pi * t)  # a smooth bow
    # Half-width: constricted at the centromere, rounded at both ends.
    c = p_arm_fraction(chrom)
    hw = half * (1 - 0.35 * np.exp(-(((t - c) * L / (0.6 * half)) ** 2)))
    d_end = np.minimum(yy - margin, margin + L - yy)
    hw = np.where(d_end < half, np.sqrt(np.clip(half**2 - (half - d_end) ** 2, 0, None)) * hw / half, hw)
    hw = np.where((yy < margin) | (yy > margin + L), 0, hw)
    dx = np.abs(xx - centre)
    inside = np.where(hw > 0, np.clip(hw + 0.5 - dx, 0, 1), 0.0)  # anti-aliased edge
    # Metaphase condensation merges sub-bands: smooth the 850-band-level profile along the length.
    from scipy.ndimage import gaussian_filter1d

    prof = gaussian_filter1d(band_profile(chrom, L), sigma=max(L / 90, 0.5) * condense_blur, mode="nearest")
    dark = prof[np.clip((yy - margin).astype(int), 0, L - 1)]
    # Two chromatids: a faint groove along the centre line.
    groove = 1 - 0.15 * np.exp(-((dx / max(half * 0.25, 0.5)) ** 2))
    ink = inside * (0.28 + 0.62 * dark) * groove * contrast
    ink = gaussian_filter(ink, blur)
    grey = 255 * (1 - ink) + rng.normal(0, noise, ink.shape) * (ink > 0.02)
    return np.clip(np.round(grey), 0, 255).astype(np.uint8)


def render_cell(rng: np.random.Generator, sex: str = "XY", scale: float | None = None):
    """The 46 crops of one synthetic cell: list of (chrom, copy, uint8 image) with a shared condensation."""
    scale = scale if scale is not None else rng.uniform(0.8, 1.2)
    width = rng.uniform(12, 19)
    merge = rng.uniform(0.8, 2.0)
    chroms = [(c, k) for c in AUTOSOMES for k in (1, 2)] + [(c, k + 1) for k, c in enumerate(sex)]
    out = []
    for chrom, copy in chroms:
        rel = chrom_sizes()[chrom] / chrom_sizes()["1"]
        length = CHROM1_LENGTH * rel * scale * rng.uniform(0.92, 1.08) + 8
        img = render_chromosome(
            chrom, rng, length=length, width=width * rng.uniform(0.9, 1.1), condense_blur=merge
        )
        out.append((chrom, copy, img))
    return out


def render_spread(
    rng: np.random.Generator | None = None,
    size: tuple[int, int] = (900, 900),
    sex: str = "XY",
    touching: float = 0.1,
    chromosomes: list | None = None,
):
    """A synthetic metaphase spread: (uint8 grey image, ground-truth boxes).

    Chromosomes are rotated to random angles and placed without overlap, except that a share ``touching``
    is pushed against an already placed one. Boxes are {"chrom", "copy", "x0", "y0", "x1", "y1"} (x1, y1
    exclusive), the tight box of each chromosome's ink.
    """
    from PIL import Image

    rng = rng or np.random.default_rng()
    crops = chromosomes if chromosomes is not None else render_cell(rng, sex)
    W, H = size
    canvas = np.full((H, W), 255, np.uint8)
    occupied = np.zeros((H, W), bool)
    boxes = []
    order = rng.permutation(len(crops))
    for i in order:
        chrom, copy, img = crops[i]
        rot = Image.fromarray(img).rotate(
            rng.uniform(0, 360), resample=Image.BILINEAR, expand=True, fillcolor=255
        )
        a = np.asarray(rot)
        mask = a < 235
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            continue
        a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        h, w = a.shape
        placed = None
        modes = (["touch"] if boxes and rng.random() < touching else []) + ["apart", "any"]
        for mode in modes:
            for _ in range(300):
                y0, x0 = int(rng.integers(5, H - h - 5)), int(rng.integers(5, W - w - 5))
                region = occupied[y0 : y0 + h, x0 : x0 + w]
                if (region & mask).any():
                    continue
                # touch: within 2 px of another chromosome's ink; apart: at least 6 px from all of them
                if mode == "any" or (mode == "touch") == _near(
                    occupied, y0, x0, mask, 2 if mode == "touch" else 6
                ):
                    placed = (y0, x0)
                    break
            if placed:
                break
        if placed is None:
            continue
        y0, x0 = placed
        sub = canvas[y0 : y0 + h, x0 : x0 + w]
        np.minimum(sub, np.where(mask, a, 255).astype(np.uint8), out=sub)
        occupied[y0 : y0 + h, x0 : x0 + w] |= mask
        boxes.append({"chrom": chrom, "copy": int(copy), "x0": x0, "y0": y0, "x1": x0 + w, "y1": y0 + h})
    return canvas, boxes


def _near(occupied, y0, x0, mask, dist) -> bool:
    """Whether ``mask`` placed at (y0, x0) comes within ``dist`` px of occupied pixels."""
    from scipy.ndimage import binary_dilation

    h, w = mask.shape
    H, W = occupied.shape
    ya, yb, xa, xb = max(y0 - dist, 0), min(y0 + h + dist, H), max(x0 - dist, 0), min(x0 + w + dist, W)
    region = occupied[ya:yb, xa:xb]
    if not region.any():
        return False
    m = np.zeros_like(region)
    m[y0 - ya : y0 - ya + h, x0 - xa : x0 - xa + w] = mask
    return bool((binary_dilation(m, iterations=dist) & region).any())
