#!/usr/bin/env python
"""A cohort's contact sheet: every sample's karyogram as a thumbnail over its sample id.

Karyograms are shrunk one at a time (a 2,504-sample cohort never sits in memory whole); for a large
cohort the rows get more columns (the sheet stays about square) and the thumbnails narrow so that the
sheet stays within --max-pixels.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from karyospectrum.cli import InputError, log, run, setup_logging
from karyospectrum.karyogram import contact_sheet, open_image, write_png
from PIL import Image

MAX_PIXELS = 60_000_000  # ~180 MB of RGB: 2,504 karyograms at ~120 px wide


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--karyograms", nargs="+", required=True, help="karyogram PNGs ({sample}.png)")
    p.add_argument("--out", required=True, help="contact sheet PNG")
    p.add_argument("--columns", type=int, default=6)
    p.add_argument("--thumb-width", type=int, default=300, help="pixels per thumbnail (at most)")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help="pixels of the whole sheet (at most)")
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def thumbnail(path, width: int) -> Image.Image:
    img = open_image(path)
    img = img.reduce(max(1, img.width // (2 * width)))  # cheap box shrink first, then a good resample
    return img.resize((width, max(1, round(img.height * width / img.width))), Image.Resampling.LANCZOS)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    if args.columns < 1 or args.thumb_width < 16:
        raise InputError(None, "--columns must be >= 1 and --thumb-width >= 16")
    first = open_image(args.karyograms[0])
    n, aspect = len(args.karyograms), first.height / first.width
    columns = max(args.columns, round(math.sqrt(n * aspect)))  # a large cohort's sheet stays about square
    width = min(args.thumb_width, max(16, int(math.sqrt(args.max_pixels / (n * aspect * 1.2)))))
    if width < args.thumb_width:
        log.info(
            "%d karyograms: thumbnails %d px wide (not %d) to stay within %d pixels",
            n,
            width,
            args.thumb_width,
            args.max_pixels,
        )
    # The sample id is the file name without ".png" (rule karyogram writes results/karyograms/{sample}.png).
    items = [(Path(p).name.removesuffix(".png"), thumbnail(p, width)) for p in args.karyograms]
    sheet = contact_sheet(items, columns=columns, thumb_width=width)
    write_png(sheet, args.out, dpi=150)
    log.info("contact sheet: %d karyograms, %dx%d px", n, sheet.width, sheet.height)
    return 0


if __name__ == "__main__":
    run(main)
