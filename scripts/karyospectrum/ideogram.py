"""Ideogram geometry: the silhouette of each chromosome, from the hg38 cytoband table.

Height is proportional to length, width is constant, the centromere is a constriction at the
right p/q proportion, telomeres are rounded and the short arm of an acrocentric is a narrow
stalk. A tile (a GAN painting) is masked into that silhouette, with an optional G-band overlay.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

from . import CHROMOSOMES
from .cytobands import centromere, chrom_sizes, cytobands

# The short arms of acrocentrics (satellite, stalk, p11.2) are narrow; their stalk narrower still.
ACRO_P_WIDTH = 0.55
STALK_WIDTH = 0.3
# Depth of the centromere constriction (share of the width) and the neck's half-height (share of the width).
CONSTRICTION = 0.45
NECK_HALF_HEIGHT = 0.12
SUPERSAMPLE = 4


def _check(chrom: str) -> str:
    chrom = str(chrom).removeprefix("chr")
    if chrom not in CHROMOSOMES:
        raise ValueError(f"unknown chromosome {chrom!r}; expected one of {', '.join(CHROMOSOMES)}")
    return chrom


def is_acrocentric(chrom: str) -> bool:
    """Acrocentrics carry a stalk (nucleolus organiser) on their p-arm: 13, 14, 15, 21, 22."""
    return bool((cytobands(_check(chrom))["stain"] == "stalk").any())


def chrom_height(chrom: str, max_height: int) -> int:
    """Height in pixels of ``chrom`` when chromosome 1 (the longest) is ``max_height`` pixels."""
    sizes = chrom_sizes()
    return max(8, int(round(sizes[_check(chrom)] / max(sizes.values()) * max_height)))


def _row_bands(chrom: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel row (at ``height`` rows): the band darkness and the stain name index."""
    bands = cytobands(chrom)
    size = chrom_sizes()[chrom]
    centres = (np.arange(height) + 0.5) / height * size
    idx = np.searchsorted(bands["end"].to_numpy(), centres, side="right")
    idx = np.clip(idx, 0, len(bands) - 1)
    return bands["darkness"].to_numpy()[idx], bands["stain"].to_numpy()[idx]


def _capsule(rows: np.ndarray, start: float, end: float, radius: float, round_ends: bool = True):
    """Half-width profile of a segment of ``rows`` with semicircular (telomere-like) ends."""
    inside = (rows >= start) & (rows < end)
    if not round_ends:
        return np.where(inside, radius, 0.0)
    d = np.clip(np.minimum(rows - start, end - rows), 0, radius)
    cap = np.sqrt(np.clip(radius**2 - (radius - d) ** 2, 0, None))
    return np.where(inside, cap, 0.0)


def half_widths(chrom: str, height: int, width: int) -> np.ndarray:
    """Half-width (pixels) of the silhouette at each of ``height`` rows.

    Each arm is a capsule (rounded at the telomere and at the centromere); a neck of
    ``1 - CONSTRICTION`` of the width joins them, so the centromere shows as a constriction.
    An acrocentric's short arm is narrow: satellite, thinner stalk, then p11.
    """
    chrom = _check(chrom)
    rows = np.arange(height) + 0.5
    cen = centromere_row(chrom, height)
    r = width / 2.0
    neck = NECK_HALF_HEIGHT * width
    q_arm = _capsule(rows, cen, height, r)
    if is_acrocentric(chrom):
        _, stains = _row_bands(chrom, height)
        stalk_rows = np.flatnonzero(stains == "stalk")
        s0, s1 = (stalk_rows[0], stalk_rows[-1] + 1) if len(stalk_rows) else (0, 0)
        rp = ACRO_P_WIDTH * r
        p_arm = np.maximum.reduce(
            [
                _capsule(rows, 0, s0, rp),
                _capsule(rows, s0 - 1, s1 + 1, STALK_WIDTH * r, round_ends=False),
                _capsule(rows, s1, cen, rp),
            ]
        )
        neck_half = min(1.0 - CONSTRICTION, ACRO_P_WIDTH * 0.8) * r
    else:
        p_arm = _capsule(rows, 0, cen, r)
        neck_half = (1.0 - CONSTRICTION) * r
    neck_prof = _capsule(rows, max(cen - neck, 0.0), min(cen + neck, height), neck_half, round_ends=False)
    return np.maximum.reduce([p_arm, q_arm, neck_prof])


