"""The README's pictures: one sample's karyogram in every bundled style, and a 16:9 painting per style.

    python benchmarks/style_karyograms.py --latents results/latents/example --sample FAM1_child1 \\
        --styles wallpaper abstract --out docs

Paints the sample's chromosome copies with each style's generator at their silhouette size (as rule
generate does), renders the karyogram (as rule karyogram does) and writes ``OUT/karyogram-{style}.jpg``
(downsized to ``--width``) and ``OUT/painting-{style}-16x9.png`` (one latent, 270x480, painted at
that size: no resampling).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latents", default="results/latents/example")
    p.add_argument("--sample", default="FAM1_child1")
    p.add_argument("--styles", nargs="+", default=["wallpaper", "abstract"])
    p.add_argument("--models-dir", default="resources/models")
    p.add_argument("--out", default="docs")
    p.add_argument("--width", type=int, default=720, help="width of the README karyogram (px)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import numpy as np
    import torch
    from karyospectrum import CHROMOSOMES
    from karyospectrum.karyogram import Style, render_karyogram
    from karyospectrum.latents import load_latents
    from karyospectrum.painting import any_size, load_generator, paint, style_checkpoint
    from karyospectrum.tiles import tile_size
    from PIL import Image

    torch.set_num_threads(args.threads)
    style = Style()
    files = [load_latents(Path(args.latents) / f"{c}.npz") for c in CHROMOSOMES]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.styles:
        G, _ = load_generator(style_checkpoint(name, "", args.models_dir))
        images = {}
        for f in files:
            s = f.samples.index(args.sample)
            for c in np.flatnonzero(f.copy_present[s]):
                size = tile_size(f.chrom, style.chrom1_height, style.chromatid_width) if any_size(G) else None
                images[(f.chrom, int(c) + 1)] = Image.fromarray(paint(f.latents[s, c], G, size=size))
        image, _ = render_karyogram(images, title=args.sample)
        h = round(image.height * args.width / image.width)
        small = image.resize((args.width, h), Image.LANCZOS)
        small.save(out / f"karyogram-{name}.jpg", quality=90, optimize=True)  # < 500 KB for the README
        z = np.random.default_rng(8).standard_normal(G.latent_dim).astype(np.float32)
        wide = paint(z, G, size=(270, 480) if any_size(G) else None)
        Image.fromarray(wide).save(out / f"painting-{name}-16x9.png", optimize=True)
        print(
            f"{name}: {out / f'karyogram-{name}.jpg'} ({args.width}x{h}), {out / f'painting-{name}-16x9.png'}"
        )


if __name__ == "__main__":
    main()
