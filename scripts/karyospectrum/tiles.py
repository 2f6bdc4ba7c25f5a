"""Tiles: one painting per sample x chromosome x copy, and the manifest that lists them.

The one reader and writer of the tiles format: ``OUT/{sample}/{chrom}.{copy}.png`` (copies count
from 1) and ``OUT/manifest.tsv`` (sample, chrom, copy, path relative to OUT). A tile is painted at
its chromosome silhouette's own pixel size (see :func:`tile_size`), or at a fixed-resolution
generator's size, which the karyogram then stretches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import save_png, write_text

MANIFEST_COLUMNS = ["sample", "chrom", "copy", "path"]
# beside the manifest when some sample's VCF column is broken: sample, problem (that sample has no tiles)
BROKEN_FILE = "broken.tsv"
# The default tile geometry (the karyogram's): chromosome 1's height, and every copy's width, in pixels.
CHROM1_HEIGHT = 600
CHROMATID_WIDTH = 56


def tile_path(sample: str, chrom: str, copy: int) -> str:
    """Path of a tile relative to the tiles directory."""
    return f"{sample}/{chrom}.{int(copy)}.png"


def tile_size(chrom: str, chrom1_height: int, chromatid_width: int) -> tuple[int, int]:
    """``(height, width)`` in pixels of ``chrom``'s silhouette box in the karyogram."""
    from .ideogram import chrom_height

    return chrom_height(chrom, int(chrom1_height)), int(chromatid_width)


def save_tile(path: Path, image: np.ndarray, compress_level: int = 1) -> None:
    """One tile PNG (uint8 [H, W, 3]), atomic, no timestamp chunks: byte-identical for identical pixels."""
    from PIL import Image

    save_png(path, Image.fromarray(image), compress_level=compress_level)


def open_tile(path):
    """A tile (or any picture the workflow wrote) as an RGB PIL image; InputError names a bad file."""
    from .imaging import WORKFLOW_IMAGES, open_image

    return open_image(path, limits=WORKFLOW_IMAGES).convert("RGB")


def write_manifest(tiles_dir, rows, broken: dict[str, str] | None = None) -> None:
    """Write a tiles directory's ``manifest.tsv`` from ``(sample, chrom, copy, path)`` rows, atomically,
    and ``broken.tsv`` (sample, problem) when ``broken`` names samples whose VCF column is broken."""
    lines = "".join(f"{s}\t{c}\t{k}\t{p}\n" for s, c, k, p in rows)
    write_text(Path(tiles_dir) / "manifest.tsv", "\t".join(MANIFEST_COLUMNS) + "\n" + lines)
    if broken:
        write_text(Path(tiles_dir) / BROKEN_FILE, "".join(f"{s}\t{p}\n" for s, p in broken.items()))
    else:
        (Path(tiles_dir) / BROKEN_FILE).unlink(missing_ok=True)


def read_broken(tiles_dir) -> dict[str, str]:
    """Samples whose VCF column is broken -> the problem (``broken.tsv``; {} when there is none)."""
    path = Path(tiles_dir) / BROKEN_FILE
    if not path.is_file():
        return {}
    rows = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {r[0]: r[1] if len(r) > 1 else "broken VCF column" for r in rows}


def read_manifest(tiles_dir) -> pd.DataFrame:
    """The tiles directory's ``manifest.tsv`` (sample, chrom, copy, path relative to the directory)."""
    path = Path(tiles_dir) / "manifest.tsv"
    if not Path(tiles_dir).is_dir():
        raise InputError(tiles_dir, "not a directory of tiles")
    if not path.is_file():
        raise InputError(path, "missing; a tiles directory holds manifest.tsv (sample, chrom, copy, path)")
    try:
        manifest = pd.read_csv(path, sep="\t", dtype=str, comment="#").fillna("")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable TSV ({str(err).splitlines()[0]})") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}")
    manifest["chrom"] = manifest["chrom"].str.removeprefix("chr")
    bad_copy = ~manifest["copy"].str.fullmatch(r"\d+")
    if bad_copy.any():
        row = int(np.flatnonzero(bad_copy.to_numpy())[0]) + 2
        raise InputError(path, f"line {row}: copy must be a non-negative integer")
    manifest["copy"] = manifest["copy"].astype(int)
    return manifest
