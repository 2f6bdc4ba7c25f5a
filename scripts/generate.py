"""Paint a cohort's latents into tiles: one PNG per sample x chromosome x present copy.

    python scripts/generate.py --latents results/latents/demo/*.npz --style wallpaper --out results/tiles/demo

Writes ``OUT/{sample}/{chrom}.{copy}.png`` (copy 1 and 2 for phased haplotypes) and
``OUT/manifest.tsv`` (sample, chrom, copy, path relative to OUT). A coordinate generator paints
each copy once at its silhouette's size (--chrom1-height, --chromatid-width: the karyogram's).
The same latents, checkpoint and device give byte-identical PNGs.
"""

from __future__ import annotations

import argparse
import logging
import time

from karyospectrum.cli import run, setup_logging
from karyospectrum.painting import CHROM1_HEIGHT, DEFAULT_STYLE, MODELS_DIR, REFERENCE_CHROMATID_WIDTH

log = logging.getLogger("karyospectrum.generate")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latents", nargs="+", required=True, help="latents .npz files (one per chromosome)")
    p.add_argument("--style", default=DEFAULT_STYLE, help=f"bundled style: {MODELS_DIR}/generator-STYLE")
    p.add_argument(
        "--checkpoint", default="", help="generator .safetensors (card beside it); wins over --style"
    )
    p.add_argument("--models-dir", default=MODELS_DIR, help="where the bundled styles are")
    p.add_argument(
        "--chrom1-height", type=int, default=CHROM1_HEIGHT, help="tile height of chromosome 1 (px)"
    )
    p.add_argument(
        "--chromatid-width", type=int, default=REFERENCE_CHROMATID_WIDTH, help="tile width of one copy (px)"
    )
    p.add_argument("--out", required=True, help="output folder of tiles")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda")
    p.add_argument("--no-autocast", action="store_true", help="paint in float32 on CUDA too")
    p.add_argument(
        "--compress-level", type=int, default=1, choices=range(10), metavar="0-9", help="PNG zlib level"
    )
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch + PNG writers)")
    p.add_argument("--log", help="log file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    from karyospectrum.devices import pick_device, set_threads
    from karyospectrum.painting import paint_cohort, style_checkpoint

    set_threads(args.threads)
    device = pick_device(args.device)
    t0 = time.time()
    rows = paint_cohort(
        args.latents,
        style_checkpoint(args.style, args.checkpoint, args.models_dir),
        args.out,
        device=device,
        batch_size=args.batch_size,
        autocast=not args.no_autocast,
        compress_level=args.compress_level,
        writers=max(1, args.threads),
        chrom1_height=args.chrom1_height,
        chromatid_width=args.chromatid_width,
    )
    dt = time.time() - t0
    rate = len(rows) / max(dt, 1e-9)
    log.info("painted %d tiles into %s in %.1fs (%.1f tiles/s, %s)", len(rows), args.out, dt, rate, device)
    return 0


if __name__ == "__main__":
    run(main)
