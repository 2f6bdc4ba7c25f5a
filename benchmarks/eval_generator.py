"""Evaluate art generators on a style's held-out crops: FID, precision/recall, path length, speed, variety.

    python benchmarks/eval_generator.py --style wallpaper --samples 2000 \\
        resources/models/generator-wallpaper.safetensors resources/models/generator.safetensors

Per checkpoint: FID of ``--samples`` EMA samples against as many held-out crops of the style
(results/datasets/{style}, never trained on; their Inception features are cached beside the
dataset), improved precision and recall (Kynkaanniemi et al. 2019, k=3, same features), the pixel
path length (gan_training.PATH_LENGTH_NOTE), tiles/s painting 256x256 tiles (or the generator's
fixed size) with ``--threads`` threads, and over 512 random latents the smallest distance between
two tiles (mean absolute difference, 0-255; near-duplicates would be < 2) and how many of 12 hue
bins are some tile's dominant hue. "tiles per CPU-second" divides by the process's CPU time (all
threads): on a shared machine it is what one free core would give (``--threads`` cores: at most that
times ``--threads``). Samples of a generator larger than the reference crops are
area-downsampled to their size. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def hue_bins(tiles, bins: int = 12) -> int:
    """How many of ``bins`` hue bins are the dominant hue (over saturated, lit pixels) of some tile."""
    import numpy as np
    from PIL import Image

    seen = set()
    for t in tiles:
        hsv = np.asarray(Image.fromarray(t).convert("HSV"), np.float32) / 255
        keep = (hsv[..., 1] > 0.2) & (hsv[..., 2] > 0.2)
        if keep.sum() < 0.05 * keep.size:
            continue
        hist = np.bincount((hsv[..., 0][keep] * bins).astype(int) % bins, minlength=bins)
        seen.add(int(hist.argmax()))
    return len(seen)


def min_pair_distance(tiles) -> float:
    import numpy as np

    flat = tiles.reshape(len(tiles), -1).astype(np.float32)
    best = np.inf
    for i in range(len(flat) - 1):
        best = min(best, float(np.abs(flat[i + 1 :] - flat[i]).mean(axis=1).min()))
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--style", default="wallpaper", help="reference: results/datasets/{style} held-out crops")
    p.add_argument(
        "--resolution", default="48x48", help="reference crop size (the bundled styles train at 48)"
    )
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--no-fid", action="store_true", help="skip the Inception metrics (FID, precision, recall)"
    )
    args = p.parse_args()

    import numpy as np
    import torch
    from karyospectrum.fid import fid_from_features, inception_features, precision_recall
    from karyospectrum.gan_training import TrainingData, path_length, resolve_config
    from karyospectrum.painting import any_size, load_generator, paint

    torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.resolution.lower().split("x"))
    cfg = resolve_config("cpu-cips", {"data": f"results/datasets/{args.style}", "resolution": [h, w]})
    # the held-out crops are needed for the Inception metrics only
    real = None if args.no_fid else TrainingData(cfg, "/tmp").reference(args.samples, "cpu")
    n = 2 if real is None else len(real)
    what = "no FID" if real is None else f"{n} held-out crops at {h}x{w} vs {n} samples per model"
    print(f"style {args.style}: {what}; {args.threads} threads, load average {os.getloadavg()[0]:.1f}\n")
    print(
        "| checkpoint | arch | FID | precision | recall | path length | tiles/s (px) | tiles per CPU-second "
        "| min tile distance | hue bins |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for ckpt in args.checkpoints:
        G, card = load_generator(ckpt)
        z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(3)).numpy()
        size = (h, w) if any_size(G) else None
        fake = paint(z, G, size=size)
        if fake.shape[1:3] != (h, w):  # a fixed-size generator: area-downsample to the reference size
            fake = (
                torch.nn.functional.adaptive_avg_pool2d(
                    torch.from_numpy(fake).permute(0, 3, 1, 2).float(), (h, w)
                )
                .round()
                .clamp(0, 255)
                .to(torch.uint8)
                .permute(0, 2, 3, 1)
                .numpy()
            )
        fid = prec = rec = float("nan")
        if not args.no_fid:
            feats = inception_features(fake, "cpu")
            fid = fid_from_features(real, feats)
            prec, rec = precision_recall(real, feats, k=3)
        ppl = path_length(G, size=size)
        speed_size = (256, 256) if any_size(G) else tuple(G.resolution)
        zs = np.random.default_rng(1).standard_normal((64, G.latent_dim)).astype(np.float32)
        paint(zs[:4], G, size=speed_size if any_size(G) else None)
        t0, c0 = time.time(), time.process_time()
        paint(zs, G, size=speed_size if any_size(G) else None, batch_size=16)
        tps, cpu = 64 / (time.time() - t0), time.process_time() - c0
        variety = paint(
            np.random.default_rng(2).standard_normal((512, G.latent_dim)).astype(np.float32), G, size=size
        )
        print(
            f"| {ckpt} | {card['arch']} | {fid:.1f} | {prec:.3f} | {rec:.3f} | {ppl:.1f} | "
            f"{tps:.1f} ({speed_size[0]}x{speed_size[1]}) | {64 / cpu:.1f} | {min_pair_distance(variety):.1f} | "
            f"{hue_bins(variety)} of 12 |",
            flush=True,
        )


if __name__ == "__main__":
    main()
