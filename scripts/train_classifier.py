#!/usr/bin/env python
"""Train the chromosome classifier on crops listed in a manifest, split by cell (never by image).

Writes fp16 safetensors + model card (data, split, recipe, crop- and cell-level accuracy on unseen cells,
upright and inverted, and on held-out sets), a metrics JSONL, a confusion-matrix PNG and a per-class TSV.
The loop lives in karyospectrum.classifier_training; presets in karyospectrum.classifier.PRESETS.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields

from karyospectrum import classifier as C
from karyospectrum import training as T
from karyospectrum.cli import run, setup_logging
from karyospectrum.errors import InputError

# Recipe fields that get a command-line flag (others: --set key=json).
FLAGS = ("arch", "size", "epochs", "batch", "optimizer", "lr", "weight_decay", "max_minutes", "ema", "seed")


def parse_args(argv):
    p = T.trainer_parser(__doc__, C.PRESETS, "cpu", "any other recipe field (JSON values)")
    p.add_argument("--manifest", required=True, help="CSV: path (relative to the CSV), chrom, cell id column")
    p.add_argument("--group-column", default="cell_id", help="column naming the cell: the split unit")
    p.add_argument("--val-frac", type=float, default=0.1, help="share of cells for every choice")
    p.add_argument("--test-frac", type=float, default=0.15, help="share of cells never seen (reported)")
    p.add_argument("--heldout", action="append", default=[], help="another manifest, evaluated only")
    p.add_argument("--heldout-group-column", default="cell_id")
    types = {f.name: f.type for f in fields(C.Recipe)}
    for name in FLAGS:
        kind = {"int": int, "float": float}.get(types[name], str)
        p.add_argument(
            "--" + name.replace("_", "-"), type=kind, help=f"recipe {name} (default: the preset's)"
        )
    p.add_argument("--init", help="start from these weights (same arch and cell split only)")
    p.add_argument("--resume", action="store_true", help="continue from the state file when it exists")
    p.add_argument("--state", help="resume state file (default: <out>.state.pt)")
    p.add_argument("--limit", type=int, default=0, help="use at most this many crops per part (smoke tests)")
    p.add_argument("--metrics", help="metrics JSONL (one line per epoch)")
    p.add_argument("--confusion", help="confusion-matrix PNG on the test cells")
    p.add_argument("--per-class", help="per-class accuracy TSV on the test cells")
    T.add_run_args(p, train_dir=False, no_resume=False)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log)
    # --set wins over the flags (the rule's extra_args over its config keys).
    overrides = {name: getattr(args, name) for name in FLAGS} | T.parse_overrides(args.set, strict=True)
    recipe = C.recipe_from(args.preset, **overrides)
    if args.size is None and args.preset == "gpu":
        recipe.size = C.default_size(recipe.arch)
    if args.dry_run:
        print(json.dumps(C.recipe_dict(recipe), indent=2))
        return 0
    if not args.out.endswith(".safetensors"):
        raise InputError(args.out, "the weights file must end in .safetensors")
    from karyospectrum.classifier_training import run as train_run

    train_run(args, recipe, T.command_line("train_classifier.py", argv if argv is not None else sys.argv[1:]))
    return 0


if __name__ == "__main__":
    run(main)
