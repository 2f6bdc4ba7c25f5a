"""Batches of samples: the per-sample steps run one job per batch and write each sample's usual outputs.

The workflow's batches are runs of consecutive samples of one cohort in sample-sheet order (common.smk).
A batch job checks every sample's inputs before it writes anything; an error names the sample.

Each batch job also writes its **batch manifest** last, ``results/batches/{step}/{batch}.tsv``: one row per
sample, the sample id and each of its output files. The steps that gather a whole cohort (contact sheet,
legibility table) take the manifests as inputs instead of thousands of per-sample files, which keeps the
workflow's DAG small: Snakemake resolves one file per batch, not five per sample.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from .errors import InputError

log = logging.getLogger("karyospectrum.batches")

T = TypeVar("T")


def write_batch_manifest(path, samples: list[str], **files: list[str]) -> None:
    """The batch manifest: a TSV with a ``sample`` column and one column per kind of output (atomic)."""
    from .io import write_text

    for kind, paths in files.items():
        if len(paths) != len(samples):
            raise InputError(None, f"a batch of {len(samples)} samples needs {len(samples)} {kind} files")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(["sample", *files])
    writer.writerows(zip(samples, *(map(str, v) for v in files.values())))
    write_text(path, buf.getvalue())


def read_batch_manifest(path) -> dict[str, list[str]]:
    """A batch manifest's columns: ``{"sample": [...], kind: [...], ...}``."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable batch manifest ({type(err).__name__})") from None
    if not rows or rows[0][:1] != ["sample"] or any(len(r) != len(rows[0]) for r in rows[1:]):
        raise InputError(path, "not a batch manifest (a TSV whose first column is 'sample')")
    return {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}


def expand_batches(paths, kind: str) -> list[str]:
    """Files given on a command line: a batch manifest (``.tsv``) stands for its ``kind`` column, in order;
    any other path for itself."""
    out = []
    for p in paths:
        if str(p).endswith(".tsv"):
            columns = read_batch_manifest(p)
            if kind not in columns:
                raise InputError(p, f"batch manifest has no {kind!r} column")
            out += columns[kind]
        else:
            out.append(str(p))
    return out


def lost_batch_files(manifests) -> list[str]:
    """Files that finished batches list in their manifests but that are gone (deleted by hand).

    A workflow that resolves each batch by its manifest alone would not see them missing; as targets, they
    make their batch run again. A manifest that is missing or unreadable lists nothing (its batch runs, or
    the step reading it says what is wrong)."""
    lost = []
    for m in manifests:
        try:
            columns = read_batch_manifest(m)
        except InputError:
            continue
        lost += [
            f for kind, files in columns.items() if kind != "sample" for f in files if not os.path.exists(f)
        ]
    return lost


def per_sample(items: Iterable[tuple[str, tuple]], fn: Callable[..., T], threads: int = 1) -> list[T]:
    """``fn(*args)`` for each ``(sample, args)`` of a batch, in order, ``threads`` at a time (for work that
    leaves the GIL, such as decoding images); an InputError becomes one line naming the (first) sample."""

    def call(item: tuple[str, tuple]) -> T:
        sample, args = item
        try:
            return fn(*args)
        except InputError as err:
            raise InputError(err.path, f"sample {sample}: {err.problem}") from None

    items = list(items)
    if threads <= 1 or len(items) < 2:
        return [call(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(call, items))  # raises the first failure in sample order


def render_karyograms(
    tiles_dir,
    samples,
    sexes,
    pngs,
    pdfs,
    layouts,
    chromosomes=None,
    title: bool | str = True,
    batch_manifest=None,
    **style,
) -> None:
    """A batch of karyograms from one cohort's tiles: the manifest is read once, every sample is checked
    to have tiles before the first file is written, then each sample's PNG, PDF and layout are written,
    and last the batch manifest (when given). ``title``: True (each sample's id), False (none) or a text
    (a single sample's)."""
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
    if batch_manifest:
        write_batch_manifest(batch_manifest, list(samples), png=pngs, pdf=pdfs, layout=layouts)
    log.info(
        "%d karyograms in %.1f s (%.2f s each)",
        n,
        time.perf_counter() - t0,
        (time.perf_counter() - t0) / max(n, 1),
    )
