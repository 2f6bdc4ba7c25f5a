"""Train the art generator (DCGAN or WGAN-GP) from a named preset with overrides.

    python scripts/train_generator.py --preset cpu-small --out results/models/generator.safetensors
    python scripts/train_generator.py --preset gpu-full --set epochs=50 --objective dcgan --dry-run

Writes the fp16 EMA generator (``--out``) with its model card, and beside it a ``.train/``
folder: metrics.jsonl, losses.png, samples/epoch_NNN.png, config.json and a resumable state.pt.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from karyospectrum import training as T
from karyospectrum.cli import run, setup_logging

log = logging.getLogger("karyospectrum.train_generator")

# Recipe keys with a flag of their own (they win over --set); any other key: --set KEY=VALUE.
NAMED = {
    "objective": dict(choices=["dcgan", "wgangp"], help="DCGAN (BCE) or WGAN-GP"),
    "arch": dict(help="generator architecture: resizeconv, dcgan, keras-reference"),
    "resolution": dict(help="HxW in pixels, e.g. 64x64 or 144x256 (16:9)"),
    "epochs": dict(type=int),
    "batch_size": dict(type=int),
    "epoch_images": dict(type=int, help="training images per epoch (the rendered set)"),
    "data": dict(help="a style dataset (results/datasets/{style}), 'default' or an image folder"),
    "fid_samples": dict(type=int, help="samples for the final FID"),
    "seed": dict(type=int),
    "max_minutes": dict(type=float, help="time budget: stop after the epoch that passes it"),
    "init_from": dict(
        help="start from these generator weights (same arch and shape, or a narrower cips painter: widened; D starts afresh)"
    ),
}


def parse_args(argv=None):
    from karyospectrum.gan_training import PRESETS

    set_help = "override any recipe key (JSON values), e.g. --set lr_g=2e-4 --set resolution=[144,256]"
    p = T.trainer_parser(__doc__, PRESETS, "cpu-small", set_help)
    for name, kw in NAMED.items():
        p.add_argument("--" + name.replace("_", "-"), **kw)
    T.add_run_args(p, out="results/models/generator.safetensors")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from karyospectrum.gan_training import resolve_config, train

    named = T.given({k: getattr(args, k) for k in NAMED})
    cfg = resolve_config(args.preset, {**T.parse_overrides(args.set), **named})
    if args.dry_run:
        print(json.dumps(cfg, indent=2))
        return 0
    setup_logging(args.log)
    from karyospectrum.devices import pick_device, set_threads

    set_threads(args.threads)
    device = pick_device(args.device)
    out = T.check_weights_path(args.out)
    train_dir = Path(args.train_dir) if args.train_dir else T.train_dir_for(out)
    log.info("recipe: %s", json.dumps(cfg))
    command = T.command_line("train_generator.py", argv if argv is not None else sys.argv[1:])
    card = train(cfg, out, train_dir, device, not args.no_resume, command, progress=not args.no_progress)
    m, epochs = card["metrics"], card["epochs"]
    log.info(
        "wrote %s (FID %.1f at %d samples, %d epochs)",
        out,
        m["fid"] or float("nan"),
        m["fid_samples"],
        epochs,
    )
    return 0


if __name__ == "__main__":
    run(main)
