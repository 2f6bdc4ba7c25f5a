"""Benchmark generate: tiles/s including PNG writing (goal >= 30 at 256 px on 2 CPU cores).

"tiles/s compute" paints 256 x 256 tiles for the coordinate generator (cpu-cips: any size) and each
fixed-size generator at its resolution; "incl. PNG" runs rule generate's paint_cohort, where the
coordinate generator paints chromosome 1's silhouette box (600 x 56 px) and the others their size.

    python benchmarks/bench_generate.py                 # CPU, 2 threads, 256 px gpu-full architecture + bundled
    python benchmarks/bench_generate.py --device cuda   # GPU (goal >= 2,000 tiles/s)

Paints random N(0, I) latents through ``painting.paint_cohort`` (the code rule generate runs) with
randomly initialised generators of each preset's architecture (speed does not depend on the weights)
and the bundled checkpoint; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def bench(weights, n_tiles, batch_size, device, threads, compress, autocast=True):
    import numpy as np
    from karyospectrum.checkpoints import read_card
    from karyospectrum.painting import any_size, load_generator, paint, paint_cohort

    card = read_card(weights)
    dim = card["latent_dim"]
    with tempfile.TemporaryDirectory() as tmp:
        lat = np.random.default_rng(0).standard_normal((n_tiles // 2, 2, dim)).astype(np.float32)
        path = Path(tmp) / "1.npz"
        np.savez(
            path,
            samples=np.array([f"s{i}" for i in range(len(lat))]),
            latents=lat,
            copy_present=np.ones(lat.shape[:2], bool),
            chrom="1",
            dim=dim,
        )
        G, _ = load_generator(weights, device)
        # Compute at 256 x 256 for any-size (coordinate) generators, else at the generator's size.
        size = (256, 256) if any_size(G) else None
        paint(lat[:2].reshape(-1, dim), G, device, batch_size, autocast, size=size)  # warm-up
        t0 = time.perf_counter()
        paint(lat.reshape(-1, dim), G, device, batch_size, autocast, size=size)
        compute = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = paint_cohort(
            [path], weights, Path(tmp) / "tiles", device, batch_size, autocast, compress, threads
        )
        total = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (Path(tmp) / "tiles").rglob("*.png")) / len(rows)
    return len(rows) / compute, len(rows) / total, size


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tiles", type=int, default=192, help="tiles per measurement")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--compress-level", type=int, default=1)
    p.add_argument("--presets", nargs="+", default=["cpu-cips", "gpu-full", "cpu-256", "cpu-small"])
    args = p.parse_args()

    import torch
    from karyospectrum.checkpoints import save_checkpoint
    from karyospectrum.gan_training import resolve_config
    from karyospectrum.networks import define_G, init_weights

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load = os.getloadavg()[0]
    print(
        f"device {device}, {args.threads} threads, batch {args.batch_size}, PNG zlib level {args.compress_level}, "
        f"{args.tiles} tiles each, load average {load:.1f}\n"
    )
    print("| generator | resolution | params | tiles/s compute | tiles/s incl. PNG | PNG KB |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for preset in args.presets:
            cfg = resolve_config(preset)
            G = init_weights(
                define_G(
                    cfg["arch"],
                    cfg["latent_dim"],
                    cfg["resolution"],
                    cfg["ngf"],
                    cfg["g_norm"],
                    **cfg["g_options"],
                )
            )
            w = Path(tmp) / f"{preset}.safetensors"
            save_checkpoint(
                w,
                G.state_dict(),
                {
                    "kind": "generator",
                    "arch": cfg["arch"],
                    "latent_dim": cfg["latent_dim"],
                    "resolution": cfg["resolution"],
                    "generator": {"ngf": cfg["ngf"], "norm": cfg["g_norm"], **cfg["g_options"]},
                },
                half=True,
            )
            runs.append(
                (
                    f"{preset} ({cfg['arch']}, ngf {cfg['ngf']})",
                    w,
                    cfg["resolution"],
                    sum(p.numel() for p in G.parameters()),
                )
            )
        bundled = REPO / "resources/models/generator.safetensors"
        if bundled.exists():
            from karyospectrum.checkpoints import read_card

            c = read_card(bundled)
            runs.append(("bundled resources/models/generator", bundled, c["resolution"], None))
        for name, w, res, n in runs:
            comp, total, size = bench(
                w, args.tiles, args.batch_size, device, args.threads, args.compress_level
            )
            params = f"{n / 1e6:.1f} M" if n else "-"
            print(f"| {name} | {res[0]}x{res[1]} | {params} | {comp:.1f} | {total:.1f} | {size / 1024:.1f} |")


if __name__ == "__main__":
    main()
