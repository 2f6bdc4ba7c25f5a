#!/usr/bin/env python
"""Evaluate a classifier: crop-level and cell-level accuracy on cells it never saw; crop box P/R on spreads.

    python benchmarks/eval_classifier.py --checkpoint resources/models/classifier.safetensors \\
        --data ../shared/data/chromosomes/gband-612cells --data ../shared/data/chromosomes/seed-gband \\
        --group-by cell_id --invert --spreads 20

For the data set the model was trained on (named in its card) only the test cells of the card's cell-wise
split are scored; any other folder is scored whole. --invert also scores every set with its polarity
inverted (bright chromosomes on black, as fluorescent Q-banding looks). Spreads are synthetic
(karyospectrum.synthetic), scored by one-to-one box matching at IoU >= 0.5. Prints a Markdown table; --out writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def eval_data(
    clf,
    folder: Path,
    group_column: str | None,
    only_test: bool,
    split: dict,
    subset: str = "test",
    invert: bool = False,
):
    import numpy as np
    from karyospectrum import classifier as C
    from karyospectrum.karyotype import crop_length, score_cells

    m = C.read_manifest(folder / "manifest.csv")
    col = group_column or split.get("group_column", "cell_id")
    if col not in m.columns:
        col = "cell_id"
    if only_test:
        part = C.split_groups(
            m[split.get("group_column", col)], split["val_frac"], split["test_frac"], split["seed"]
        )
        m = m[part == subset]
    crops = [C.load_grey(f) for f in m.file]
    if invert:  # the other polarity: bright chromosomes on a dark background
        crops = [255 - g for g in crops]
    probs = clf.predict(crops, batch=128)
    y = np.array([C.CLASS_INDEX[c] for c in m.chrom])
    groups = m[col].to_numpy()
    res = score_cells(probs, y, groups)
    res.pop("labels", None)
    with_len = score_cells(probs, y, groups, lengths=[crop_length(c) for c in crops])
    res["cell_level_accuracy_length"] = with_len["cell_level_accuracy"]
    res["cells_all_correct_length"] = with_len["cells_all_correct"]
    name = f"{subset} cells" + (" (unseen)" if subset == "test" else "") if only_test else "all (held out)"
    name += ", inverted" if invert else ""
    return {"data": folder.name, "subset": name, **res}


def eval_spreads(n: int, touching: float, size: int):
    import numpy as np
    from karyospectrum.crop import box_precision_recall, segment
    from karyospectrum.synthetic import render_spread

    scores = []
    for seed in range(n):
        img, truth = render_spread(np.random.default_rng(5000 + seed), size=(size, size), touching=touching)
        scores.append(box_precision_recall([c.box for c in segment(img)], truth))
    return {
        "spreads": n,
        "touching": touching,
        "precision": round(float(np.mean([s["precision"] for s in scores])), 4),
        "recall": round(float(np.mean([s["recall"] for s in scores])), 4),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(REPO / "resources/models/classifier.safetensors"))
    p.add_argument("--data", action="append", default=[], help="folder with manifest.csv (repeatable)")
    p.add_argument("--group-column", "--group-by", help="cell column (default: the card's)")
    p.add_argument("--invert", action="store_true", help="also score every set with inverted polarity")
    p.add_argument("--tta", choices=["none", "hflip"], help="override the card's test-time augmentation")
    p.add_argument(
        "--subset", default="test", choices=["test", "val"], help="cells of the training set's split"
    )
    p.add_argument(
        "--length-sigma", type=float, help="sd of the length prior (default: karyotype.LENGTH_SIGMA)"
    )
    p.add_argument("--spreads", type=int, default=0, help="synthetic spreads for crop box precision/recall")
    p.add_argument(
        "--touching", type=float, default=0.15, help="share of chromosomes placed touching another"
    )
    p.add_argument("--spread-size", type=int, default=900)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", help="JSON with every figure")
    args = p.parse_args(argv)

    out = {"checkpoint": Path(args.checkpoint).name, "data": [], "spreads": None}
    if args.length_sigma:
        from karyospectrum import karyotype

        karyotype.LENGTH_SIGMA = args.length_sigma
    if args.data:
        from karyospectrum.classifier import Classifier

        clf = Classifier.load(args.checkpoint, device=args.device, threads=args.threads)
        card = clf.card
        if args.tta:
            clf.tta = args.tta
        trained_on = card.get("data", {}).get("manifest", "").split("/")[0]
        split = card.get("data", {}).get("split_params") or {
            "group_column": "cell_id",
            "val_frac": 0.1,
            "test_frac": 0.15,
            "seed": card.get("recipe", {}).get("seed", 0),
        }
        out["model"] = {
            "arch": card.get("arch"),
            "size": card.get("size"),
            "trained_on": trained_on,
            "tta": clf.tta,
            "preprocess_version": clf.version,
        }
        for d in args.data:
            folder = Path(d)
            for invert in (False, True) if args.invert else (False,):
                t = time.time()
                res = eval_data(
                    clf, folder, args.group_column, folder.name == trained_on, split, args.subset, invert
                )
                res["seconds"] = round(time.time() - t, 1)
                out["data"].append(res)
        print(f"\n{card.get('arch')} @ {card.get('size')} px, TTA {clf.tta} ({Path(args.checkpoint).name})\n")
        print(
            "| data | subset | cells | crops | crop-level | cell-level | cell-level + length "
            "| cells all right (+ length) | cells 46,XX/XY |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in out["data"]:
            print(
                f"| {r['data']} | {r['subset']} | {r['cells']} | {r['crops']} | {r['crop_accuracy']:.2%} | "
                f"{r['cell_level_accuracy']:.2%} | {r['cell_level_accuracy_length']:.2%} | "
                f"{r['cells_all_correct']:.2%} ({r['cells_all_correct_length']:.2%}) | {r['cells_fitting_46']} |"
            )
    if args.spreads:
        out["spreads"] = eval_spreads(args.spreads, args.touching, args.spread_size)
        s = out["spreads"]
        print(
            f"\ncrop boxes on {s['spreads']} synthetic spreads ({s['touching']:.0%} placed touching), IoU >= 0.5: "
            f"precision {s['precision']:.3f}, recall {s['recall']:.3f}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
