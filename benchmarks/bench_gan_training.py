"""Benchmark generator training: FID of DCGAN vs WGAN-GP on the same data and budget, and images/s.

    python benchmarks/bench_gan_training.py                       # CPU, 2 threads, cpu-small data
    python benchmarks/bench_gan_training.py --images 16384 --device cuda

Every row trains the cpu-small generator (resize-conv, 64 px) on the same offline training set
(same seed) for the same number of real images shown to the discriminator, then computes FID
(bundled InceptionV3) between the same number of training images and EMA-generator samples.
Prints a Markdown table; small-N FID is biased upwards, so compare rows, not papers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

ROWS = {
    "dcgan": {"objective": "dcgan"},
    "wgangp": {"objective": "wgangp"},  # textbook: n_critic 5, Adam 1e-4, (0, 0.9), lambda 10
    "wgangp-fast": {"objective": "wgangp", "n_critic": 2, "lr_g": 2e-4, "lr_d": 2e-4},
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=8192, help="real images shown to D (the budget)")
    p.add_argument("--epoch-images", type=int, default=4096)
    p.add_argument("--resolution", default="64x64")
    p.add_argument("--fid-samples", type=int, default=500)
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    args = p.parse_args()

    import logging

    import torch
    from karyospectrum.gan_training import resolve_config, train

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    epochs = max(1, args.images // args.epoch_images)
    print(
        f"device {args.device}, {args.threads} threads, {args.resolution}, {epochs} x {args.epoch_images} real "
        f"images, FID at {args.fid_samples} samples, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| objective | recipe | G steps | train images/s | minutes | FID |")
    print("|---|---|---|---|---|---|")
    for name in args.rows:
        cfg = resolve_config(
            "cpu-small",
            {
                **ROWS[name],
                "epochs": epochs,
                "epoch_images": args.epoch_images,
                "resolution": args.resolution,
                "fid_samples": args.fid_samples,
                "max_minutes": 0,
            },
        )
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            card = train(
                cfg,
                Path(tmp) / "g.safetensors",
                Path(tmp) / "g.train",
                args.device,
                resume=False,
                command="bench",
                progress=False,
            )
            minutes = (time.time() - t0) / 60
        recipe = f"n_critic {cfg['n_critic']}, lr {cfg['lr_g']:g}, betas {tuple(cfg['betas'])}"
        print(
            f"| {cfg['objective']} | {recipe} | {card['steps']} | {card['metrics']['training_images_per_s']:.1f} "
            f"| {minutes:.1f} | {card['metrics']['fid']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
