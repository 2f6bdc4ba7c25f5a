#!/usr/bin/env python
"""Classifier throughput: crops per second, end to end (decode-free preprocessing + forward pass).

The card's test-time augmentation is included (``hflip`` doubles the forward passes).

    python benchmarks/bench_classifier.py [--checkpoint resources/models/classifier.safetensors]
        [--arch resnet18 --size 64] [--threads 2] [--device cpu] [--n 512] [--batch 32] [--compare]

Without a checkpoint (or with --random) it times an untrained model of --arch/--size. Prints one JSON line.
--compare also times the plain eval-mode model (batch norms unfolded, contiguous layout) beside the one
Classifier.load gives (karyospectrum.classifier.inference_model), and their largest probability difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(REPO / "resources/models/classifier.safetensors"))
    p.add_argument("--random", action="store_true", help="time an untrained model of --arch/--size")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=512, help="crops to classify")
    p.add_argument(
        "--batch", type=int, default=None, help="crops per forward pass (default: the classify step's)"
    )
    p.add_argument("--compare", action="store_true", help="also time the plain eval-mode model")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    from karyospectrum import CHROMOSOMES
    from karyospectrum.classifier import Classifier, init_checkpoint
    from karyospectrum.legibility import BatchSettings
    from karyospectrum.synthetic import render_chromosome

    torch.set_num_threads(args.threads)
    ckpt = Path(args.checkpoint)
    tmp = None
    if args.random or not ckpt.exists():
        tmp = tempfile.TemporaryDirectory()
        ckpt = Path(tmp.name) / "random.safetensors"
        init_checkpoint(ckpt, arch=args.arch, size=args.size)
    clf = Classifier.load(ckpt, device=args.device, threads=args.threads)
    rng = np.random.default_rng(0)
    pool = [render_chromosome(CHROMOSOMES[i % 24], rng) for i in range(48)]
    crops = [pool[i % len(pool)] for i in range(args.n)]
    args.batch = args.batch or BatchSettings.batch
    best, probs = timed(clf, crops, args)
    out = {
        "arch": clf.card["arch"],
        "size": clf.size,
        "tta": clf.tta,
        "device": str(clf.device),
        "threads": args.threads,
        "crops": args.n,
        "batch": args.batch,
        "seconds": round(best, 3),
        "crops_per_s": round(args.n / best, 1),
        "goal_crops_per_s": 25,
        "checkpoint": "random" if tmp else str(Path(args.checkpoint).name),
    }
    if args.compare:
        from karyospectrum.checkpoints import load_checkpoint, load_into
        from karyospectrum.classifier import NUM_CLASSES, build_model

        state, card = load_checkpoint(ckpt, kind="classifier")
        model = build_model(card["arch"], NUM_CLASSES)
        load_into(model, state, ckpt)
        plain_s, plain_probs = timed(Classifier(model.to(clf.device), card, clf.device), crops, args)
        out |= {
            "plain_seconds": round(plain_s, 3),
            "plain_crops_per_s": round(args.n / plain_s, 1),
            "max_prob_difference": float(np.abs(plain_probs - probs).max()),
        }
    print(json.dumps(out))
    return 0


def timed(clf, crops, args):
    """(best seconds of --repeats runs, the probabilities) of classifying ``crops``."""
    import torch

    clf.predict(crops[: args.batch], batch=args.batch)  # warm-up
    best = float("inf")
    for _ in range(args.repeats):
        t = time.perf_counter()
        probs = clf.predict(crops, batch=args.batch)
        if clf.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best, probs


if __name__ == "__main__":
    sys.exit(main())
