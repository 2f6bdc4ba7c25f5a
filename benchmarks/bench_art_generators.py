"""Compare art generators on the same style dataset and the same wall-clock budget, by FID.

    python benchmarks/bench_art_generators.py --data results/datasets/wallpaper --minutes 12 \\
        --out results/bench_art --fid-samples 500

Each arm (a preset of scripts/karyospectrum/gan_training.py: ``cpu-cips``, the coordinate painter,
and ``cpu-resizeconv``, the resize-conv generator; both with DiffAugment and a spectrally
normalised D) trains in its own process, all arms at once with ``--threads`` each, so they share
the same machine load. FID: ``--fid-samples`` EMA samples vs as many held-out crops of the style.
The arms' run folders stay under ``--out`` (resumable: the winner can be trained on from there).
An arm may change recipe keys after a colon, ``PRESET:KEY=VALUE[,KEY=VALUE]`` (JSON values, as
``--set``), and ``--init-from W`` starts every arm from the same trained generator: e.g. the weight of
the latent-faithfulness loss,

    python benchmarks/bench_art_generators.py --minutes 25 --fid-samples 1000 \
        --init-from resources/models/generator-wallpaper.safetensors \
        --arms cpu-cips-wide cpu-cips-wide:similarity_mode=mean cpu-cips-wide:similarity_lambda=0

Prints a Markdown table: FID, and the latent faithfulness the kinship report relies on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data", default="results/datasets/wallpaper", help="a style dataset (rule style_dataset)"
    )
    p.add_argument("--arms", nargs="+", default=["cpu-cips", "cpu-resizeconv"], help="presets to compare")
    p.add_argument("--minutes", type=float, default=12, help="training budget of every arm")
    p.add_argument("--fid-samples", type=int, default=500)
    p.add_argument("--threads", type=int, default=1, help="torch threads per arm")
    p.add_argument(
        "--init-from", default="", help="start every arm from this generator (widened if narrower)"
    )
    p.add_argument("--out", default="results/bench_art")
    args = p.parse_args()
    procs = {}
    for arm in args.arms:
        preset, _, changes = arm.partition(":")
        out = Path(args.out) / arm.replace(":", "_").replace(",", "_") / "generator.safetensors"
        cmd = [
            sys.executable,
            str(REPO / "scripts/train_generator.py"),
            "--preset",
            preset,
            "--data",
            args.data,
        ]
        cmd += ["--max-minutes", str(args.minutes), "--fid-samples", str(args.fid_samples), "--out", str(out)]
        cmd += ["--set", "fid_every=0", "--threads", str(args.threads), "--no-progress"]
        cmd += [arg for change in filter(None, changes.split(",")) for arg in ("--set", change)]
        cmd += ["--init-from", args.init_from] if args.init_from else []
        cmd += ["--log", str(out.with_suffix(".log"))]
        procs[arm] = (subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out)
    load = os.getloadavg()[0]
    print(f"{args.data}, {args.minutes:g} min per arm, {args.threads} thread(s) each, all arms at once")
    print(
        f"(load average {load:.1f} at the start); FID: {args.fid_samples} samples vs as many held-out crops\n"
    )
    print(
        "| arm | generator | G params | G steps | train images/s | FID | latent faithfulness (corr. / RMS gap / bias) |"
    )
    print("|---|---|---|---|---|---|---|")
    for arm, (proc, out) in procs.items():
        if proc.wait() != 0:
            print(f"| {arm} | failed (see {out.with_suffix('.log')}) | | | | | |")
            continue
        card = json.loads(out.with_suffix(".json").read_text())
        import math

        from safetensors import safe_open

        with safe_open(str(out), "pt") as f:
            n_params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
        m = card["metrics"]
        print(
            f"| {arm} | {card['arch']} | {n_params / 1e3:.0f} k | {card['steps']} | "
            f"{m['training_images_per_s']:.1f} | {m['fid']:.1f} | "
            f"{m['similarity_correlation']:.2f} / {m['similarity_rms_gap']:.2f} / {m.get('similarity_bias', float('nan')):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
