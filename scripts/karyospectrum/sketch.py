"""Genome sketches: each chromosome copy's keyed latent drawn as a colour-coded map, five classes.

The seed's ("invisible cities") vocabulary: black roads, green parks, red buildings and blue water on
white land. Each class is a smooth random field whose coefficients are the copy's latent, thresholded.
The fields are linear in the latent, so two copies whose latents have cosine c get fields correlated by
c: relatives' sketches resemble each other, strangers' do not. A sketch is a function of the latent
alone (plus a fixed public basis), so it reveals nothing that the latent does not.

This module owns the sketch format (PNG tiles of exactly the five class colours) and its checks, and
the segmentation that turns any picture into the same classes (the pix2pix training pairs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import InputError
from .tiles import CHROM1_HEIGHT, CHROMATID_WIDTH

log = logging.getLogger("karyospectrum.sketch")

CLASSES = ("land", "road", "park", "building", "water")
PALETTE = np.array(
    [[255, 255, 255], [0, 0, 0], [0, 160, 0], [220, 0, 0], [0, 70, 220]], dtype=np.uint8
)  # white, black, green, red, blue
COLOUR_NAMES = ("white", "black", "green", "red", "blue")
LAND, ROAD, PARK, BUILDING, WATER = range(5)
# Public basis seed: the fields' frequencies and phases. It is not a secret (the latent key is).
BASIS_SEED = 0x6B61_7279_6F73_6B31  # "karyosk1"
# Per field: length scale (share of the tile side) and threshold (field ~ N(0, 1) per pixel).
# Water > 0.9 covers ~18 % of a tile; roads are the band |f| < 0.08 around a level line (~4 px wide
# at 128 px); parks and buildings fill part of what is left. Painted in this order, later on top.
FIELDS = {
    WATER: (0.30, 0.9),
    PARK: (0.16, 0.7),
    BUILDING: (0.08, 0.3),
    ROAD: (0.22, 0.08),
}


@dataclass
class SketchSettings:
    """The sketch step's options (scripts/sketch.py takes its defaults from here)."""

    size: int = 128  # tile width in pixels; must be the pix2pix styles' resolution
    # The karyogram's geometry: a tile is ``size`` wide and a multiple of ``size`` tall, at (about) its
    # chromosome's aspect, so that the karyogram draws it unstretched. chromatid_width 0: square tiles.
    chrom1_height: int = CHROM1_HEIGHT
    chromatid_width: int = CHROMATID_WIDTH
    compress_level: int = 1  # PNG zlib level

    def check(self) -> None:
        if not 16 <= int(self.size) <= 2048:
            raise InputError(None, f"sketch size must be in 16..2048 px, not {self.size}")
        if self.chromatid_width < 0 or self.chrom1_height < 1:
            raise InputError(None, "chromatid_width must be >= 0 and chrom1_height >= 1")

    def tile_shape(self, chrom: str) -> tuple[int, int]:
        """(height, width) of ``chrom``'s sketch tile."""
        size = int(self.size)
        if not self.chromatid_width:
            return size, size
        from .ideogram import chrom_height

        aspect = chrom_height(chrom, self.chrom1_height) / self.chromatid_width
        return max(1, round(aspect)) * size, size


