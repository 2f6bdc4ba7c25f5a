"""Build one art style's training set: random crops with augmentations, cached on disk.

    python scripts/style_dataset.py --style wallpaper --source ../shared/data/art/wallpaper \\
        --license "see SOURCES.tsv" --out results/datasets/wallpaper

Writes ``OUT/train/*.png``, ``OUT/heldout/*.png`` (never trained on; the FID reference),
``OUT/manifest.tsv`` and ``OUT/dataset.json`` (sources, license, counts, skipped files).
``--source procedural`` renders the procedural abstract art instead of cropping images.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from karyospectrum.artdata import StyleDatasetOptions, build_style_dataset
from karyospectrum.cli import run, setup_logging


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", required=True, help="style name (recorded in dataset.json)")
    p.add_argument("--source", required=True, help="folder of source images, or 'procedural'")
    p.add_argument("--license", default="", help="license of the source images (for the model card)")
    p.add_argument("--out", required=True, help="output folder (results/datasets/{style})")
    for f in fields(StyleDatasetOptions):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    p.add_argument("--threads", type=int, default=2, help="crop-rendering threads")
    p.add_argument("--log", help="log file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    opts = StyleDatasetOptions(**{f.name: getattr(args, f.name) for f in fields(StyleDatasetOptions)})
    build_style_dataset(args.style, args.source, args.out, args.license, opts, workers=args.threads)
    return 0


if __name__ == "__main__":
    run(main)
