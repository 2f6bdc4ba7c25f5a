"""Crop chromosomes out of a karyogram or a metaphase spread, each straightened to vertical.

Threshold (Otsu on a lightly smoothed image) + connected components + size filters. A component that is
too big for one chromosome and has a narrow neck is split by a watershed seeded from its distance-transform
cores (two touching chromosomes); a centromere constriction is not narrow enough to be split.
The work per image is bounded (issue 14): components, chromosome-sized candidates, crop size and time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .imaging import ImageRefused

log = logging.getLogger("karyospectrum.crop")

# A metaphase has ~46 chromosomes (92 chromatids touching at most); more candidates than this is not a
# spread but an attack or a mistake, and each candidate costs a straighten, a split and two forward passes.
MAX_COMPONENTS = 200
MAX_LABELS = 50_000  # connected components of any size (dust included) before the size filters
MAX_CROP_PIXELS = 1_000_000  # bounding box of one component; larger ones are debris, not a chromosome


@dataclass
class Crop:
    box: tuple  # (x0, y0, x1, y1) in the input image, x1/y1 exclusive
    image: np.ndarray  # uint8 grey, dark on white, major axis vertical
    area: int
    angle: float  # degrees the crop was rotated by to stand upright
    split: bool = False  # came from a component split by the watershed

    def box_dict(self) -> dict:
        x0, y0, x1, y1 = self.box
        return {"x0": int(x0), "y0": int(y0), "x1": int(x1), "y1": int(y1)}


def foreground(grey: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Chromosome mask: darker than an Otsu threshold (on a sigma-1 smoothed copy), holes filled."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    # float32 output straight from the uint8 input: one image-sized float array, not two
    g = ndi.gaussian_filter(np.asarray(grey), 1.0, output=np.float32)
    if threshold is None:
        lo, hi = float(g.min()), float(g.max())
        if hi - lo < 10:
            return np.zeros(g.shape, bool)
        # skimage's own histogram (256 bins over the image's range) without its flattened copy
        counts, edges = np.histogram(g, bins=256, range=(lo, hi))
        threshold = min(float(threshold_otsu(hist=(counts, (edges[:-1] + edges[1:]) / 2))), 245.0)
    mask = g < threshold
    del g
    return ndi.binary_fill_holes(mask)


def _label_areas(labels: np.ndarray, n: int, block: int = 1 << 20) -> np.ndarray:
    """Pixels per label 1..n, counted block by block (np.bincount would copy the labels to int64)."""
    flat = labels.reshape(-1)
    areas = np.zeros(n + 1, np.int64)
    for i in range(0, flat.size, block):
        areas += np.bincount(flat[i : i + block], minlength=n + 1)
    return areas[1:]


def _split_touching(mask: np.ndarray, max_neck: float = 0.35, min_part: float = 0.12) -> np.ndarray:
    """Label image of ``mask`` split at narrow necks (1 label when there is none)."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    dt = ndi.distance_transform_edt(mask)
    top = float(dt.max())
    total = mask.sum()
    for depth in np.arange(1.0, max_neck * top + 1e-6, 0.5):
        cores, n = ndi.label(dt > depth)
        if n < 2:
            continue
        sizes = ndi.sum(np.ones_like(dt), cores, index=np.arange(1, n + 1))
        keep = [i + 1 for i, s in enumerate(sizes) if s >= 0.02 * total]
        if len(keep) < 2:
            continue
        markers = np.zeros(mask.shape, np.int32)
        for j, i in enumerate(keep, 1):
            markers[cores == i] = j
        labels = watershed(-dt, markers, mask=mask)
        parts = np.bincount(labels.ravel())[1:]
        if parts.min() >= min_part * total:
            return labels
    return mask.astype(np.int32)


def straighten(grey: np.ndarray, mask: np.ndarray, pad: int = 3) -> tuple[np.ndarray, float]:
    """Rotate the masked chromosome so that its principal axis is vertical; returns (crop, angle)."""
    from PIL import Image

    ys, xs = np.nonzero(mask)
    ink = np.where(mask, grey, 255).astype(np.uint8)
    if len(ys) < 3:
        return ink, 0.0
    coords = np.stack([ys - ys.mean(), xs - xs.mean()])
    evals, evecs = np.linalg.eigh(np.cov(coords))
    vy, vx = evecs[:, np.argmax(evals)]
    angle = float(np.degrees(np.arctan2(vx, vy)))  # of the major axis from vertical
    # Keep the smaller rotation; a chromosome upside down is still a chromosome (the classifier sees both).
    if angle > 90:
        angle -= 180
    elif angle < -90:
        angle += 180
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sub = np.pad(ink[y0:y1, x0:x1], pad, constant_values=255)
    rot = Image.fromarray(sub).rotate(-angle, resample=Image.BILINEAR, expand=True, fillcolor=255)
    a = np.asarray(rot)
    ys2, xs2 = np.nonzero(a < 250)
    if len(ys2):
        a = a[max(ys2.min() - pad, 0) : ys2.max() + 1 + pad, max(xs2.min() - pad, 0) : xs2.max() + 1 + pad]
    return np.ascontiguousarray(a), angle


