#!/usr/bin/env python
"""Assemble samples' tiles into karyograms: PNG (print resolution), PDF (vector labels), layout JSON.

Tiles come from a cohort's tiles directory (manifest.tsv + {sample}/{chrom}.{copy}.png). The sex
chromosomes drawn are the tiles present, unless --sex (the sample sheet's column) says otherwise.
A batch: --sample S1 S2 ... with one --sex (auto: infer), --png, --pdf and --layout per sample, in order.
"""

from __future__ import annotations

import argparse

from karyospectrum.batches import render_karyograms
from karyospectrum.cli import run, setup_logging
from karyospectrum.errors import InputError
from karyospectrum.karyogram import Style


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiles", required=True, help="cohort tiles directory holding manifest.tsv")
    p.add_argument("--sample", nargs="+", required=True, help="sample ids (manifest column 'sample')")
    p.add_argument(
        "--sex",
        nargs="*",
        default=None,
        help="XX, XY, X, female or male per sample; auto or '': infer from the tiles present",
    )
    p.add_argument("--chromosomes", nargs="*", default=None, help="draw only these (default: every tile)")
    p.add_argument("--png", nargs="+", required=True, help="one per sample")
    p.add_argument("--pdf", nargs="+", required=True, help="one per sample")
    p.add_argument("--layout", nargs="+", required=True, help="layout JSON per sample: each copy's box")
    p.add_argument("--title", default=None, help="title of a single sample (default: the sample id)")
    p.add_argument("--no-title", action="store_true", help="draw no title")
    p.add_argument(
        "--band-strength",
        type=float,
        default=Style.band_strength,
        help="G-band overlay, 0 (none) to 1 (full banding)",
    )
    p.add_argument(
        "--fit",
        choices=["stretch"],
        default=Style.fit,
        help="tiles painted at their silhouette's size are used as they are; others are stretched to it",
    )
    p.add_argument("--no-outline", action="store_true", help="draw no outline around each chromosome")
    p.add_argument(
        "--chrom1-height",
        type=int,
        default=Style.chrom1_height,
        help="pixels of chromosome 1; the others scale with length",
    )
    p.add_argument("--chromatid-width", type=int, default=Style.chromatid_width, help="pixels per copy")
    p.add_argument("--dpi", type=int, default=Style.dpi, help="print resolution recorded in the PNG and PDF")
    p.add_argument("--paper", default=Style.paper, help="poster: fill this paper (A4, A3, A2, A1) at --dpi")
    p.add_argument(
        "--batch-manifest", default=None, help="TSV of the batch written last: sample, png, pdf, layout"
    )
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    if not 0.0 <= args.band_strength <= 1.0:
        raise InputError(None, f"--band-strength must be in [0, 1], got {args.band_strength}")
    if args.title and len(args.sample) > 1:
        raise InputError(None, "--title names a single karyogram; a batch is titled by sample id")
    sexes = ["" if s == "auto" else s for s in args.sex or [""] * len(args.sample)]
    style = dict(
        band_strength=args.band_strength, outline=not args.no_outline, fit=args.fit, paper=args.paper
    )
    style |= dict(chrom1_height=args.chrom1_height, chromatid_width=args.chromatid_width, dpi=args.dpi)
    title = args.title or (not args.no_title)
    outputs = (args.png, args.pdf, args.layout)
    render_karyograms(
        args.tiles, args.sample, sexes, *outputs, args.chromosomes, title, args.batch_manifest, **style
    )
    return 0


if __name__ == "__main__":
    run(main)
