"""Benchmark the pix2pix styles: held-out L1 and FID, layout faithfulness, kinship, and speed.

    python benchmarks/bench_pix2pix.py                        # every bundled style, 2 CPU threads
    python benchmarks/bench_pix2pix.py --styles wallpaper --recompute-fid

Per bundled style (resources/models/pix2pix-<style>): the card's held-out L1 and FID (``--recompute-fid``
recomputes both from the training folder's held-out pairs when it is there); layout faithfulness, i.e. the
sketch classes recovered from each painting (nearest class colour of the style after a 1 px Gaussian blur)
against the input sketch, on the held-out pairs and on the example cohort's genome sketches, with the
majority-class share as the chance level; relatives' vs strangers' painting distance on the example cohort;
and paint speed on the CPU: tiles/s (the network alone) and styles/s (one sample's whole sketch
karyogram painted in one style, PNG reading and writing included, as rule paint_styles does).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))


def distance(by: dict, a: str, b: str) -> float:
    """Mean absolute pixel difference of two samples' paintings, best-matching haplotypes per chromosome."""
    import numpy as np

    return float(np.mean([min(np.abs(x - y).mean() for y in by[b][c]) for c in by[a] for x in by[a][c]]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--styles", nargs="*", help="default: every bundled style")
    p.add_argument("--models", default=str(REPO / "resources/models"))
    p.add_argument("--latents", default=str(REPO / "results/latents/example"), help="example cohort latents")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recompute-fid", action="store_true", help="recompute L1/FID from <train dir>/pairs.npz")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    from karyospectrum.checkpoints import read_card
    from karyospectrum.pix2pix import (
        known_styles,
        layout_agreement,
        load_style,
        paint,
        paint_tiles,
        style_weights,
    )
    from karyospectrum.sketch import sketch_classes, sketch_cohort

    torch.set_num_threads(args.threads)
    styles = args.styles or known_styles(args.models)
    latent_files = sorted(Path(args.latents).glob("*.npz"))
    if not latent_files:
        from example_latents import example_latents

        tmp = Path(tempfile.mkdtemp())
        latent_files = example_latents(tmp, [str(c) for c in range(1, 23)] + ["X"])
    from karyospectrum.latents import load_latents

    cohort = []  # (sample, chrom, class map)
    for f in latent_files:
        lat = load_latents(f)
        for s, sample in enumerate(lat.samples):
            for c in range(lat.latents.shape[1]):
                if lat.copy_present[s, c] and np.any(lat.latents[s, c]):
                    cohort.append((sample, lat.chrom, sketch_classes(lat.latents[s, c])))
    classes = np.stack([c for *_, c in cohort])
    chance = float(np.bincount(classes.ravel(), minlength=5).max() / classes.size)
    sys.path.insert(0, str(REPO / "tests"))
    from example_latents import pedigree_pairs

    relatives, strangers = pedigree_pairs()
    rows = []
    for style in styles:
        weights = style_weights(style, args.models)
        card = read_card(weights)
        G, _ = load_style(weights, "cpu")
        m = dict(card["metrics"])
        pairs_path = weights.with_name(weights.name.removesuffix(".safetensors") + ".train") / "pairs.npz"
        held = None
        if pairs_path.exists():
            with np.load(pairs_path) as z:
                held = (z["heldout_classes"], z["heldout_images"])
        colours = np.asarray(card["class_colours"], np.uint8)
        if held is not None:
            hp = paint(G, held[0], "cpu")
            m["layout_heldout"] = layout_agreement(hp, held[0], colours)
            if args.recompute_fid:
                from karyospectrum.fid import fid

                m["heldout_l1"] = float(
                    np.abs(hp.astype(np.float32) - held[1].astype(np.float32)).mean() / 255
                )
                m["fid"] = fid(held[1], hp, "cpu")
        t0 = time.perf_counter()
        painted = paint(G, classes, "cpu")
        tiles_s = len(classes) / (time.perf_counter() - t0)
        m["layout_cohort"] = layout_agreement(painted, classes, colours)
        by = {}
        for (sample, chrom, _), img in zip(cohort, painted.astype(np.float32)):
            if chrom not in ("X", "Y"):
                by.setdefault(sample, {}).setdefault(chrom, []).append(img)

        rel = [distance(by, a, b) for a, b in relatives]
        unr = [distance(by, a, b) for a, b in strangers]
        # end to end as the rule runs it: sketch PNGs in, painted PNGs + manifest out, model loaded once
        with tempfile.TemporaryDirectory() as tmp:
            sketch_cohort(latent_files, Path(tmp) / "sk")
            t0 = time.perf_counter()
            done, _ = paint_tiles(Path(tmp) / "sk", weights, Path(tmp) / "out", "cpu")
            dt = time.perf_counter() - t0
        n_samples = len({r[0] for r in done})
        rows.append((style, card, m, chance, tiles_s, n_samples / dt, rel, unr))

    print(
        f"pix2pix styles on {args.threads} CPU threads ({len(classes)} genome sketch tiles of the example cohort)\n"
    )
    print(
        "| style | epochs | held-out L1 | FID (pairs) | layout, held-out | layout, genome sketches (chance) "
        "| relatives' / strangers' distance | tiles/s | styles/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for style, card, m, chance, tiles_s, styles_s, rel, unr in rows:
        fid = f"{m['fid']:.1f} ({m.get('fid_pairs', '?')})" if m.get("fid") is not None else "n/a"
        lh = f"{m['layout_heldout']:.3f}" if "layout_heldout" in m else "n/a"
        print(
            f"| {style} | {card['epochs']} | {m['heldout_l1']:.4f} | {fid} | {lh} | {m['layout_cohort']:.3f} ({chance:.3f}) "
            f"| {np.mean(rel):.1f} (max {max(rel):.1f}) / {np.mean(unr):.1f} (min {min(unr):.1f}) "
            f"| {tiles_s:.1f} | {styles_s:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
