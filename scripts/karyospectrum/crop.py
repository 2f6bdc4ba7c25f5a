"""Crop chromosomes out of a karyogram or a metaphase spread, each straightened to vertical.

Threshold (Otsu on a lightly smoothed image) + connected components + size filters. A component that is
too big for one chromosome and has a narrow neck is split by a watershed seeded from its distance-transform
cores (two touching chromosomes); a centromere constriction is not narrow enough to be split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Crop:
    box: tuple  # (x0, y0, x1, y1) in the input image, x1/y1 exclusive
    image: np.ndarray  # uint8 grey, dark on white, major axis vertical
    area: int
    angle: float  # degrees the crop was rotated by to stand upright
    split: bool = False  # came from a component split by the watershed
    extra: dict = field(default_factory=dict)

    def box_dict(self) -> dict:
        x0, y0, x1, y1 = self.box
        return {"x0": int(x0), "y0": int(y0), "x1": int(x1), "y1": int(y1)}


def foreground(grey: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Chromosome mask: darker than an Otsu threshold (on a sigma-1 smoothed copy), holes filled."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    g = ndi.gaussian_filter(np.asarray(grey, np.float32), 1.0)
    if threshold is None:
        if g.max() - g.min() < 10:
            return np.zeros(g.shape, bool)
        threshold = min(float(threshold_otsu(g)), 245.0)
    mask = g < threshold
    return ndi.binary_fill_holes(mask)


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
) -> list[Crop]:
    """Find the chromosomes in a grey image (dark on light); returns upright crops in reading order.

    Size filters: components under ``min_area`` px (dust) or over ``max_area_ratio`` x the median
    (nuclei, debris) are dropped; ones over ``split_ratio`` x the median are tried for a split.
    """
    from scipy import ndimage as ndi

    grey = np.asarray(grey)
    mask = foreground(grey, threshold)
    labels, n = ndi.label(mask)
    if n == 0:
        return []
    areas = np.bincount(labels.ravel())[1:]
    ok = areas >= min_area
    if not ok.any():
        return []
    median = float(np.median(areas[ok]))
    crops = []
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is None or not ok[i] or areas[i] > max_area_ratio * median:
            continue
        comp = labels[sl] == i + 1
        parts = _split_touching(comp) if areas[i] > split_ratio * median else comp.astype(np.int32)
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
    crops.sort(key=lambda c: (c.box[1] // 50, c.box[0]))
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
