"""Cell-level karyotyping: assign all crops of one cell jointly (linear_sum_assignment over log-probs).

Each autosome has two free slots, the sex chromosomes XX or XY. Extra copies cost a penalty, missing ones
are left empty, so a cell that does not fit 46,XX or 46,XY is reported (aneuploidy candidate), not forced.
Optionally each crop's length relative to its cell adds a length likelihood (hg38 sizes) to the log-probs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import AUTOSOMES, CHROMOSOMES

# Extra-copy cost in nats: a crop goes to a 3rd copy only when its evidence beats e^6 ~ 400:1.
EXTRA_COPY_PENALTY = 6.0
MAX_COPIES = 3
SEX_COMPLEMENTS = {"XX": {"X": 2, "Y": 0}, "XY": {"X": 1, "Y": 1}}
# Length prior: a metaphase chromosome's length ~ its hg38 size + an offset (small ones look relatively
# longer); the log of a crop's length over its cell's median has a residual sd of ~0.11 on real cells.
LENGTH_SIGMA = 0.2  # chosen on the validation cells (0.08-0.3 tried)
LENGTH_OFFSET_MB = 20.0
MIN_CROPS_FOR_LENGTH = 10


def crop_length(grey: np.ndarray) -> float:
    """Length in px of the chromosome in an (upright) crop: the long side of its ink's bounding box.

    The ink comes from the classifier's own normalisation, so either polarity and any bit depth work.
    """
    from .classifier import to_ink

    grey = np.asarray(grey)
    if grey.size == 0:
        return 1.0
    ys, xs = np.nonzero(to_ink(grey) > 0.5)
    if len(ys) == 0:
        return 1.0
    return float(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))


def expected_log_lengths() -> np.ndarray:
    """Per class: log expected length relative to the median chromosome of a 46,XX cell."""
    from .cytobands import chrom_sizes

    sizes = chrom_sizes()
    e = np.log(np.array([sizes[c] / 1e6 + LENGTH_OFFSET_MB for c in CHROMOSOMES]))
    normal = np.concatenate([e[:22], e[:22], e[22:23], e[22:23]])
    return e - np.median(normal)


def length_loglik(lengths, sigma: float | None = None) -> np.ndarray:
    """[n, 24] Gaussian log-likelihood (capped at -8) of each crop's relative length under each class."""
    sigma = LENGTH_SIGMA if sigma is None else sigma
    r = np.log(np.maximum(np.asarray(lengths, np.float64), 1.0))
    r = r - np.median(r)
    d = (r[:, None] - expected_log_lengths()[None, :]) / sigma
    return -0.5 * np.minimum(d**2, 16.0)


@dataclass
class CellCall:
    labels: list  # one chromosome name per crop
    probs: list  # the classifier's probability of the assigned label
    counts: dict  # chromosome -> copies assigned
    sex: str  # "XX" or "XY": the complement that fitted best
    karyotype: str  # ISCN-like summary, e.g. "46,XY" or "47,XX,+21"
    fits: bool  # True when the cell is a normal 46,XX or 46,XY
    cost: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _slots(sex: str):
    normal = {c: 2 for c in AUTOSOMES} | SEX_COMPLEMENTS[sex]
    cls, extra = [], []
    for c in CHROMOSOMES:
        for k in range(MAX_COPIES):
            cls.append(CHROMOSOMES.index(c))
            extra.append(k >= normal[c])
    return np.array(cls), np.array(extra), normal


def karyotype_string(counts: dict, sex_counts_normal: dict | None = None) -> str:
    n = sum(counts.values())
    sex = "X" * counts.get("X", 0) + "Y" * counts.get("Y", 0) or "--"
    changes = []
    for c in AUTOSOMES:
        d = counts.get(c, 0) - 2
        changes += [f"+{c}"] * max(d, 0) + [f"-{c}"] * max(-d, 0)
    return ",".join([str(n), sex] + changes)


