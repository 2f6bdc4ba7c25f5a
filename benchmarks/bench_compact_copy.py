"""What a compact copy of a style dataset (scripts/compact_style_dataset.py: crops at the training
window as WebP, to carry to a GPU node; lossless by default, lossy with --quality) costs in FID terms: FID of N train crops against the N
held-out crops, as the full dataset has them and as the copy has them. The copy is fit to train on
when the two are close (both are the floor a perfect generator would reach, not zero: other crops).

    python benchmarks/bench_compact_copy.py results/datasets/wallpaper /tmp/wallpaper-48 --samples 2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="the full style dataset")
    p.add_argument("copy", help="its compact copy")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import torch
    from karyospectrum.artdata import StyleDataset
    from karyospectrum.fid import fid_from_features, inception_features

    torch.set_num_threads(args.threads)
    copy = StyleDataset(args.copy, "train")
    size = (copy.h, copy.w)
    n = args.samples
    held = inception_features(StyleDataset(args.dataset, "heldout", size).load(n, workers=args.threads))
    full = inception_features(StyleDataset(args.dataset, "train", size).load(n, workers=args.threads))
    small = inception_features(copy.load(n, workers=args.threads))
    print(f"{n} train crops vs {n} held-out crops at {size[0]}x{size[1]} (the FID floor):")
    print(f"  full dataset:  FID {fid_from_features(full, held):.2f}")
    print(f"  compact copy:  FID {fid_from_features(small, held):.2f}")
    print(f"  copy vs full (the same crops): FID {fid_from_features(small, full):.2f}")


if __name__ == "__main__":
    main()
