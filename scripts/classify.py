#!/usr/bin/env python
"""Classify chromosome images as 1..22, X or Y.

  --image IMG                 one crop (--spread: a metaphase image, segmented first)
  --manifest CSV              crops listed in a CSV (path relative to the CSV's folder[, chrom, cell...])
  --folder DIR                every image under DIR (a subfolder named 1..22/X/Y gives the expected class)
  --layout JSON.. --image PNG..  art karyograms, a batch (one --out/--summary each): every layout box is
                              cropped and classified (legibility); one model load, device batches span samples
  --legibility JSON...        gather the art karyograms' summaries into one legibility table
Writes a TSV (path or box, pred, prob, top3[, expected]) and optionally a sorted karyogram and a JSON summary.
"""

from __future__ import annotations

import argparse

from karyospectrum.cli import run, setup_logging
from karyospectrum.legibility import BatchSettings as D


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--checkpoint", help="classifier .safetensors (model card beside it)")
    add("--legibility", nargs="+", help="summaries (JSON) of --layout runs, or batch manifests -> one TSV")
    add("--manifest", help="CSV with a path column (relative to the CSV's folder)")
    add("--folder", help="folder of crops")
    add("--layout", nargs="+", help="layout.json of art karyograms (with as many --image)")
    add("--image", nargs="+", help="one crop, a spread (--spread) or the PNGs of --layout")
    add("--spread", action="store_true", help="--image is a metaphase spread: segment first")
    add("--group-by", default="", help="manifest column naming the cell: cell-level assignment")
    add("--as-cell", action="store_true", help="treat all crops of --folder as one cell")
    add("--no-length-prior", action="store_true", help="cell-level assignment without the lengths")
    add("--out", nargs="+", help="TSV (default: stdout); one per --layout")
    add("--karyogram", help="sorted karyogram PNG of the predictions")
    add("--summary", nargs="+", help="JSON summary (accuracy / legibility); one per --layout")
    add("--title", help="karyogram title")
    add("--sample", nargs="+", help="sample id per --layout (for --batch-manifest)")
    add("--batch-manifest", help="TSV of the batch written last: sample, tsv, summary (needs --sample)")
    add("--device", default=D.device)
    add("--threads", type=int, default=D.threads)
    add("--batch", type=int, default=D.batch, help="crops per forward pass (across the batch's samples)")
    add("--log")
    a = p.parse_args(argv)
    n = len(a.layout or [None])
    if a.legibility:
        return a
    if not a.checkpoint:
        p.error("--checkpoint is required")
    if sum(map(bool, (a.manifest, a.folder, a.layout))) > 1 or not (a.manifest or a.folder or a.image):
        p.error("give one of --image, --manifest, --folder or --layout (+ --image)")
    if a.layout and len(a.image or []) != n:
        p.error("--layout needs one --image (the karyogram PNG) per layout")
    if not a.layout and a.image and ((a.manifest or a.folder) or len(a.image) > 1):
        p.error("--image goes alone (one), or with --layout")
    if a.batch_manifest and not (a.out and a.summary and len(a.sample or []) == n):
        p.error("--batch-manifest needs one --sample, --out and --summary per --layout")
    for name in ("out", "summary"):
        if len(getattr(a, name) or [None] * n) != n:
            p.error(f"give one --{name} per --layout ({n})")
    if a.karyogram and n > 1:
        p.error("--karyogram draws one karyogram: give one --layout")
    return a


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    from karyospectrum import legibility as L
    from karyospectrum.batches import expand_batches, write_batch_manifest
    from karyospectrum.io import save_png

    if args.legibility:
        summaries = expand_batches(args.legibility, "summary")
        return L.write_legibility_table(summaries, args.out[0] if args.out else None)
    from karyospectrum.classifier import Classifier
    from karyospectrum.karyotype import sorted_karyogram

    clf = Classifier.load(args.checkpoint, device=args.device, threads=args.threads)
    results = L.classify_inputs(clf, args)
    L.write_results(results, args.out, args.summary)
    if args.batch_manifest:
        write_batch_manifest(args.batch_manifest, args.sample, tsv=args.out, summary=args.summary)
    if args.karyogram:
        save_png(args.karyogram, sorted_karyogram(*results[0].drawn, title=args.title)[0])
    return 0


if __name__ == "__main__":
    run(main)
