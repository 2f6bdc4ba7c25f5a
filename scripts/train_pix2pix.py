"""Train a pix2pix style: sketch/picture pairs built offline from a style dataset, then U-Net vs PatchGAN.

    python scripts/train_pix2pix.py --style wallpaper --data results/datasets/wallpaper \\
        --out results/models/pix2pix-wallpaper.safetensors --preset cpu --max-minutes 100
    python scripts/train_pix2pix.py --style abstract --data procedural --preset gpu-256 --dry-run

Writes the fp16 generator (``--out``) with its model card, and beside it a ``.train/`` folder:
pairs.npz, metrics.jsonl, samples/epoch_NNN.png (sketch / painting / picture), config.json, state.pt.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys

from karyospectrum.cli import run, setup_logging

log = logging.getLogger("karyospectrum.train_pix2pix")


def parse_args(argv=None):
    from karyospectrum.pix2pix import PRESETS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", required=True, help="style name (the card's; weights are pix2pix-<style>)")
    p.add_argument("--data", required=True, help="style dataset: a folder of pictures, or 'procedural'")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="named recipe (default: cpu)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key (JSON)"
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-minutes", type=float, help="wall-clock training budget (0 = none); resumes count")
    p.add_argument("--out", required=True, help="weights (.safetensors); the card goes beside them")
    p.add_argument("--train-dir", help="pairs, metrics, samples and state (default: <out>.train)")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    p.add_argument("--no-resume", action="store_true", help="ignore a state.pt left by an interrupted run")
    p.add_argument("--dry-run", action="store_true", help="print the resolved recipe as JSON and exit")
    p.add_argument("--log", help="log file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from karyospectrum.pix2pix import parse_overrides, resolve_config

    named = {"epochs": args.epochs, "max_minutes": args.max_minutes}
    cfg = resolve_config(args.preset, {**parse_overrides(args.set), **named})
    if args.dry_run:
        print(json.dumps({"style": args.style, "data": args.data, **cfg}, indent=2))
        return 0
    setup_logging(args.log)
    from karyospectrum.devices import pick_device, set_threads
    from karyospectrum.pix2pix import train

    set_threads(args.threads)
    command = "python scripts/train_pix2pix.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    log.info("recipe: %s", json.dumps(cfg))
    device = pick_device(args.device)
    card = train(
        cfg,
        args.data,
        args.style,
        args.out,
        args.train_dir,
        device,
        not args.no_resume,
        command,
        args.threads,
    )
    m = card["metrics"]
    fid = f"{m['fid']:.1f}" if "fid" in m else "n/a"
    log.info("wrote %s: %d epochs, held-out L1 %.4f, FID %s", args.out, card["epochs"], m["heldout_l1"], fid)
    return 0


if __name__ == "__main__":
    run(main)