@lru_cache(maxsize=256)
def _mask_array(chrom: str, height: int, width: int) -> np.ndarray:
    s = SUPERSAMPLE
    hh, ww = height * s, width * s
    half = half_widths(chrom, hh, ww)
    cols = np.arange(ww) + 0.5
    inside = np.abs(cols[None, :] - ww / 2.0) <= half[:, None]
    # Box-filter the supersampled mask down: anti-aliased, deterministic.
    cover = inside.reshape(height, s, width, s).mean(axis=(1, 3))
    return np.round(cover * 255).astype(np.uint8)


def silhouette(chrom: str, height: int, width: int) -> Image.Image:
    """The chromosome's silhouette as an 8-bit mask ("L", 255 inside) of ``width`` x ``height``."""
    return Image.fromarray(_mask_array(_check(chrom), int(height), int(width)), mode="L")


def centromere_row(chrom: str, height: int) -> float:
    """Row (pixels from the p telomere at the top) of the centromere."""
    chrom = _check(chrom)
    return centromere(chrom) / chrom_sizes()[chrom] * height


def band_overlay(chrom: str, height: int, width: int) -> np.ndarray:
    """G-band darkness per row, [height, 1] in [0, 1]; the acen constriction is left to the shape."""
    darkness, stains = _row_bands(_check(chrom), height)
    darkness = np.where(stains == "acen", 0.0, darkness)
    return darkness.astype(np.float32)[:, None]


# A tile painted at its silhouette's box (any-size generators) is used as it is; a fixed-resolution
# tile (older generators) is stretched to the box. The old "mirror" fit (a square tile repeated down
# the chromosome, every other copy flipped) is gone: one painting per chromosome copy.
FITS = ("stretch",)


def fit_tile(tile: Image.Image, height: int, width: int, fit: str = "stretch") -> Image.Image:
    """The tile as an RGB image of exactly width x height: unchanged when it already is."""
    tile = tile.convert("RGB")
    if tile.size == (width, height):
        return tile
    return tile.resize((width, height), Image.Resampling.BICUBIC)


def shape_tile(
    tile: Image.Image,
    chrom: str,
    height: int,
    width: int,
    band_strength: float = 0.25,
    outline: bool = True,
    fit: str = "stretch",
) -> Image.Image:
    """Mask a tile into ``chrom``'s silhouette; returns RGBA (alpha = silhouette).

    ``fit``: "stretch" (the only one): a tile painted at the box's size is used as it is, any other
    is scaled to the box. ``band_strength`` in [0, 1] darkens each
    G-positive band by that share of its stain darkness (0: no bands, 1: full G-banding).
    """
    if not 0.0 <= band_strength <= 1.0:
        raise ValueError(f"band_strength must be in [0, 1], got {band_strength}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    chrom = _check(chrom)
    height, width = int(height), int(width)
    rgb = fit_tile(tile, height, width, fit)
    pixels = np.asarray(rgb, dtype=np.float32)
    if band_strength > 0:
        pixels = pixels * (1.0 - band_strength * band_overlay(chrom, height, width))[:, :, None]
    mask = silhouette(chrom, height, width)
    if outline:
        edge_px = max(3, 2 * (width // 40) + 1)
        inner = np.asarray(mask.filter(ImageFilter.MinFilter(edge_px)), dtype=np.float32) / 255.0
        edge = np.clip(np.asarray(mask, dtype=np.float32) / 255.0 - inner, 0, 1)[:, :, None]
        pixels = pixels * (1.0 - 0.75 * edge) + 40.0 * 0.75 * edge
    out = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), mode="RGB")
    out.putalpha(mask)
    return out


def banded_ideogram(chrom: str, height: int, width: int) -> Image.Image:
    """A plain G-banded ideogram (grey bands on white), RGBA."""
    blank = Image.new("RGB", (8, 8), (250, 250, 250))
    return shape_tile(blank, chrom, height, width, band_strength=1.0, outline=True)


def p_area_fraction(chrom: str, height: int = 400, width: int = 40) -> float:
    """Share of the silhouette's area above the centromere (small for acrocentrics)."""
    mask = _mask_array(_check(chrom), height, width).astype(np.float64)
    cen = int(round(centromere_row(chrom, height)))
    return float(mask[:cen].sum() / mask.sum())
