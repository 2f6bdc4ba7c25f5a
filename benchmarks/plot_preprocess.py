#!/usr/bin/env python
"""Picture of the classifier's input normalisation: crops as other labs image them, and what the network sees.

    python benchmarks/plot_preprocess.py --data ../shared/data/chromosomes/gband-612cells --out docs/preprocess.png

Top row: one crop as is, inverted (fluorescent-like), low contrast on a grey background, at half resolution,
and all three at once. Bottom row: ``classifier.preprocess`` of each (ink bright on black, 64 px). Without
--data the crop is synthetic (karyospectrum.synthetic).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="folder with manifest.csv (real crops)")
    p.add_argument("--chrom", default="7")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", default=str(REPO / "docs" / "preprocess.png"))
    args = p.parse_args(argv)

    import numpy as np
    from karyospectrum import classifier as C
    from karyospectrum.io import save_png
    from karyospectrum.synthetic import render_chromosome
    from PIL import Image

    if args.data:
        m = C.read_manifest(Path(args.data) / "manifest.csv")
        g = C.load_grey(m[m.chrom == args.chrom].file.iloc[0])
    else:
        g = render_chromosome(args.chrom, np.random.default_rng(0))

    def half(a):
        h, w = a.shape
        return np.asarray(Image.fromarray(a).resize((max(2, w // 2), max(2, h // 2)), Image.BILINEAR))

    def low(a):
        return np.round(90 + a * 0.45).astype(np.uint8)

    variants = [g, 255 - g, low(g), half(g), half(low(255 - g))]
    cell = 3 * args.size
    sheet = np.full((2 * cell + 12, len(variants) * (cell + 6) + 6), 255, np.uint8)
    for i, v in enumerate(variants):
        x0 = 6 + i * (cell + 6)
        scale = cell / max(v.shape)
        up = Image.fromarray(v).resize(
            (max(1, round(v.shape[1] * scale)), max(1, round(v.shape[0] * scale))), Image.NEAREST
        )
        a = np.asarray(up)
        sheet[4 : 4 + a.shape[0], x0 : x0 + a.shape[1]] = a
        sq = np.round(C.preprocess(v, args.size) * 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(sq).resize((cell, cell), Image.NEAREST))
        sheet[cell + 8 : 2 * cell + 8, x0 : x0 + cell] = big
    save_png(args.out, Image.fromarray(sheet))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
