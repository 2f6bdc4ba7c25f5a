"""The coordinate painter's fast kernels against the textbook ones, interleaved in one process.

    python benchmarks/bench_painter_kernels.py [--threads 2] [W]

"textbook": nearest x2 upsample then a 3x3 conv, and BatchNorm's eval forward then the style's scale and
shift; "fast": ``networks.upsample_conv`` (one sub-pixel 3x3 conv) and the folded per-sample affine map
(``_ModulatedNorm`` when painting). Paints the same 32 latents at 256 px with each, twice, in turn (so
both see the same machine load), and prints tiles/s and how many uint8 pixel values differ.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "weights", nargs="?", default=str(REPO / "resources/models/generator-wallpaper.safetensors")
    )
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import karyospectrum.networks as N
    import numpy as np
    import torch
    import torch.nn.functional as F
    from karyospectrum.painting import load_generator, paint

    torch.set_num_threads(args.threads)
    G, _ = load_generator(args.weights)
    zs = np.random.default_rng(1).standard_normal((32, G.latent_dim)).astype(np.float32)
    fast = {"conv": N.upsample_conv, "norm": N._ModulatedNorm.forward}

    textbook = {
        "conv": lambda x, w: F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1),
        "norm": N._ModulatedNorm.textbook,
    }

    def use(kernels):
        N.upsample_conv, N._ModulatedNorm.forward = kernels["conv"], kernels["norm"]

    use(textbook)
    a = paint(zs[:8], G, size=(256, 256))
    use(fast)
    b = paint(zs[:8], G, size=(256, 256))
    diff = np.abs(a.astype(int) - b)
    print(
        f"{args.weights}, {args.threads} threads: uint8 values differing {(diff > 0).mean():.1e}, max {diff.max()}"
    )
    for _ in range(2):
        for name, kernels in (("textbook", textbook), ("fast", fast)):
            use(kernels)
            t = time.time()
            paint(zs, G, size=(256, 256), batch_size=16)
            print(f"{name}: {len(zs) / (time.time() - t):.1f} tiles/s at 256 px", flush=True)
    use(fast)


if __name__ == "__main__":
    main()
