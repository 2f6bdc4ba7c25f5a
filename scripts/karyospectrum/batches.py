"""Batches of samples: the per-sample steps run one job per batch and write each sample's usual outputs.

The workflow's batches are runs of consecutive samples of one cohort in sample-sheet order (common.smk).
A batch job checks every sample's inputs before it writes anything; an error names the sample.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from .errors import InputError

log = logging.getLogger("karyospectrum.batches")

T = TypeVar("T")


def per_sample(items: Iterable[tuple[str, tuple]], fn: Callable[..., T]) -> list[T]:
    """``fn(*args)`` for each ``(sample, args)`` of a batch; an InputError becomes one line naming the sample."""
    out = []
    for sample, args in items:
        try:
            out.append(fn(*args))
        except InputError as err:
            raise InputError(err.path, f"sample {sample}: {err.problem}") from None
    return out


def render_karyograms(
    tiles_dir, samples, sexes, pngs, pdfs, layouts, chromosomes=None, title: bool | str = True, **style
) -> None:
    """A batch of karyograms from one cohort's tiles: the manifest is read once, every sample is checked
    to have tiles before the first file is written, then each sample's PNG, PDF and layout are written.
    ``title``: True (each sample's id), False (none) or a text (a single sample's)."""
    from .karyogram import load_sample_tiles, render_karyogram, write_karyogram
    from .tiles import BROKEN_FILE, read_broken, read_manifest

    n = len(samples)
    if not (len(sexes) == len(pngs) == len(pdfs) == len(layouts) == n):
        raise InputError(None, f"a batch of {n} samples needs {n} sexes, PNGs, PDFs and layouts")
    manifest = read_manifest(tiles_dir)
    manifest = manifest.loc[manifest["sample"].isin(set(samples))]
    groups = {s: rows for s, rows in manifest.groupby("sample", sort=False)}
    broken = read_broken(tiles_dir)
    for s in samples:
        if s in broken:  # its genotypes were not read: fail this batch in one line, before writing
            raise InputError(
                Path(tiles_dir) / BROKEN_FILE,
                f"sample {s}: broken VCF column ({broken[s]}); fix its column or leave it out of the sample sheet",
            )
    for s in samples:
        if s not in groups:
            raise InputError(Path(tiles_dir) / "manifest.tsv", f"sample {s}: no tiles")
    t0 = time.perf_counter()
    for i, sample in enumerate(samples):

        def one(i=i, sample=sample):
            images = load_sample_tiles(tiles_dir, sample, sexes[i], chromosomes, manifest=groups[sample])
            image, layout = render_karyogram(
                images,
                title=title if isinstance(title, str) else (sample if title else None),
                shaped=True,
                **style,
            )
            layout["sample"] = sample
            write_karyogram(image, layout, pngs[i], pdfs[i], layouts[i])
            n_x = sum(1 for c, _ in images if c == "X")
            n_y = sum(1 for c, _ in images if c == "Y")
            log.info("karyogram %s: %d tiles (X x%d, Y x%d)", sample, len(images), n_x, n_y)

        per_sample([(sample, ())], one)
    log.info(
        "%d karyograms in %.1f s (%.2f s each)",
        n,
        time.perf_counter() - t0,
        (time.perf_counter() - t0) / max(n, 1),
    )
