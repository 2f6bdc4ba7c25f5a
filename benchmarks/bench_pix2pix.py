"""Benchmark the pix2pix styles: held-out L1 and FID, layout faithfulness, kinship, and speed.

    python benchmarks/bench_pix2pix.py                        # every bundled style, 2 CPU threads
    python benchmarks/bench_pix2pix.py --styles wallpaper --recompute-fid
    python benchmarks/bench_pix2pix.py --figure docs/pix2pix.jpg --sample FAM1_child1   # the README figure

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


def figure(args) -> int:
    """One genome's sketch karyogram, then the same genome in two styles, side by side."""
    import numpy as np
    import torch
    from karyospectrum.karyogram import _font, load_sample_tiles, render_karyogram
    from karyospectrum.pix2pix import known_styles, paint_tiles, style_weights
    from karyospectrum.sketch import sketch_cohort
    from PIL import Image, ImageDraw

    torch.set_num_threads(args.threads)
    styles = (args.styles or known_styles(args.models))[:2]
    latent_files = sorted(Path(args.latents).glob("*.npz"))
    panels = []
    with tempfile.TemporaryDirectory() as tmp:
        sketch_cohort(latent_files, Path(tmp) / "sketch")
        folders = [("genome sketch", Path(tmp) / "sketch", 0.0)]
        for style in styles:
            out = Path(tmp) / style
            paint_tiles(Path(tmp) / "sketch", style_weights(style, args.models), out, "cpu")
            folders.append((f"style: {style}", out, 0.25))
        for label, folder, bands in folders:
            img, _ = render_karyogram(load_sample_tiles(folder, args.sample), title=None, band_strength=bands)
            draw = ImageDraw.Draw(img)
            draw.text((img.width / 2, 12), label, fill="#202020", font=_font(48), anchor="mt")
            panels.append(np.asarray(img.convert("RGB")))
    gap = np.full((panels[0].shape[0], 24, 3), 255, np.uint8)
    row = np.concatenate([x for p in panels for x in (p, gap)][:-1], axis=1)
    im = Image.fromarray(row)
    im = im.resize((1500, round(im.height * 1500 / im.width)), Image.LANCZOS)
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    im.save(args.figure, quality=85) if args.figure.endswith(".jpg") else im.save(args.figure, optimize=True)
    print(f"wrote {args.figure}: {args.sample}, sketch + {', '.join(styles)} ({im.width}x{im.height})")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--styles", nargs="*", help="default: every bundled style")
    p.add_argument("--models", default=str(REPO / "resources/models"))
    p.add_argument("--latents", default=str(REPO / "results/latents/example"), help="example cohort latents")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recompute-fid", action="store_true", help="recompute L1/FID from <train dir>/pairs.npz")
    p.add_argument("--figure", help="write the README figure (sketch, then two styles) here and exit")
    p.add_argument("--sample", default="FAM1_child1", help="the figure's genome")
    args = p.parse_args(argv)
    if args.figure:
        return figure(args)

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
    from karyospectrum.sketch import sketch_cohort

    torch.set_num_threads(args.threads)
    styles = args.styles or known_styles(args.models)
    latent_files = sorted(Path(args.latents).glob("*.npz"))
    if not latent_files:
        from example_latents import example_latents

        tmp = Path(tempfile.mkdtemp())
        latent_files = example_latents(tmp, [str(c) for c in range(1, 23)] + ["X"])
    from example_latents import pedigree_pairs
    from karyospectrum.karyogram import read_manifest
    from karyospectrum.sketch import read_sketch
    from PIL import Image

    relatives, strangers = pedigree_pairs()
    work = Path(tempfile.mkdtemp())
    rows_sk = sketch_cohort(latent_files, work / "sketch")  # the tiles rule sketch writes
    classes = [read_sketch(work / "sketch" / r[3]) for r in rows_sk]
    n_units = sum(c.shape[0] for c in classes) // classes[0].shape[1]  # in 128x128 tiles
    chance = float(np.bincount(np.concatenate([c.ravel() for c in classes]), minlength=5).max())
    chance /= sum(c.size for c in classes)
    rows = []
    for style in styles:
        weights = style_weights(style, args.models)
        card = read_card(weights)
        m = dict(card["metrics"])
        pairs_path = weights.with_name(weights.name.removesuffix(".safetensors") + ".train") / "pairs.npz"
        colours = np.asarray(card["class_colours"], np.uint8)
        if pairs_path.exists():
            G, _ = load_style(weights, "cpu")
            with np.load(pairs_path) as z:
                held = (z["heldout_classes"], z["heldout_images"])
            hp = paint(G, held[0], "cpu")
            m["layout_heldout"] = layout_agreement(hp, held[0], colours)
            if args.recompute_fid:
                from karyospectrum.fid import fid

                m["heldout_l1"] = float(
                    np.abs(hp.astype(np.float32) - held[1].astype(np.float32)).mean() / 255
                )
                m["fid"] = fid(held[1], hp, "cpu")
        # as rule paint_styles runs: sketch PNGs in, painted PNGs + manifest out, the model loaded once
        t0 = time.perf_counter()
        done, _ = paint_tiles(work / "sketch", weights, work / style, "cpu", workers=args.threads)
        dt = time.perf_counter() - t0
        manifest = read_manifest(work / style)
        painted = [np.asarray(Image.open(work / style / p).convert("RGB")) for p in manifest["path"]]
        m["layout_cohort"] = layout_agreement(painted, classes, colours)
        by = {}
        for (sample, chrom, _, _), img in zip(rows_sk, painted):
            if chrom not in ("X", "Y"):
                by.setdefault(sample, {}).setdefault(chrom, []).append(img.astype(np.float32))
        rel = [distance(by, a, b) for a, b in relatives]
        unr = [distance(by, a, b) for a, b in strangers]
        n_samples = len({r[0] for r in done})
        rows.append((style, card, m, chance, n_units / dt, n_samples / dt, rel, unr))

    print(
        f"pix2pix styles on {args.threads} CPU threads: the example cohort's {len(classes)} genome sketch tiles "
        f"({n_units} units of 128x128 px, each tile at its chromosome's aspect)\n"
    )
    print(
        "| style | epochs | held-out L1 | FID (pairs) | layout, held-out | layout, genome sketches (chance) "
        "| relatives' / strangers' distance | 128 px units/s | styles/s |"
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
