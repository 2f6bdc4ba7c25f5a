#!/usr/bin/env python
"""A cohort's contact sheet: every sample's karyogram as a thumbnail over its sample id."""

from __future__ import annotations

import argparse
from pathlib import Path

from karyospectrum.cli import InputError, log, run, setup_logging
from karyospectrum.karyogram import contact_sheet, open_image, write_png


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--karyograms", nargs="+", required=True, help="karyogram PNGs ({sample}.png)")
    p.add_argument("--out", required=True, help="contact sheet PNG")
    p.add_argument("--columns", type=int, default=6)
    p.add_argument("--thumb-width", type=int, default=300, help="pixels per thumbnail")
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    if args.columns < 1 or args.thumb_width < 16:
        raise InputError(None, "--columns must be >= 1 and --thumb-width >= 16")
    # The sample id is the file name without ".png" (rule karyogram writes results/karyograms/{sample}.png).
    items = [(Path(p).name.removesuffix(".png"), open_image(p)) for p in args.karyograms]
    sheet = contact_sheet(items, columns=args.columns, thumb_width=args.thumb_width)
    write_png(sheet, args.out, dpi=150)
    log.info("contact sheet: %d karyograms, %dx%d px", len(items), sheet.width, sheet.height)
    return 0


if __name__ == "__main__":
    run(main)
