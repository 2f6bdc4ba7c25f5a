"""Train a pix2pix style: sketch/picture pairs built offline from a style dataset, then U-Net vs PatchGAN.

    python scripts/train_pix2pix.py --style wallpaper --data results/datasets/wallpaper \\
        --out results/models/pix2pix-wallpaper.safetensors --preset cpu --max-minutes 100
    python scripts/train_pix2pix.py --style abstract --data procedural --preset gpu-256 --dry-run

Writes the fp16 generator (``--out``) with its model card, and beside it a ``.train/`` folder:
pairs.npz, metrics.jsonl, samples/epoch_NNN.png (sketch / painting / picture), config.json, state.pt.
"""

from __future__ import annotations

import json
import logging
import sys

from karyospectrum import training as T
from karyospectrum.cli import run, setup_logging

log = logging.getLogger("karyospectrum.train_pix2pix")


def parse_args(argv=None):
    from karyospectrum.pix2pix import PRESETS

    p = T.trainer_parser(__doc__, PRESETS, "cpu", "override a recipe key (JSON)")
    p.add_argument("--style", required=True, help="style name (the card's; weights are pix2pix-<style>)")
    p.add_argument("--data", required=True, help="style dataset: a folder of pictures, or 'procedural'")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-minutes", type=float, help="wall-clock training budget (0 = none); resumes count")
    T.add_run_args(p, progress=False)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from karyospectrum.pix2pix import resolve_config, train

    named = T.given({"epochs": args.epochs, "max_minutes": args.max_minutes})
    cfg = resolve_config(args.preset, {**T.parse_overrides(args.set), **named})
    if args.dry_run:
        print(json.dumps({"style": args.style, "data": args.data, **cfg}, indent=2))
        return 0
    setup_logging(args.log)
    from karyospectrum.devices import pick_device, set_threads

    set_threads(args.threads)
    command = T.command_line("train_pix2pix.py", argv if argv is not None else sys.argv[1:])
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
