"""Paint genome sketches in a pix2pix style: a cohort's sketch tiles, or one sketch PNG.

    python scripts/paint_styles.py --style wallpaper --sketches results/sketches/example/tiles \\
        --out results/style_tiles/wallpaper/example
    python scripts/paint_styles.py --style abstract --sketch my_map.png --snap --out painted.png

A style is a bundled resources/models/pix2pix-<style>.safetensors with its card; the model is loaded
once per call. Sketch tiles must have the style's size and only the five class colours; ``--snap``
maps other colours (antialiased or hand-drawn sketches) to the nearest class colour.
"""

from __future__ import annotations

import argparse
import logging
import time

from karyospectrum.cli import run, setup_logging
from karyospectrum.pix2pix import PaintSettings

log = logging.getLogger("karyospectrum.paint_styles")


def parse_args(argv=None):
    d = PaintSettings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", required=True, help="a bundled style name")
    p.add_argument("--models", default=d.models, help="folder of the bundled pix2pix-<style> models")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sketches", help="folder of sketch tiles with manifest.tsv (scripts/sketch.py)")
    src.add_argument("--sketch", help="one sketch PNG (sides: multiples of the style's resolution)")
    p.add_argument("--out", required=True, help="output folder (with --sketches) or PNG (with --sketch)")
    p.add_argument(
        "--snap", action="store_true", help="map colours outside the vocabulary to the nearest class"
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--device", default=d.device, help="auto (cuda if present), cpu, cuda")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    p.add_argument("--log", help="log file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    from karyospectrum.devices import pick_device, set_threads
    from karyospectrum.pix2pix import paint_sketch_file, paint_tiles, style_weights

    set_threads(args.threads)
    weights = style_weights(args.style, args.models)
    device = pick_device(args.device)
    t0 = time.time()
    if args.sketch:
        paint_sketch_file(args.sketch, weights, args.out, device, args.snap)
        log.info(
            "painted %s in style %s -> %s in %.1f s", args.sketch, args.style, args.out, time.time() - t0
        )
        return 0
    rows, _ = paint_tiles(
        args.sketches, weights, args.out, device, args.batch_size, args.snap, workers=args.threads
    )
    dt = time.time() - t0
    log.info(
        "painted %d tiles in style %s in %.1f s (%.1f tiles/s)",
        len(rows),
        args.style,
        dt,
        len(rows) / max(dt, 1e-9),
    )
    return 0


if __name__ == "__main__":
    run(main)