@lru_cache(maxsize=64)
def _basis(dim: int, size: int, height: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per field: the x and y parts of ``dim`` random Fourier features on a height x size grid
    (the unit is the tile width: a taller tile is a longer window of the same fields).

    cos(wx x + wy y + phi) = cos(wx x + phi) cos(wy y) - sin(wx x + phi) sin(wy y), so a field is one
    [size, 2 dim] @ [2 dim, size] product: ``Y`` = [cos(wy y), -sin(wy y)], ``X`` = [cos, sin](wx x + phi).
    """
    rng = np.random.default_rng([BASIS_SEED, dim])
    u = (np.arange(size, dtype=np.float64) + 0.5) / size  # pixel centres in [0, 1]: size-independent
    v = (np.arange(height, dtype=np.float64) + 0.5) / size
    out = {}
    for cls in sorted(FIELDS):
        scale = FIELDS[cls][0]
        w = rng.standard_normal((2, dim)) / scale  # RBF spectrum: covariance exp(-d^2 / (2 scale^2))
        phi = rng.uniform(0, 2 * np.pi, dim)
        ax = np.outer(u, w[0]) + phi
        ay = np.outer(v, w[1])
        out[cls] = (np.concatenate([np.cos(ay), -np.sin(ay)], 1), np.concatenate([np.cos(ax), np.sin(ax)], 1))
    return out


def fields(latent: np.ndarray, size: int = 128, height: int | None = None) -> dict[int, np.ndarray]:
    """The class fields [height, size] (rows = y; height defaults to size) of one latent; each
    ~ N(0, 1) per pixel.

    The latent is scaled to norm sqrt(dim): a field depends on the latent's direction only, as its
    cosine kinship does.
    """
    z = np.asarray(latent, dtype=np.float64).ravel()
    norm = np.linalg.norm(z)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("a sketch needs a finite, non-zero latent")
    dim = len(z)
    a = z / norm * np.sqrt(dim) * np.sqrt(2.0 / dim)
    a2 = np.concatenate([a, a])
    out = {}
    for cls, (y, x) in _basis(dim, int(size), int(height or size)).items():
        # einsum without BLAS: one fixed summation order, so bit-identical for any thread count
        out[cls] = np.einsum("yj,xj->yx", y * a2, x, optimize=False)
    return out


def sketch_classes(latent: np.ndarray, size: int = 128, height: int | None = None) -> np.ndarray:
    """uint8 [height, size] class map of one latent (indices into ``CLASSES``; height defaults to size)."""
    f = fields(latent, size, height)
    cls = np.full(f[ROAD].shape, LAND, np.uint8)
    cls[f[BUILDING] > FIELDS[BUILDING][1]] = BUILDING
    cls[f[PARK] > FIELDS[PARK][1]] = PARK
    cls[np.abs(f[ROAD]) < FIELDS[ROAD][1]] = ROAD
    cls[f[WATER] > FIELDS[WATER][1]] = WATER  # no roads on water
    return cls


def to_rgb(classes: np.ndarray) -> np.ndarray:
    """Class map -> uint8 RGB in the sketch palette."""
    classes = np.asarray(classes)
    if classes.size and int(classes.max()) >= len(CLASSES):
        raise ValueError(f"class index {int(classes.max())} is not one of the {len(CLASSES)} sketch classes")
    return PALETTE[classes]


def sketch(latent: np.ndarray, size: int = 128, height: int | None = None) -> np.ndarray:
    """uint8 [height, size, 3] sketch of one latent."""
    return to_rgb(sketch_classes(latent, size, height))


def class_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels where two class maps agree (1 identical; ~0.3 for unrelated sketches)."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


def nearest_class(rgb: np.ndarray, colours: np.ndarray = PALETTE) -> np.ndarray:
    """Each pixel's nearest colour of ``colours`` [k, 3] (Euclidean in RGB): uint8 class map."""
    x = np.asarray(rgb, dtype=np.float32)[..., :3]
    c = np.asarray(colours, dtype=np.float32)
    d = ((x[..., None, :] - c) ** 2).sum(axis=-1)
    return d.argmin(axis=-1).astype(np.uint8)


# --- the sketch PNG: one owner, with its checks ---------------------------------------------------


def read_sketch(
    path, size: int | None = None, multiple: int | None = None, snap: bool = False, width: int | None = None
) -> np.ndarray:
    """A sketch PNG -> uint8 class map, checked.

    ``size``: the side it must have (square); ``width``: the width it must have; ``multiple``: sides
    that are multiples of this (a U-Net paints any multiple of 2**num_downs). Every pixel must be one of the five class colours; ``snap=True``
    (documented for hand-drawn or antialiased sketches) maps any other colour to the nearest class.
    """
    from PIL import Image

    from .imaging import WORKFLOW_IMAGES, open_image

    path = Path(path)
    im = open_image(path, limits=WORKFLOW_IMAGES)
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im.convert("RGBA"))
    rgb = np.asarray(im.convert("RGB"))
    h, w = rgb.shape[:2]
    if size is not None and (h, w) != (size, size):
        raise InputError(path, f"sketch is {w}x{h} px; this step paints {size}x{size} px sketches")
    if width is not None and w != width:
        raise InputError(path, f"sketch is {w}x{h} px; this style paints sketches {width} px wide")
    if multiple is not None and (h % multiple or w % multiple or h < multiple or w < multiple):
        raise InputError(path, f"sketch is {w}x{h} px; its sides must be multiples of {multiple} px")
    classes = nearest_class(rgb)
    off = np.any(rgb != PALETTE[classes], axis=-1)
    if off.any() and not snap:
        raise InputError(
            path,
            f"{int(off.sum())} pixels ({off.mean():.1%}) are not sketch colours "
            f"({', '.join(f'{n} #{bytes(c.tolist()).hex()}' for n, c in zip(COLOUR_NAMES, PALETTE))}); "
            "redraw them, or pass --snap to map each pixel to the nearest class colour",
        )
    return classes


