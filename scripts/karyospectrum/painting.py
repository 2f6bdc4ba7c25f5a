"""Paint latents into tiles: batched generator inference and PNG writing in parallel with it.

``paint(latents, generator, size)`` is the pure core (float latents -> uint8 pictures, deterministic
for a given device and batch size); ``paint_cohort`` reads a cohort's latents files and writes one
PNG per sample x chromosome x present copy plus a ``manifest.tsv`` (format owner: ``tiles.py``).
A coordinate generator (arch ``cips``) paints each copy once at its silhouette's own pixel size;
a fixed-resolution generator paints at its resolution (the karyogram stretches those).
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import InputError
from .latentfile import load_latents
from .tiles import CHROM1_HEIGHT, CHROMATID_WIDTH, save_tile, tile_path, tile_size, write_manifest

log = logging.getLogger("karyospectrum.painting")

# The chromatid width (px) at which a painting shows at its training scale; wider tiles (posters)
# paint the same picture with more pixels, so a print is sharp rather than zoomed.
REFERENCE_CHROMATID_WIDTH = CHROMATID_WIDTH
DEFAULT_STYLE = "wallpaper"  # the bundled style a plain run paints with
MODELS_DIR = "resources/models"  # where the bundled styles are: generator-{style}.safetensors + .json


def any_size(generator) -> bool:
    """True for generators that paint any size and aspect from one latent (coordinate-based)."""
    from .networks import CoordGenerator

    return isinstance(generator, CoordGenerator)


def known_styles(models_dir) -> list[str]:
    """Styles bundled in ``models_dir``: ``generator-{style}.safetensors`` with a card beside it."""
    return sorted(
        p.name.removeprefix("generator-").removesuffix(".safetensors")
        for p in Path(models_dir).glob("generator-*.safetensors")
        if p.with_suffix(".json").exists()
    )


def style_checkpoint(style: str, checkpoint: str = "", models_dir=MODELS_DIR) -> str:
    """The generator weights for ``generator.style`` (or ``checkpoint``, which wins when set)."""
    if checkpoint:
        return str(checkpoint)
    styles = known_styles(models_dir)
    if style not in styles:
        raise InputError(
            None, f"unknown generator style {style!r}; known styles: {', '.join(styles) or 'none bundled'}"
        )
    return str(Path(models_dir) / f"generator-{style}.safetensors")


def load_generator(weights, device="cpu"):
    """``(generator, card)`` from a checkpoint; refuses a wrong kind, unknown arch or corrupt file."""
    import torch

    from .networks import generator_from_checkpoint

    generator, card = generator_from_checkpoint(weights, device)
    # NHWC lets oneDNN/cuDNN pick faster kernels (about 2x on the CPU); output stays deterministic per device.
    return generator.to(memory_format=torch.channels_last), card


def check_dim(latent_dim: int, generator_dim: int, path=None, weights=None) -> None:
    if int(latent_dim) != int(generator_dim):
        raise InputError(
            path,
            f"latent dim {latent_dim} does not match the generator's latent_dim {generator_dim}"
            + (f" ({weights})" if weights else "")
            + "; set latent.dim or pick another checkpoint",
        )


def paint(
    latents,
    generator,
    device=None,
    batch_size: int = 64,
    autocast: bool = False,
    size=None,
    scale: float = 1.0,
) -> np.ndarray:
    """Latents ``[..., dim]`` -> uint8 pictures ``[..., H, W, 3]``.

    ``size`` (H, W) needs an any-size generator (default: its resolution); ``scale`` >= 1.5 paints
    the same picture with round(scale)^2 more pixels (print: see ``CoordGenerator`` supersample). On CUDA ``autocast`` runs the generator
    in bf16; the CPU always runs float32.
    """
    import torch

    latents = np.ascontiguousarray(latents, dtype=np.float32)
    check_dim(latents.shape[-1], generator.latent_dim)
    lead = latents.shape[:-1]
    flat = latents.reshape(-1, latents.shape[-1])
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    if size is not None and tuple(size) != tuple(generator.resolution) and not any_size(generator):
        raise ValueError(
            f"a {type(generator).__name__} paints only {generator.resolution}, not {tuple(size)}"
        )
    h, w = generator.resolution if size is None else (int(size[0]), int(size[1]))
    out = np.empty((len(flat), h, w, 3), np.uint8)
    for start, images in _batches(flat, generator, device, batch_size, autocast, (h, w), scale):
        out[start : start + len(images)] = images
    return out.reshape(*lead, h, w, 3)


def _batches(flat: np.ndarray, generator, device, batch_size: int, autocast: bool, size=None, scale=1.0):
    """Yield ``(start, uint8 images)`` per batch; the next batch is queued before the copy back."""
    import torch

    from .networks import to_uint8

    kw = {}
    if any_size(generator) and size is not None:
        kw = {"size": size, "supersample": max(1, round(float(scale)))}
    use_amp = bool(autocast) and device.type == "cuda"
    generator.eval()
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        for start in range(0, len(flat), batch_size):
            z = torch.from_numpy(flat[start : start + batch_size]).to(device, non_blocking=True)
            yield start, to_uint8(generator(z, **kw))


def tile_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference of two uint8 tiles (0 identical, 255 opposite): for kinship checks."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def paint_cohort(
    latent_files,
    weights,
    out_dir,
    device="cpu",
    batch_size: int = 64,
    autocast: bool = True,
    compress_level: int = 1,
    writers: int = 2,
    chrom1_height: int = CHROM1_HEIGHT,
    chromatid_width: int = REFERENCE_CHROMATID_WIDTH,
) -> list[tuple[str, str, int, str]]:
    """Paint every present copy of every sample and chromosome; returns the manifest rows.

    Tiles go to ``out_dir/{sample}/{chrom}.{copy}.png`` (copy counts from 1). An any-size generator
    paints each at its silhouette box (``tiles.tile_size``: the karyogram's ``chrom1_height`` and
    ``chromatid_width``), once, unstretched; the picture keeps its painting-unit scale, so wider
    chromatids (posters) get more detail, not a zoom. PNGs are encoded in a thread pool (zlib
    releases the GIL) while the generator paints the next batch.
    """
    import torch

    device = torch.device(device)
    generator, card = load_generator(weights, device)
    files = [load_latents(p, metadata=False) for p in latent_files]
    for f, path in zip(files, latent_files):
        check_dim(f.dim, card["latent_dim"], path, weights)
    out_dir = Path(out_dir)
    whole = any_size(generator)
    scale = int(chromatid_width) / REFERENCE_CHROMATID_WIDTH
    if not whole:
        log.info(
            "%s paints %s px only: the karyogram stretches its tiles", card["arch"], generator.resolution
        )
    broken = broken_samples(files)  # they get no tiles at all, so no one else's painting changes
    rows, pending = [], deque()
    with ThreadPoolExecutor(max(1, int(writers))) as pool:
        for f in files:
            sample_idx, copy_idx = np.nonzero(f.copy_present & ~np.isin(f.samples, list(broken))[:, None])
            flat = f.latents[sample_idx, copy_idx]
            names = [(f.samples[s], int(c) + 1) for s, c in zip(sample_idx, copy_idx)]
            size = tile_size(f.chrom, chrom1_height, chromatid_width) if whole else None
            for start, images in _batches(flat, generator, device, batch_size, autocast, size, scale):
                for k, img in enumerate(images):
                    sample, copy = names[start + k]
                    rel = tile_path(sample, f.chrom, copy)
                    pending.append(pool.submit(save_tile, out_dir / rel, img, compress_level))
                    rows.append((sample, f.chrom, copy, rel))
                while len(pending) > 4 * batch_size:  # bound the memory held by queued tiles
                    pending.popleft().result()
        for fut in pending:
            fut.result()
    order = {c: i for i, c in enumerate(f.chrom for f in files)}
    sample_order = {s: i for i, s in enumerate(dict.fromkeys(s for f in files for s in f.samples))}
    rows.sort(key=lambda r: (sample_order[r[0]], order[r[1]], r[2]))
    write_manifest(out_dir, rows, broken)
    return rows


def broken_samples(files) -> dict[str, str]:
    """Samples whose VCF column is broken on some chromosome -> the first such problem (the latents' order)."""
    broken: dict[str, str] = {}
    for f in files:
        for sample, problem in zip(f.samples, f.broken):
            if problem and sample not in broken:
                broken[sample] = problem
                log.warning("sample %s: broken VCF column (%s): no tiles", sample, broken[sample])
    return broken
