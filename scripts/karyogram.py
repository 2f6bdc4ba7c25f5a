#!/usr/bin/env python
"""Assemble one sample's tiles into a karyogram: PNG (print resolution), PDF (vector labels), layout JSON.

Tiles come from a cohort's tiles directory (manifest.tsv + {sample}/{chrom}.{copy}.png). The sex
chromosomes drawn are the tiles present, unless --sex (the sample sheet's column) says otherwise.
"""

from __future__ import annotations

import argparse
import time

from karyospectrum.cli import InputError, log, run, setup_logging
from karyospectrum.karyogram import Style, load_sample_tiles, render_karyogram, write_karyogram


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiles", required=True, help="cohort tiles directory holding manifest.tsv")
    p.add_argument("--sample", required=True, help="sample id (manifest column 'sample')")
    p.add_argument("--sex", default="", help="XX, XY, X, female or male; empty: infer from the tiles present")
    p.add_argument("--chromosomes", nargs="*", default=None, help="draw only these (default: every tile)")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--layout", required=True, help="layout JSON: each chromosome copy's box")
    p.add_argument("--title", default=None, help="title (default: the sample id)")
    p.add_argument("--no-title", action="store_true", help="draw no title")
    p.add_argument(
        "--band-strength",
        type=float,
        default=Style.band_strength,
        help="G-band overlay, 0 (none) to 1 (full banding)",
    )
    p.add_argument(
        "--fit",
        choices=["mirror", "stretch"],
        default=Style.fit,
        help="repeat each tile down its silhouette (every other copy flipped), or stretch it over it",
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
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    if not 0.0 <= args.band_strength <= 1.0:
        raise InputError(None, f"--band-strength must be in [0, 1], got {args.band_strength}")
    t0 = time.perf_counter()
    images = load_sample_tiles(args.tiles, args.sample, args.sex, args.chromosomes)
    title = None if args.no_title else (args.title or args.sample)
    image, layout = render_karyogram(
        images,
        title=title,
        shaped=True,
        band_strength=args.band_strength,
        outline=not args.no_outline,
        fit=args.fit,
        chrom1_height=args.chrom1_height,
        chromatid_width=args.chromatid_width,
        dpi=args.dpi,
    )
    layout["sample"] = args.sample
    write_karyogram(image, layout, args.png, args.pdf, args.layout)
    n_x = sum(1 for c, _ in images if c == "X")
    n_y = sum(1 for c, _ in images if c == "Y")
    log.info(
        "karyogram %s: %d tiles (X x%d, Y x%d), %dx%d px, %.1f s",
        args.sample,
        len(images),
        n_x,
        n_y,
        layout["width"],
        layout["height"],
        time.perf_counter() - t0,
    )
    return 0


if __name__ == "__main__":
    run(main)