def write_sketch(path, classes: np.ndarray, compress_level: int = 1) -> None:
    """A class map as a palette-exact RGB PNG, atomically, byte-stable."""
    from PIL import Image

    from .io import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(to_rgb(classes)).save(tmp, format="PNG", compress_level=int(compress_level))


# --- a cohort's sketches: one tile per sample x chromosome x present copy --------------------------


def sketch_cohort(
    latent_files, out_dir, settings: SketchSettings | None = None
) -> list[tuple[str, str, int, str]]:
    """Sketch every present copy of every sample and chromosome; returns the manifest rows.

    Tiles go to ``out_dir/{sample}/{chrom}.{copy}.png`` (copy counts from 1, as rule generate's tiles),
    with ``out_dir/manifest.tsv``: the karyogram library reads such a folder as it reads art tiles.
    Each tile has its chromosome's aspect (``SketchSettings.tile_shape``).
    """
    from .latents import load_latents
    from .tiles import write_manifest

    settings = settings or SketchSettings()
    settings.check()
    out_dir = Path(out_dir)
    rows = []
    for path in latent_files:
        lat = load_latents(path)
        height, width = settings.tile_shape(lat.chrom)
        for s, sample in enumerate(lat.samples):  # load_latents checked the values and the sample ids
            for c in range(lat.latents.shape[1]):
                if not lat.copy_present[s, c] or not np.any(lat.latents[s, c]):
                    continue
                rel = f"{sample}/{lat.chrom}.{c + 1}.png"
                classes = sketch_classes(lat.latents[s, c], width, height)
                write_sketch(out_dir / rel, classes, settings.compress_level)
                rows.append((sample, lat.chrom, c + 1, rel))
    write_manifest(out_dir, rows)
    return rows


# --- segmentation: any picture -> the same five classes (pix2pix training pairs) -------------------

# Hue angles (CIELAB a*b*, degrees) of the three coloured classes, for the cluster-to-class assignment.
_HUES = {PARK: 136.0, BUILDING: 40.0, WATER: 290.0}


def _weighted_kmeans(x: np.ndarray, w: np.ndarray, k: int, iters: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with weights, initialised at lightness quantiles: deterministic."""
    order = np.argsort(x[:, 0], kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    centres = x[order[np.searchsorted(cum, (np.arange(k) + 0.5) / k).clip(0, len(x) - 1)]].copy()
    for _ in range(iters):
        label = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            m = label == j
            if m.any():
                centres[j] = np.average(x[m], axis=0, weights=w[m])
    label = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    return centres, label


def segment(image: np.ndarray, n_segments: int = 150, compactness: float = 10.0) -> np.ndarray:
    """A picture -> uint8 class map in the sketch classes (superpixels, then colour quantisation).

    SLIC superpixels (scikit-image) give map-like regions; their mean CIELAB colours are quantised
    into five clusters (weighted k-means). The darkest cluster becomes the roads (black), the lightest
    the land (white), and the other three are matched to green, red and blue by hue (Hungarian).
    """
    from scipy.optimize import linear_sum_assignment
    from skimage.color import rgb2lab
    from skimage.segmentation import slic

    img = np.asarray(image)[..., :3]
    lab = rgb2lab(img)
    seg = slic(img, n_segments=n_segments, compactness=compactness, start_label=0, channel_axis=-1)
    n = int(seg.max()) + 1
    counts = np.bincount(seg.ravel(), minlength=n).astype(np.float64)
    ok = counts > 0
    means = np.stack([np.bincount(seg.ravel(), lab[..., c].ravel(), minlength=n) for c in range(3)], 1)
    means[ok] /= counts[ok, None]
    k = len(CLASSES)
    if ok.sum() < k:  # a flat picture: all land
        return np.full(seg.shape, LAND, np.uint8)
    centres, label = _weighted_kmeans(means[ok], counts[ok], k)
    cluster_class = np.empty(k, np.intp)
    by_l = np.argsort(centres[:, 0], kind="stable")
    cluster_class[by_l[0]], cluster_class[by_l[-1]] = ROAD, LAND
    middle = by_l[1:-1]
    hue = np.degrees(np.arctan2(centres[middle, 2], centres[middle, 1])) % 360
    targets = list(_HUES)
    diff = np.abs(hue[:, None] - np.array([_HUES[t] for t in targets])[None]) % 360
    rows, cols = linear_sum_assignment(np.minimum(diff, 360 - diff))
    for r, c in zip(rows, cols):
        cluster_class[middle[r]] = targets[c]
    sp_class = np.full(n, LAND, np.uint8)
    sp_class[np.flatnonzero(ok)] = cluster_class[label]
    return sp_class[seg]
