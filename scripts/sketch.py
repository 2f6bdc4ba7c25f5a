"""Draw a cohort's genome sketches: one colour-coded map per sample x chromosome x present copy.

    python scripts/sketch.py --latents results/latents/example/*.npz --out results/sketches/example/tiles

Each tile (``--size`` wide, at its chromosome's aspect) is computed from that copy's keyed latent only (five classes: white land, black roads,
green parks, red buildings, blue water). Writes ``OUT/{sample}/{chrom}.{copy}.png`` and
``OUT/manifest.tsv``; scripts/karyogram.py assembles them into a sketch karyogram.
"""

from __future__ import annotations

import argparse
import logging
import time

from karyospectrum.cli import run, setup_logging
from karyospectrum.sketch import SketchSettings, sketch_cohort

log = logging.getLogger("karyospectrum.sketch")


def parse_args(argv=None):
    d = SketchSettings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--latents", nargs="+", required=True, help="latents .npz files of one cohort (rule hash_latents)"
    )
    p.add_argument("--out", required=True, help="output folder of sketch tiles")
    p.add_argument("--size", type=int, default=d.size, help="tile width in px (the styles' resolution)")
    p.add_argument("--chrom1-height", type=int, default=d.chrom1_height, help="karyogram px of chromosome 1")
    p.add_argument(
        "--chromatid-width",
        type=int,
        default=d.chromatid_width,
        help="karyogram px per copy (0: square tiles)",
    )
    p.add_argument("--compress-level", type=int, default=d.compress_level, choices=range(10), metavar="0-9")
    p.add_argument("--log", help="log file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    t0 = time.time()
    rows = sketch_cohort(
        args.latents,
        args.out,
        SketchSettings(args.size, args.chrom1_height, args.chromatid_width, args.compress_level),
    )
    n_samples = len({r[0] for r in rows})
    log.info(
        "sketched %d tiles of %d samples into %s in %.1f s", len(rows), n_samples, args.out, time.time() - t0
    )
    return 0


if __name__ == "__main__":
    run(main)
