#!/usr/bin/env python
"""A cohort's contact sheet: every sample's karyogram as a thumbnail over its sample id.

Karyograms are shrunk one at a time (a 2,504-sample cohort never sits in memory whole); for a large
cohort the rows get more columns (the sheet stays about square) and the thumbnails narrow so that the
sheet stays within --max-pixels.
"""

from __future__ import annotations

import argparse

from karyospectrum import karyogram as K
from karyospectrum.batches import expand_batches
from karyospectrum.cli import log, run, setup_logging
from karyospectrum.io import save_png


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--karyograms",
        nargs="+",
        required=True,
        help="karyogram PNGs ({sample}.png), or batch manifests (.tsv)",
    )
    p.add_argument("--out", required=True, help="contact sheet PNG")
    p.add_argument("--columns", type=int, default=K.CONTACT_SHEET_COLUMNS, help="columns (at least)")
    p.add_argument(
        "--thumb-width", type=int, default=K.CONTACT_SHEET_THUMB_WIDTH, help="pixels per thumbnail (at most)"
    )
    p.add_argument(
        "--max-pixels", type=int, default=K.CONTACT_SHEET_PIXELS, help="pixels of the whole sheet (at most)"
    )
    p.add_argument("--threads", type=int, default=1, help="karyograms read and shrunk at a time")
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    karyograms = expand_batches(args.karyograms, "png")
    sheet = K.cohort_contact_sheet(karyograms, args.columns, args.thumb_width, args.max_pixels, args.threads)
    save_png(args.out, sheet, dpi=150)
    log.info("contact sheet: %d karyograms, %dx%d px", len(karyograms), sheet.width, sheet.height)
    return 0


if __name__ == "__main__":
    run(main)
