"""Train the art generator (DCGAN or WGAN-GP) from a named preset with overrides.

    python scripts/train_generator.py --preset cpu-small --out results/models/generator.safetensors
    python scripts/train_generator.py --preset gpu-full --set epochs=50 --objective dcgan --dry-run

Writes the fp16 EMA generator (``--out``) with its model card, and beside it a ``.train/``
folder: metrics.jsonl, losses.png, samples/epoch_NNN.png, config.json and a resumable state.pt.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from karyospectrum.cli import InputError, run, setup_logging  # noqa: E402

log = logging.getLogger("karyospectrum.train_generator")


def parse_args(argv=None):
    from karyospectrum.gan_training import PRESETS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--preset", default="cpu-small", choices=sorted(PRESETS), help="named recipe (default: cpu-small)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any recipe key (JSON values), e.g. --set lr_g=2e-4 --set resolution=[144,256]",
    )
    p.add_argument("--objective", choices=["dcgan", "wgangp"], help="DCGAN (BCE) or WGAN-GP")
    p.add_argument("--arch", help="generator architecture: resizeconv, dcgan, keras-reference")
    p.add_argument("--resolution", help="HxW in pixels, e.g. 64x64 or 144x256 (16:9)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epoch-images", type=int, help="training images per epoch (the rendered set)")
    p.add_argument("--data", help="a style dataset (results/datasets/{style}), 'default' or an image folder")
    p.add_argument("--fid-samples", type=int, help="samples for the final FID")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-minutes", type=float, help="time budget: stop after the epoch that passes it")
    p.add_argument(
        "--out", default="results/models/generator.safetensors", help="weights; the card goes beside it"
    )
    p.add_argument("--train-dir", help="metrics, samples and state (default: <out>.train beside the weights)")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:1")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    p.add_argument("--no-resume", action="store_true", help="ignore a state.pt left by an interrupted run")
    p.add_argument("--dry-run", action="store_true", help="print the resolved recipe as JSON and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.add_argument("--log", help="log file")
    return p.parse_args(argv)


def overrides_from(args) -> dict:
    from karyospectrum.gan_training import parse_value

    out = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(None, f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value)
    named = {
        "objective": args.objective,
        "arch": args.arch,
        "resolution": args.resolution,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "epoch_images": args.epoch_images,
        "data": args.data,
        "fid_samples": args.fid_samples,
        "seed": args.seed,
        "max_minutes": args.max_minutes,
    }
    out.update({k: v for k, v in named.items() if v is not None})
    return out


def main(argv=None):
    args = parse_args(argv)
    from karyospectrum.gan_training import resolve_config

    cfg = resolve_config(args.preset, overrides_from(args))
    if args.dry_run:
        print(json.dumps(cfg, indent=2))
        return 0
    setup_logging(args.log)
    from karyospectrum.devices import pick_device, set_threads
    from karyospectrum.gan_training import train

    set_threads(args.threads)
    device = pick_device(args.device)
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InputError(out, "the output weights must end in .safetensors")
    train_dir = (
        Path(args.train_dir)
        if args.train_dir
        else out.with_name(out.name.removesuffix(".safetensors") + ".train")
    )
    log.info("recipe: %s", json.dumps(cfg))
    command = "python scripts/train_generator.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    card = train(
        cfg, out, train_dir, device, resume=not args.no_resume, command=command, progress=not args.no_progress
    )
    log.info(
        "wrote %s (FID %.1f at %d samples, %d epochs)",
        out,
        card["metrics"]["fid"] or float("nan"),
        card["metrics"]["fid_samples"],
        card["epochs"],
    )
    return 0


if __name__ == "__main__":
    run(main)