def segment(
    grey: np.ndarray,
    min_area: int = 30,
    max_area_ratio: float = 25.0,
    split_ratio: float = 1.5,
    threshold: float | None = None,
    max_components: int = MAX_COMPONENTS,
    max_crop_pixels: int = MAX_CROP_PIXELS,
    time_budget: float | None = None,
    name: str | None = None,
) -> list[Crop]:
    """Find the chromosomes in a grey image (dark on light); returns upright crops in reading order.

    Size filters: components under ``min_area`` px (dust) or over ``max_area_ratio`` x the median
    (nuclei, debris) are dropped; ones over ``split_ratio`` x the median are tried for a split.
    Bounds: more than ``max_components`` chromosome-sized components, or more than ``time_budget``
    seconds, raise :class:`ImageRefused` (422); a component whose box holds more than ``max_crop_pixels``
    is dropped as debris.
    """
    from scipy import ndimage as ndi

    start = time.monotonic()
    name = name or "<image>"
    grey = np.asarray(grey)
    mask = foreground(grey, threshold)
    labels, n = ndi.label(mask)
    del mask
    if n == 0:
        return []
    if n > MAX_LABELS:
        raise ImageRefused(name, f"not a metaphase spread: {n} separate specks (more than {MAX_LABELS})")
    areas = _label_areas(labels, n)
    ok = areas >= min_area
    if not ok.any():
        return []
    median = float(np.median(areas[ok]))
    ok &= areas <= max_area_ratio * median
    if ok.sum() > max_components:
        raise ImageRefused(
            name,
            f"not a metaphase spread: {int(ok.sum())} chromosome-sized objects "
            f"(at most {max_components}; a cell has about 46)",
        )
    crops = []
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is None or not ok[i]:
            continue
        if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) > max_crop_pixels:
            log.debug("component %d dropped: its box is over %d px", i + 1, max_crop_pixels)
            continue
        if time_budget is not None and time.monotonic() - start > time_budget:
            raise ImageRefused(name, f"spread too complex: segmenting it took over {time_budget:g} s")
        comp = labels[sl] == i + 1
        parts = _split_touching(comp) if areas[i] > split_ratio * median else comp.astype(np.int32)
        crops += _part_crops(grey, sl, parts, min_area)
    crops.sort(key=lambda c: (c.box[1] // 50, c.box[0]))
    return crops


def _part_crops(grey: np.ndarray, sl: tuple[slice, slice], parts: np.ndarray, min_area: int) -> list[Crop]:
    """The upright crops of one component's parts (labels 1..n in ``parts``, the box ``sl`` of ``grey``)."""
    crops = []
    n_parts = int(parts.max())
    for j in range(1, n_parts + 1):
        part = parts == j
        ys, xs = np.nonzero(part)
        if len(ys) < min_area:
            continue
        box = (
            sl[1].start + xs.min(),
            sl[0].start + ys.min(),
            sl[1].start + xs.max() + 1,
            sl[0].start + ys.max() + 1,
        )
        img, angle = straighten(grey[sl], part)
        crops.append(Crop(box, img, int(part.sum()), angle, split=n_parts > 1))
    return crops


def crop_boxes(image: np.ndarray, boxes: list[dict], straighten_crops: bool = False) -> list[np.ndarray]:
    """Cut the given layout boxes ({"x0","y0","x1","y1"}) out of a grey image."""
    out = []
    H, W = image.shape[:2]
    for b in boxes:
        x0, y0 = max(int(b["x0"]), 0), max(int(b["y0"]), 0)
        x1, y1 = min(int(b["x1"]), W), min(int(b["y1"]), H)
        sub = np.asarray(image[y0:y1, x0:x1])
        if straighten_crops and sub.size:
            sub, _ = straighten(sub, foreground(sub))
        out.append(sub)
    return out


def iou(a, b) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw, ih = max(0, min(ax1, bx1) - max(ax0, bx0)), max(0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def _as_tuple(b):
    return (b["x0"], b["y0"], b["x1"], b["y1"]) if isinstance(b, dict) else tuple(b)


def box_precision_recall(pred, truth, min_iou: float = 0.5) -> dict:
    """One-to-one matching (linear_sum_assignment on IoU); a match needs IoU >= ``min_iou``."""
    from scipy.optimize import linear_sum_assignment

    pred, truth = [_as_tuple(b) for b in pred], [_as_tuple(b) for b in truth]
    if not pred or not truth:
        return {
            "precision": 0.0 if pred else 1.0,
            "recall": 0.0 if truth else 1.0,
            "matched": 0,
            "predicted": len(pred),
            "truth": len(truth),
            "matches": [],
        }
    m = np.array([[iou(p, t) for t in truth] for p in pred])
    rows, cols = linear_sum_assignment(-m)
    matches = [(int(r), int(c)) for r, c in zip(rows, cols) if m[r, c] >= min_iou]
    return {
        "precision": len(matches) / len(pred),
        "recall": len(matches) / len(truth),
        "matched": len(matches),
        "predicted": len(pred),
        "truth": len(truth),
        "matches": matches,
    }
