"""The kinship report of a pedigree cohort: true kinship vs latent cosine vs tile similarity, pair by pair.

Latent cosine: the genome stage's kinship sketch over the autosomes. Tile similarity: the same estimator
on the tiles (16x16 RGB pixels, centred per chromosome on the cohort's mean tile). Only sample ids,
relationships and these summaries are written: no genotype, position or rsid.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from . import AUTOSOMES
from .errors import InputError
from .karyogram import save_figure
from .latents import Latents, kinship_sketch, load_latents
from .tiles import open_tile, read_manifest

TRUTH_COLUMNS = ["sample_a", "sample_b", "relationship", "kinship"]
THUMB = 16


def read_truth(path) -> pd.DataFrame:
    try:
        truth = pd.read_csv(path, sep="\t", dtype={"sample_a": str, "sample_b": str, "relationship": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(path, f"not a readable TSV ({str(err).splitlines()[0]})") from None
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}")
    truth["kinship"] = pd.to_numeric(truth["kinship"], errors="coerce")
    if truth["kinship"].isna().any():
        raise InputError(path, "kinship must be a number on every line")
    return truth


def autosome_latents(paths) -> list[Latents]:
    files = [lat for lat in map(load_latents, paths) if lat.chrom.removeprefix("chr") in AUTOSOMES]
    if not files:
        raise InputError(paths[0], "no autosome among the latents files")
    return files


def tile_latents(tiles_dir, latents: list[Latents]) -> list[Latents]:
    """Each autosome's tiles as if they were latents: [samples, copies, 16x16x3 pixels], centred on the
    cohort's mean tile, with the latents' samples, copies and variant counts, so that the tile
    similarity goes through the very estimator of the latent cosine."""
    manifest = read_manifest(tiles_dir)
    out = []
    for lat in latents:
        rows = manifest.loc[manifest["chrom"] == lat.chrom.removeprefix("chr")]
        copies = sorted(set(rows["copy"]))
        pix = np.zeros((len(lat.samples), max(1, len(copies)), THUMB * THUMB * 3))
        have = np.zeros(pix.shape[:2], dtype=bool)
        index = {s: i for i, s in enumerate(lat.samples)}
        for sample, copy, rel in zip(rows["sample"], rows["copy"], rows["path"]):
            if sample in index:
                i, k = index[sample], copies.index(copy)
                tile = open_tile(Path(tiles_dir) / rel).resize((THUMB, THUMB), Image.Resampling.BILINEAR)
                pix[i, k] = np.asarray(tile, dtype=np.float64).ravel()
                have[i, k] = True
        if have.any():
            pix[have] -= pix[have].mean(axis=0)
        out.append(replace(lat, latents=pix, copy_present=have))
    return out


def plot_kinship(table: pd.DataFrame, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), dpi=120)
    axes = fig.subplots(1, 2, sharey=True)
    kin_max = max(0.5, float(table["kinship"].max()) if len(table) else 0.5)
    for ax, col, name in zip(
        axes, ["latent_cosine", "tile_similarity"], ["latent cosine", "tile similarity"]
    ):
        for rel, rows in table.groupby("relationship", sort=True):
            label = f"{rel} (n={len(rows)}, mean {rows[col].mean():.2f})"
            ax.scatter(rows["kinship"], rows[col], label=label, s=22, alpha=0.8)
        ax.plot([0, kin_max], [0, 2 * kin_max], color="grey", lw=0.8, ls="--", label="2 x kinship")
        ok = table[["kinship", col]].dropna()
        rho = ok["kinship"].corr(ok[col], method="spearman") if len(ok) > 2 else float("nan")
        ax.set_title(f"{name} (Spearman rho {rho:.2f})", fontsize=10)
        ax.set_xlabel("true kinship coefficient")
        ax.axhline(0, color="black", lw=0.5)
    axes[0].set_ylabel("similarity (mean over autosomes)")
    for ax in axes:
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path)


def kinship_table(truth: pd.DataFrame, latent_paths, tiles_dir, truth_path=None) -> tuple[pd.DataFrame, int]:
    """The truth's pairs found in the cohort with their latent cosine and tile similarity; and how many
    pairs were skipped (a sample not in the cohort)."""
    latents = autosome_latents(latent_paths)
    samples, lat_cos = kinship_sketch(latents)
    _, tile_sim = kinship_sketch(tile_latents(tiles_dir, latents))
    index = {s: i for i, s in enumerate(samples)}
    keep = truth["sample_a"].isin(set(index)) & truth["sample_b"].isin(set(index))
    if not keep.any():
        raise InputError(truth_path, "no pair of samples found in the cohort's latents")
    table = truth.loc[keep, TRUTH_COLUMNS].reset_index(drop=True)
    pairs = list(zip(table.sample_a, table.sample_b))
    table["latent_cosine"] = [float(lat_cos[index[a], index[b]]) for a, b in pairs]
    table["tile_similarity"] = [float(tile_sim[index[a], index[b]]) for a, b in pairs]
    return table, int((~keep).sum())
