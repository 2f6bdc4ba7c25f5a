"""A small copy of a style dataset, to train on another machine (a GPU node): each crop at the training
window, as lossless WebP (the same pixels the trainer reads from the full dataset), or lossy with --quality.
22,000 crops at 48 px: ~54 MB lossless, ~19 MB at --quality 95, instead of 470 MB.

    python scripts/compact_style_dataset.py results/datasets/wallpaper /tmp/wallpaper-48 --resolution 48
"""

from __future__ import annotations

import argparse

from karyospectrum.cli import run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="a style dataset (results/datasets/{style})")
    p.add_argument("out", help="the copy's folder")
    p.add_argument("--resolution", default="48", help="training window, HxW or one side (the preset's)")
    p.add_argument("--quality", type=int, default=0, help="0: lossless WebP (default); 1-100: lossy WebP")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    from karyospectrum.artdata import compact_copy
    from karyospectrum.gan_training import _resolution

    info = compact_copy(args.dataset, args.out, _resolution(args.resolution), args.quality, args.threads)
    print(f"wrote {args.out}: {sum(info['counts'].values())} crops; {info['compact']}")
    return 0


if __name__ == "__main__":
    run(main)
