#!/usr/bin/env python
"""Classify chromosome images as 1..22, X or Y.

  --image IMG                 one crop (--spread: a metaphase image, segmented first)
  --manifest CSV              crops listed in a CSV (path relative to the CSV's folder[, chrom, cell...])
  --folder DIR                every image under DIR (a subfolder named 1..22/X/Y gives the expected class)
  --layout JSON --image PNG   an art karyogram: each layout box is cropped and classified (legibility)
  --legibility JSON...        gather the art karyograms' summaries into one legibility table
Writes a TSV (path or box, pred, prob, top3[, expected]) and optionally a sorted karyogram and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from karyospectrum import CHROMOSOMES  # noqa: E402
from karyospectrum.cli import InputError, run, setup_logging  # noqa: E402

log = logging.getLogger("karyospectrum.classify")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="classifier .safetensors (model card beside it)")
    p.add_argument("--legibility", nargs="+", help="summaries (JSON) of --layout runs -> one TSV")
    p.add_argument("--manifest", help="CSV with a path column (relative to the CSV's folder)")
    p.add_argument("--folder", help="folder of crops")
    p.add_argument("--layout", help="layout.json of an art karyogram (with --image)")
    p.add_argument("--image", help="one crop, a spread (--spread) or the karyogram PNG of --layout")
    p.add_argument(
        "--spread", action="store_true", help="--image is a metaphase spread: segment, then classify"
    )
    p.add_argument(
        "--group-by", default="", help="manifest column naming the cell: joint cell-level assignment"
    )
    p.add_argument("--as-cell", action="store_true", help="treat all crops of --folder as one cell")
    p.add_argument(
        "--no-length-prior",
        action="store_true",
        help="cell-level assignment from the class probabilities only (no relative-length likelihood)",
    )
    p.add_argument("--out", help="TSV (default: stdout)")
    p.add_argument("--karyogram", help="sorted karyogram PNG of the predictions")
    p.add_argument("--summary", help="JSON summary (accuracy / legibility, karyotypes)")
    p.add_argument("--title", help="karyogram title")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--log")
    args = p.parse_args(argv)
    if args.legibility:
        return args
    if not args.checkpoint:
        p.error("--checkpoint is required")
    given = [k for k in ("manifest", "folder", "layout") if getattr(args, k)]
    if len(given) > 1 or (not given and not args.image):
        p.error("give one of --image, --manifest, --folder or --layout (+ --image)")
    if args.layout and not args.image:
        p.error("--layout needs --image (the karyogram PNG)")
    if (args.manifest or args.folder) and args.image:
        p.error("--image goes alone, or with --layout")
    return args


def write_table(rows: list[dict], out: str | None, columns: list[str]) -> None:
    from karyospectrum.io import write_text

    lines = ["\t".join(columns)] + ["\t".join(str(r.get(c, "")) for c in columns) for r in rows]
    text = "\n".join(lines) + "\n"
    if out:
        write_text(out, text)
    else:
        sys.stdout.write(text)


def folder_manifest(folder: str):
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
    """Rows for a manifest-like table (columns path, file[, chrom][, group]); returns (rows, crops, summary)."""
    from karyospectrum.classifier import load_grey, top_k
    from karyospectrum.karyotype import assign_groups, crop_length, format_top3

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
    return rows, crops, probs, labels, summary


def legibility_table(paths, out):
    rows = []
    for path in paths:
        try:
            s = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(path, f"not a classify summary ({err})") from err
        rows.append(
            {
                "sample": Path(path).stem,
                "boxes": s.get("boxes", 0),
                "legibility": s.get("legibility", ""),
                "legibility_cell_level": s.get("legibility_cell_level", ""),
            }
        )
    write_table(rows, out, ["sample", "boxes", "legibility", "legibility_cell_level"])
    if rows:
        log.info(
            "mean legibility %.3f over %d karyograms", np.mean([r["legibility"] for r in rows]), len(rows)
        )


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    if args.legibility:
        legibility_table(args.legibility, args.out)
        return 0
    from karyospectrum.classifier import Classifier, read_manifest, top_k
    from karyospectrum.io import write_json
    from karyospectrum.karyotype import assign_cell, format_top3, read_spread, sorted_karyogram

    clf = Classifier.load(args.checkpoint, device=args.device, threads=args.threads)
    karyo_images, karyo_labels, karyo_probs = None, None, None
    if args.layout:
        from karyospectrum.crop import crop_boxes
        from karyospectrum.imaging import open_image, to_grey

        try:
            layout = json.loads(Path(args.layout).read_text())
            boxes = layout["boxes"]
        except FileNotFoundError:
            raise InputError(args.layout, "layout not found") from None
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise InputError(args.layout, f"not a karyogram layout ({type(err).__name__}: {err})") from err
        grey = to_grey(open_image(args.image))
        crops = crop_boxes(grey, boxes)
        probs = clf.predict(crops, batch=args.batch)
        tops = top_k(probs)
        rows = []
        for b, top in zip(boxes, tops):
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
        call = assign_cell(probs)
        legible = float(np.mean([r["pred"] == r["expected"] for r in rows])) if rows else 0.0
        summary = {
            "sample": layout.get("sample"),
            "boxes": len(rows),
            "legibility": round(legible, 4),
            "legibility_cell_level": round(
                float(np.mean([a == r["expected"] for a, r in zip(call.labels, rows)])), 4
            )
            if rows
            else 0.0,
            "checkpoint": Path(args.checkpoint).name,
        }
        log.info("legibility %.3f (%d boxes)", legible, len(rows))
        write_table(rows, args.out, ["box", "copy", "pred", "prob", "top3", "expected"])
        karyo_images, karyo_labels, karyo_probs = (
            crops,
            [r["pred"] for r in rows],
            probs.max(1) if len(rows) else [],
        )
    elif args.image and args.spread:
        from karyospectrum.imaging import open_image, to_grey

        res = read_spread(clf, to_grey(open_image(args.image)))
        call = res["call"]
        rows = [{"box": f"{b['x0']},{b['y0']},{b['x1']},{b['y1']}"} | b for b in res["boxes"]]
        write_table(rows, args.out, ["box", "pred", "prob", "top3", "assigned"])
        summary = {"crops": len(rows), "karyotype": call.karyotype, "fits": call.fits, "sex": call.sex}
        karyo_images = [c.image for c in res["crops"]]
        karyo_labels, karyo_probs = call.labels, call.probs
    else:
        if args.image:
            import pandas as pd

            m = pd.DataFrame({"path": [args.image], "file": [args.image]})
        elif args.folder:
            m = folder_manifest(args.folder)
        else:
            m = read_manifest(args.manifest, need_chrom=False)
        group = args.group_by
        if group and group not in m.columns:
            raise InputError(args.manifest or args.folder, f"no column {group!r} to group by")
        if args.as_cell and not group:
            m["cell"], group = "all", "cell"
        rows, crops, probs, labels, summary = classify_table(
            clf, m, group, args.batch, use_length=not args.no_length_prior
        )
        cols = ["path", "pred", "prob", "top3"] + (
            ["expected"] if "expected" in (rows[0] if rows else {}) else []
        )
        cols += ["cell", "assigned", "cell_fits"] if group else []
        write_table(rows, args.out, cols)
        karyo_images, karyo_labels, karyo_probs = crops, labels, probs.max(1)
    for k, v in summary.items():
        if k != "aneuploidy_candidates":
            log.info("%s: %s", k, v)
    if args.summary:
        write_json(args.summary, summary)
    if args.karyogram:
        from karyospectrum.io import save_png

        img, _ = sorted_karyogram(karyo_images, karyo_labels, karyo_probs, title=args.title)
        save_png(args.karyogram, img)
    return 0


if __name__ == "__main__":
    run(main)
