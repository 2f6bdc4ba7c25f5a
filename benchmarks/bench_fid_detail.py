"""How much of a style's FID is fine detail: FID and precision/recall (k = 3) of N *real* train crops
against the N held-out crops, as they are and with their detail finer than 1/f of the window removed
(box-downsampled by f, then bilinearly back to the window). A generator that paints the right pictures
but nothing finer than its coarse grid scores no better than the f = 4 row (the coordinate painter's MLP
grid is 4x coarser than its output; only its resize-convs, and the noise inputs of cpu-cips-noise, paint
the finer detail).

    python benchmarks/bench_fid_detail.py results/datasets/wallpaper --samples 2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="a style dataset (results/datasets/{style})")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--resolution", type=int, default=48, help="the training window (px)")
    p.add_argument("--factors", default="1,2,4", help="detail removed below 1/f of the window")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import torch
    from karyospectrum.artdata import StyleDataset
    from karyospectrum.fid import fid_from_features, inception_features, precision_recall

    torch.set_num_threads(args.threads)
    n, r = args.samples, args.resolution
    held = inception_features(StyleDataset(args.dataset, "heldout", (r, r)).load(n, workers=args.threads))
    train = torch.from_numpy(StyleDataset(args.dataset, "train", (r, r)).load(n, workers=args.threads))
    print(f"{n} train crops vs {n} held-out crops at {r}x{r} px:\n")
    print("| detail kept | FID | precision | recall |\n|---|---|---|---|")
    for f in (int(v) for v in args.factors.split(",")):
        x = train.permute(0, 3, 1, 2).float()
        if f > 1:
            x = torch.nn.functional.avg_pool2d(x, f)
            x = torch.nn.functional.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        feats = inception_features(x)
        prec, rec = precision_recall(held, feats, k=3)
        what = "all (the FID floor)" if f == 1 else f"down to {r // f} px"
        print(f"| {what} | {fid_from_features(feats, held):.1f} | {prec:.3f} | {rec:.3f} |", flush=True)


if __name__ == "__main__":
    main()
