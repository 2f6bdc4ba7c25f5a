"""Reading chromosome images back in bulk: a batch of art karyograms (legibility), folders and manifests of crops.

A batch job loads the classifier once, preprocesses every sample's crops, and fills the device's batches
across samples. Every input of a batch is read and checked before any output is written, so one bad
sample fails its batch with one line naming it and leaves the other samples' outputs untouched.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import CHROMOSOMES
from .batches import per_sample
from .errors import InputError
from .io import write_text

log = logging.getLogger("karyospectrum.legibility")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
LAYOUT_COLUMNS = ["box", "copy", "pred", "prob", "top3", "expected"]
LEGIBILITY_COLUMNS = ["sample", "boxes", "legibility", "legibility_cell_level"]


@dataclass(frozen=True)
class BatchSettings:
    """Defaults of the classify step (config classifier.*; argparse takes them from here)."""

    device: str = "auto"
    threads: int = 2
    # crops per forward pass, filled across the samples of a batch job: on 2 CPU threads 32 is faster per
    # crop than 64 or 256 (the activations stay in cache; benchmarks/bench_classifier.py --compare)
    batch: int = 32


@dataclass
class Result:
    """What one classified input gives: its table, a summary, and the sorted-karyogram inputs."""

    rows: list[dict]
    columns: list[str]
    summary: dict
    drawn: tuple = ()  # (crops, labels, probs) for karyotype.sorted_karyogram


def write_table(rows: list[dict], out: str | None, columns: list[str]) -> None:
    """A TSV of ``rows`` (missing keys empty), atomically, or to stdout without ``out``."""
    lines = ["\t".join(columns)] + ["\t".join(str(r.get(c, "")) for c in columns) for r in rows]
    text = "\n".join(lines) + "\n"
    if out:
        write_text(out, text)
    else:
        sys.stdout.write(text)


# --- art karyograms: crop each layout box, classify, score ---


@dataclass
class Karyogram:
    """One art karyogram of a batch: its boxes and preprocessed crops, then its predictions."""

    sample: str | None
    boxes: list[dict]
    squares: np.ndarray
    crops: list | None = None  # kept only when a sorted karyogram is drawn
    probs: np.ndarray = field(default_factory=lambda: np.zeros((0, len(CHROMOSOMES)), np.float32))


def load_karyogram(clf, layout_path, image_path, keep_crops: bool = False) -> Karyogram:
    """Crop every layout box out of the karyogram PNG and preprocess it for ``clf``."""
    from .crop import crop_boxes
    from .imaging import open_image, to_grey
    from .karyogram import read_layout

    layout = read_layout(layout_path)
    grey = to_grey(open_image(image_path))
    h, w = grey.shape[:2]
    for b in layout["boxes"]:
        if not (0 <= b["x0"] < b["x1"] <= w and 0 <= b["y0"] < b["y1"] <= h):
            raise InputError(layout_path, f"a box lies outside the {w}x{h} image {Path(image_path).name}")
    crops = crop_boxes(grey, layout["boxes"])
    squares = np.stack(clf.squares(crops)) if crops else np.zeros((0, clf.size, clf.size), np.float32)
    return Karyogram(layout.get("sample"), layout["boxes"], squares, crops if keep_crops else None)


def classify_karyograms(clf, karyograms: list[Karyogram], batch: int = BatchSettings.batch) -> None:
    """One pass over every crop of the batch (device batches span samples); sets each ``probs``."""
    if not karyograms:
        return
    probs = clf.predict_squares(np.concatenate([k.squares for k in karyograms]), batch)
    ends = np.cumsum([len(k.squares) for k in karyograms])
    for k, part in zip(karyograms, np.split(probs, ends[:-1])):
        k.probs = part


def legibility(k: Karyogram, checkpoint: str | Path | None = None) -> tuple[list[dict], dict]:
    """Rows (box, copy, pred, prob, top3, expected) and the summary of one classified karyogram.

    Legibility is the share of boxes read as their own chromosome; the cell-level one labels the
    boxes jointly as one cell of 46 (the karyotype assignment of ``assign_cell``).
    """
    from .classifier import top_k
    from .karyotype import assign_cell, format_top3

    rows = []
    for b, top in zip(k.boxes, top_k(k.probs)):
        rows.append(
            {
                "box": f"{b['x0']},{b['y0']},{b['x1']},{b['y1']}",
                "copy": b.get("copy", ""),
                "pred": top[0][0],
                "prob": f"{top[0][1]:.4f}",
                "top3": format_top3(top),
                "expected": b["chrom"],
            }
        )
    expected = [r["expected"] for r in rows]
    legible = float(np.mean([r["pred"] == e for r, e in zip(rows, expected)])) if rows else 0.0
    cell = float(np.mean([a == e for a, e in zip(assign_cell(k.probs).labels, expected)])) if rows else 0.0
    summary = {
        "sample": k.sample,
        "boxes": len(rows),
        "legibility": round(legible, 4),
        "legibility_cell_level": round(cell, 4),
    }
    if checkpoint is not None:
        summary["checkpoint"] = Path(checkpoint).name
    return rows, summary


def legibility_rows(paths) -> list[dict]:
    """The legibility table: one row per classify summary (rule classify's ``{sample}.json``)."""
    rows = []
    for path in paths:
        try:
            s = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(path, f"not a classify summary ({type(err).__name__})") from None
        if not isinstance(s, dict):
            raise InputError(path, "not a classify summary (not a JSON object)")
        rows.append(
            {
                "sample": Path(path).stem,
                "boxes": s.get("boxes", 0),
                "legibility": s.get("legibility", ""),
                "legibility_cell_level": s.get("legibility_cell_level", ""),
            }
        )
    return rows


# --- crops from a folder, a manifest or one image ---


def folder_manifest(folder: str):
    """Every image under ``folder`` as a manifest (path, file[, chrom from a 1..22/X/Y subfolder])."""
    import pandas as pd

    root = Path(folder)
    if not root.is_dir():
        raise InputError(folder, "folder not found")
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(folder, "no images in the folder")
    rel = [f.relative_to(root) for f in files]
    chrom = [
        r.parts[0].removeprefix("chr")
        if len(r.parts) > 1 and r.parts[0].removeprefix("chr") in CHROMOSOMES
        else ""
        for r in rel
    ]
    m = pd.DataFrame({"path": [str(r) for r in rel], "file": [str(f) for f in files]})
    if any(chrom):
        m["chrom"] = chrom
    return m


def classify_table(clf, m, group_by: str, batch: int, use_length: bool = True):
    """Rows for a manifest-like table (columns path, file[, chrom][, group]).

    Returns (rows, crops, probs, labels, summary); labels are the cell-level assignment when grouped.
    """
    from .classifier import load_grey, top_k
    from .karyotype import assign_groups, crop_length, format_top3

    crops = [load_grey(f) for f in m["file"]]
    probs = clf.predict(crops, batch=batch)
    tops = top_k(probs)
    has_expected = "chrom" in m.columns and (m["chrom"] != "").any()
    rows = []
    for i, (path, top) in enumerate(zip(m["path"], tops)):
        row = {"path": path, "pred": top[0][0], "prob": f"{top[0][1]:.4f}", "top3": format_top3(top)}
        if has_expected:
            row["expected"] = m["chrom"].iloc[i]
        rows.append(row)
    summary = {"crops": len(rows)}
    labels = [r["pred"] for r in rows]
    if group_by:
        groups = m[group_by].to_numpy()
        lengths = [crop_length(c) for c in crops] if use_length else None
        assigned, calls = assign_groups(probs, groups, lengths=lengths)
        for r, g, a in zip(rows, groups, assigned):
            r["cell"], r["assigned"], r["cell_fits"] = g, a, calls[g].fits
        summary["cells"] = len(calls)
        summary["cells_fitting_46"] = int(sum(c.fits for c in calls.values()))
        summary["aneuploidy_candidates"] = {str(g): c.karyotype for g, c in calls.items() if not c.fits}
        labels = list(assigned)
    if has_expected:
        exp = m["chrom"].to_numpy()
        summary["crop_accuracy"] = round(float(np.mean([r["pred"] == e for r, e in zip(rows, exp)])), 4)
        if group_by:
            summary["cell_level_accuracy"] = round(float(np.mean([a == e for a, e in zip(labels, exp)])), 4)
    cols = ["path", "pred", "prob", "top3"] + (["expected"] if has_expected else [])
    cols += ["cell", "assigned", "cell_fits"] if group_by else []
    return rows, cols, crops, probs, labels, summary


def classify_layouts(
    clf,
    layouts,
    images,
    batch: int = BatchSettings.batch,
    keep_crops: bool = False,
    checkpoint=None,
    threads=1,
):
    """A batch of art karyograms ({sample}.layout.json + PNG): one Result each, in order. ``threads``
    karyograms are decoded, cropped and preprocessed at a time; then one pass classifies every crop."""
    items = [
        (Path(lay).name.removesuffix(".layout.json"), (clf, lay, img, keep_crops))
        for lay, img in zip(layouts, images)
    ]
    ks = per_sample(items, load_karyogram, threads)
    classify_karyograms(clf, ks, batch)
    out = []
    for k in ks:
        rows, summary = legibility(k, checkpoint)
        drawn = (k.crops, [r["pred"] for r in rows], k.probs.max(1, initial=0)) if keep_crops else ()
        out.append(Result(rows, LAYOUT_COLUMNS, summary, drawn))
    return out


def classify_spread(clf, image) -> Result:
    """A metaphase spread: segment, classify each chromosome, assign the cell's karyotype."""
    from .imaging import open_image, to_grey
    from .karyotype import read_spread

    res = read_spread(clf, to_grey(open_image(image)))
    call = res["call"]
    rows = [{"box": f"{b['x0']},{b['y0']},{b['x1']},{b['y1']}"} | b for b in res["boxes"]]
    summary = {"crops": len(rows), "karyotype": call.karyotype, "fits": call.fits, "sex": call.sex}
    drawn = ([c.image for c in res["crops"]], call.labels, call.probs)
    return Result(rows, ["box", "pred", "prob", "top3", "assigned"], summary, drawn)


def classify_crops(
    clf, image=None, folder=None, manifest=None, group_by="", as_cell=False, batch=64, use_length=True
) -> Result:
    """One crop, a folder of crops or a crop manifest (optionally grouped into cells)."""
    import pandas as pd

    from .classifier import read_manifest

    if image:
        m = pd.DataFrame({"path": [str(image)], "file": [str(image)]})
    else:
        m = folder_manifest(folder) if folder else read_manifest(manifest, need_chrom=False)
    if group_by and group_by not in m.columns:
        raise InputError(manifest or folder, f"no column {group_by!r} to group by")
    if as_cell and not group_by:
        m["cell"], group_by = "all", "cell"
    rows, cols, crops, probs, labels, summary = classify_table(clf, m, group_by, batch, use_length)
    return Result(rows, cols, summary, (crops, labels, probs.max(1, initial=0)))


def classify_inputs(clf, args) -> list[Result]:
    """The classify step's inputs (its parsed arguments): art karyograms by layout, a spread, or crops."""
    if args.layout:
        keep = bool(args.karyogram)
        return classify_layouts(clf, args.layout, args.image, args.batch, keep, args.checkpoint, args.threads)
    if args.spread:
        return [classify_spread(clf, args.image[0])]
    one = args.image[0] if args.image else None
    opts = dict(group_by=args.group_by, as_cell=args.as_cell, use_length=not args.no_length_prior)
    return [classify_crops(clf, one, args.folder, args.manifest, batch=args.batch, **opts)]


def write_results(results: list[Result], outs, summaries) -> None:
    """Each result's table (to its ``outs[i]``, or stdout) and summary JSON; a summary line in the log."""
    from .io import write_json

    for i, r in enumerate(results):
        write_table(r.rows, outs[i] if outs else None, r.columns)
        if summaries:
            write_json(summaries[i], r.summary)
        log.info("%s", ", ".join(f"{k}: {v}" for k, v in r.summary.items() if k != "aneuploidy_candidates"))


def write_legibility_table(summaries, out=None) -> int:
    """The legibility TSV of the art karyograms' summaries (to ``out`` or stdout); 0 (an exit code)."""
    rows = legibility_rows(summaries)
    write_table(rows, out, LEGIBILITY_COLUMNS)
    log.info("legibility table: %d karyograms", len(rows))
    return 0
