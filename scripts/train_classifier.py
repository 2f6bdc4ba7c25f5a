#!/usr/bin/env python
"""Train the chromosome classifier on crops listed in a manifest, split by cell (never by image).

Writes fp16 safetensors + model card (data, split, recipe, crop- and cell-level accuracy on unseen cells),
a metrics JSONL, a confusion-matrix PNG and a per-class accuracy TSV.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from karyospectrum import CHROMOSOMES  # noqa: E402
from karyospectrum.cli import InputError, run, setup_logging  # noqa: E402

log = logging.getLogger("karyospectrum.train_classifier")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True, help="CSV: path (relative to the CSV), chrom, cell id column")
    p.add_argument("--group-column", default="cell_id", help="column naming the cell: the split unit")
    p.add_argument("--val-frac", type=float, default=0.1, help="share of cells for early stopping")
    p.add_argument("--test-frac", type=float, default=0.15, help="share of cells never seen (reported)")
    p.add_argument("--heldout", action="append", default=[], help="another manifest, evaluated only")
    p.add_argument("--heldout-group-column", default="cell_id")
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--arch", choices=["resnet18", "resnet50", "vgg16", "inception_v3"])
    p.add_argument("--size", type=int, help="input side in px (preset: cpu 64, gpu 224/299)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--optimizer", choices=["adam", "sgd", "rmsprop"])
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--step-size", type=int, help="StepLR: epochs between lr x gamma")
    p.add_argument("--gamma", type=float)
    p.add_argument(
        "--schedule", choices=["step", "time"], help="StepLR, or cosine over --max-minutes (cpu preset)"
    )
    p.add_argument("--patience", type=int, help="early stopping patience (epochs)")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget; 0 = none")
    p.add_argument(
        "--synthetic", type=int, default=0, help="pre-train on this many synthetic crops per class"
    )
    p.add_argument("--synthetic-epochs", type=int, default=5, help="epochs of synthetic pre-training")
    p.add_argument("--limit", type=int, default=0, help="use at most this many training crops (smoke tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="weights .safetensors (the model card goes beside it)")
    p.add_argument("--metrics", help="metrics JSONL (one line per epoch)")
    p.add_argument("--confusion", help="confusion-matrix PNG on the test cells")
    p.add_argument("--per-class", help="per-class accuracy TSV on the test cells")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dry-run", action="store_true", help="print the resolved recipe and exit")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--log")
    return p.parse_args(argv)


def evaluate(probs, y, groups) -> dict:
    from karyospectrum.karyotype import score_cells

    res = score_cells(probs, y, groups)
    res["_labels"] = res.pop("labels", None)
    return res


def confusion_png(path, y, pred):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from karyospectrum.io import atomic_path

    k = len(CHROMOSOMES)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, pred), 1)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), CHROMOSOMES, fontsize=7)
    ax.set_yticks(range(k), CHROMOSOMES, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    cm[i, j],
                    ha="center",
                    va="center",
                    fontsize=5,
                    color="w" if norm[i, j] > 0.5 else "k",
                )
    ax.set_title("classifier confusion on unseen cells (crop level)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    from karyospectrum import classifier as C

    recipe = C.recipe_from(
        args.preset,
        arch=args.arch,
        size=args.size,
        epochs=args.epochs,
        batch=args.batch,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        step_size=args.step_size,
        gamma=args.gamma,
        schedule=args.schedule,
        patience=args.patience,
        max_minutes=args.max_minutes,
        seed=args.seed,
    )
    if args.size is None and args.preset == "gpu":
        recipe.size = C.default_size(recipe.arch)
    if args.dry_run:
        print(json.dumps(C.recipe_dict(recipe), indent=2))
        return 0
    if not args.out.endswith(".safetensors"):
        raise InputError(args.out, "the weights file must end in .safetensors")

    import pandas as pd
    import torch
    from karyospectrum.checkpoints import save_checkpoint
    from karyospectrum.devices import pick_device, set_threads
    from karyospectrum.io import write_text

    set_threads(args.threads)
    device = pick_device(args.device)
    m = C.read_manifest(args.manifest)
    if args.group_column not in m.columns:
        raise InputError(args.manifest, f"no {args.group_column!r} column to split by cell")
    m["split"] = C.split_groups(m[args.group_column], args.val_frac, args.test_frac, args.seed)
    if args.limit:  # smoke tests: a few crops of each part, still split by cell
        keep = [d.sample(n=min(args.limit, len(d)), random_state=0) for _, d in m.groupby("split")]
        m = pd.concat(keep)
    counts = m.groupby("split")[args.group_column].nunique().to_dict()
    log.info("split by %s: %s cells, %s crops", args.group_column, counts, m.split.value_counts().to_dict())
    t0 = time.time()
    data = {}
    for part in ("train", "val", "test"):
        sub = m[m.split == part]
        data[part] = (
            C.load_squares(sub.file.tolist(), recipe.size),
            np.array([C.CLASS_INDEX[c] for c in sub.chrom], np.int64),
            sub[args.group_column].to_numpy(),
        )
    log.info("loaded %d crops at %d px in %.0f s", len(m), recipe.size, time.time() - t0)
    if args.metrics:
        Path(args.metrics).parent.mkdir(parents=True, exist_ok=True)
        Path(args.metrics).write_text("")
    init_state, pretrain = None, None
    if args.synthetic:
        from dataclasses import replace

        from karyospectrum.synthetic import render_chromosome

        rng = np.random.default_rng(args.seed)
        sx, sy = [], []
        for i, c in enumerate(CHROMOSOMES):
            for _ in range(args.synthetic):
                sx.append(
                    np.round(C.to_square(render_chromosome(c, rng), recipe.size) * 255).astype(np.uint8)
                )
                sy.append(i)
        sx, sy = np.stack(sx), np.array(sy)
        pre = replace(recipe, epochs=args.synthetic_epochs, schedule="step", patience=args.synthetic_epochs)
        log.info("synthetic pre-training: %d crops, %d epochs", len(sy), args.synthetic_epochs)
        pre_model, pre_hist = C.train(pre, sx, sy, data["val"][0], data["val"][1], device, progress=False)
        init_state = pre_model.state_dict()
        pretrain = {
            "crops_per_class": args.synthetic,
            "epochs": len(pre_hist),
            "val_acc_real_after": pre_hist[-1]["val_acc"] if pre_hist else None,
        }
    model, history = C.train(
        recipe,
        data["train"][0],
        data["train"][1],
        data["val"][0],
        data["val"][1],
        device,
        metrics_path=args.metrics,
        progress=not args.no_progress,
        init_state=init_state,
    )
    metrics = {}
    for part in ("val", "test"):
        x, y, g = data[part]
        probs = C.predict_squares(model, x, device)
        res = evaluate(probs, y, g)
        labels = res.pop("_labels", None)
        metrics[f"{part}_cells"] = res
        if part == "test" and len(y):
            pred = probs.argmax(1)
            per = ["chrom\tcrops\tcrop_accuracy\tcell_level_accuracy"]
            for i, c in enumerate(CHROMOSOMES):
                sel = y == i
                if sel.any():
                    per.append(
                        f"{c}\t{int(sel.sum())}\t{(pred[sel] == i).mean():.4f}\t{(labels[sel] == i).mean():.4f}"
                    )
            if args.per_class:
                write_text(args.per_class, "\n".join(per) + "\n")
            if args.confusion:
                confusion_png(args.confusion, y, pred)
    for extra in args.heldout:
        h = C.read_manifest(extra)
        col = args.heldout_group_column if args.heldout_group_column in h.columns else args.group_column
        x = C.load_squares(h.file.tolist(), recipe.size)
        y = np.array([C.CLASS_INDEX[c] for c in h.chrom], np.int64)
        res = evaluate(C.predict_squares(model, x, device), y, h[col].to_numpy())
        res.pop("_labels", None)
        metrics[f"heldout:{Path(extra).parent.name}"] = res
    log.info("metrics: %s", json.dumps(metrics))
    card = C.base_card(recipe) | {
        "preset": args.preset,
        "epochs_run": len(history),
        "best_epoch": int(np.argmax([h["val_acc"] for h in history]) + 1) if history else 0,
        "training_minutes": round(history[-1]["minutes"], 1) if history else 0.0,
        "device": str(device),
        "data": {
            "manifest": Path(args.manifest).parent.name + "/" + Path(args.manifest).name,
            "crops": int(len(m)),
            "split": f"by {args.group_column} (sha1 hash of seed:{args.group_column}, seed {args.seed}); "
            f"test {args.test_frac} of cells never seen, val {args.val_frac} for early stopping",
            "split_params": {
                "group_column": args.group_column,
                "val_frac": args.val_frac,
                "test_frac": args.test_frac,
                "seed": args.seed,
            },
            "cells": {k: int(v) for k, v in counts.items()},
            "note": "real G-banded crops; see ../shared/data/chromosomes/README.md (no licence file upstream)",
            "heldout": [Path(h).parent.name for h in args.heldout],
        },
        "synthetic_pretraining": pretrain,
        "metrics": metrics,
        "cell_level": "linear_sum_assignment per cell: each autosome twice, XX or XY, extra copies penalised",
        "command": "python scripts/train_classifier.py "
        + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "torch": torch.__version__,
    }
    save_checkpoint(args.out, model.state_dict(), card, half=True)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    run(main)