def assign_cell(
    probs: np.ndarray, penalty: float = EXTRA_COPY_PENALTY, eps: float = 1e-9, lengths=None
) -> CellCall:
    """Jointly label the ``[n, 24]`` class probabilities of one cell's crops.

    ``lengths`` (px, one per crop, e.g. :func:`crop_length`) add the length prior when the cell has at
    least ``MIN_CROPS_FOR_LENGTH`` crops.
    """
    from scipy.optimize import linear_sum_assignment

    probs = np.asarray(probs, np.float64)
    n = len(probs)
    if n == 0:
        return CellCall([], [], {c: 0 for c in CHROMOSOMES}, "", "0,--", False, 0.0)
    logp = np.log(np.clip(probs, eps, 1.0))
    if lengths is not None and n >= MIN_CROPS_FOR_LENGTH:
        logp = logp + length_loglik(lengths)
    best = None
    for sex in SEX_COMPLEMENTS:
        cls, extra, normal = _slots(sex)
        cost = -logp[:, cls] + penalty * extra[None, :]
        if n > cost.shape[1]:  # more crops than slots: the leftovers keep their argmax
            cost = np.concatenate([cost, -logp], axis=1)
            cls = np.concatenate([cls, np.arange(len(CHROMOSOMES))])
        rows, cols = linear_sum_assignment(cost)
        total = float(cost[rows, cols].sum())
        if best is None or total < best[0]:
            labels = np.empty(n, int)
            labels[rows] = cls[cols]
            best = (total, sex, labels, normal)
    total, sex, labels, normal = best
    counts = {c: int((labels == i).sum()) for i, c in enumerate(CHROMOSOMES)}
    fits = all(counts[c] == normal[c] for c in CHROMOSOMES)
    return CellCall(
        labels=[CHROMOSOMES[i] for i in labels],
        probs=[float(probs[i, j]) for i, j in enumerate(labels)],
        counts=counts,
        sex=sex,
        karyotype=karyotype_string(counts),
        fits=fits,
        cost=total,
    )


def assign_groups(probs: np.ndarray, groups, penalty: float = EXTRA_COPY_PENALTY, lengths=None):
    """Assign every group (cell) of rows; returns (labels per row, {group: CellCall})."""
    groups = np.asarray(groups)
    labels = np.empty(len(groups), dtype=object)
    calls = {}
    for g in dict.fromkeys(groups.tolist()):
        idx = np.nonzero(groups == g)[0]
        call = assign_cell(probs[idx], penalty, lengths=None if lengths is None else np.asarray(lengths)[idx])
        labels[idx] = call.labels
        calls[g] = call
    return labels, calls


def format_top3(top) -> str:
    return ",".join(f"{c}:{p:.3f}" for c, p in top)


def read_spread(classifier, grey: np.ndarray, penalty: float = EXTRA_COPY_PENALTY, **segment_opts) -> dict:
    """Segment a metaphase image, classify each upright crop (both ways up) and assign the cell jointly.

    Returns {"crops": [Crop], "probs": [n, 24], "call": CellCall, "boxes": [per-crop dicts]}.
    """
    from .classifier import top_k
    from .crop import segment

    crops = segment(grey, **segment_opts)
    probs = classifier.predict([c.image for c in crops], both_ways=True)
    call = assign_cell(probs, penalty, lengths=[crop_length(c.image) for c in crops])
    tops = top_k(probs)
    boxes = []
    for i, c in enumerate(crops):
        boxes.append(
            c.box_dict()
            | {
                "pred": tops[i][0][0],
                "prob": round(tops[i][0][1], 4),
                "top3": format_top3(tops[i]),
                "assigned": call.labels[i] if call.labels else "",
                "split": c.split,
            }
        )
    return {"crops": crops, "probs": probs, "call": call, "boxes": boxes}


def sorted_karyogram(images, labels, probs=None, title: str | None = None, max_copies: int = 4):
    """Sorted karyogram of real crops (``shaped=False``): crops grouped by label, the surest copies first."""
    from PIL import Image

    from .karyogram import render_karyogram

    order = np.argsort(-np.asarray(probs if probs is not None else np.ones(len(labels))), kind="stable")
    seen: dict = {}
    pics = {}
    for i in order:
        chrom = labels[i]
        k = seen.get(chrom, 0) + 1
        if k > max_copies:
            continue
        seen[chrom] = k
        img = images[i]
        pics[(chrom, k)] = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))
    return render_karyogram(pics, title=title, shaped=False)


def score_cells(
    probs: np.ndarray, y: np.ndarray, groups, penalty: float = EXTRA_COPY_PENALTY, lengths=None
) -> dict:
    """Crop-level and cell-level accuracy of class probabilities against true class indices ``y``.

    ``cell_level_accuracy`` is the share of crops right after the joint assignment of each cell;
    ``cells_all_correct`` the share of cells with every crop right. ``labels`` holds the assigned indices.
    """
    groups = np.asarray(groups)
    y = np.asarray(y)
    if len(y) == 0:
        return {}
    labels, calls = assign_groups(probs, groups, penalty, lengths)
    idx = np.array([CHROMOSOMES.index(c) for c in labels])
    return {
        "crops": int(len(y)),
        "cells": int(len(calls)),
        "crop_accuracy": round(float((probs.argmax(1) == y).mean()), 4),
        "cell_level_accuracy": round(float((idx == y).mean()), 4),
        "cells_all_correct": round(
            float(np.mean([(idx[groups == g] == y[groups == g]).all() for g in calls])), 4
        ),
        "cells_fitting_46": int(sum(c.fits for c in calls.values())),
        "labels": idx,
    }
