#!/usr/bin/env python
"""Kinship plot for a pedigree: true kinship vs latent cosine vs tile similarity, one point per pair.

Latent cosine: per autosome, the cosine between two samples' latents (summed over their copies),
averaged over autosomes. Tile similarity: the same on the tiles (16x16 RGB, centred per chromosome
on the cohort mean). Unrelated pairs should sit near 0, parent-child and full sibs near 2 x kinship.
Only sample ids, relationships and these summaries are written: no genotype, position or rsid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from karyospectrum import AUTOSOMES
from karyospectrum.cli import InputError, log, run, setup_logging
from karyospectrum.io import atomic_path, write_text
from karyospectrum.karyogram import open_image, read_manifest

TRUTH_COLUMNS = ["sample_a", "sample_b", "relationship", "kinship"]
THUMB = 16


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--truth", required=True, help="TSV: sample_a, sample_b, relationship, kinship")
    p.add_argument("--latents", nargs="+", required=True, help="the cohort's latents/{chrom}.npz")
    p.add_argument("--tiles", required=True, help="the cohort's tiles directory (manifest.tsv)")
    p.add_argument("--png", required=True)
    p.add_argument("--tsv", required=True)
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


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


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def latent_vectors(paths) -> dict[str, dict[str, np.ndarray]]:
    """{chrom: {sample: latent summed over the copies present}} for the autosomes."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as z:
                chrom = str(z["chrom"])
                samples = [str(s) for s in z["samples"]]
                lat = z["latents"].astype(np.float64)
                present = z["copy_present"].astype(bool) if "copy_present" in z else np.ones(lat.shape[:2], bool)
        except (OSError, KeyError, ValueError) as err:
            raise InputError(path, f"not a latents file ({err})") from None
        if chrom.removeprefix("chr") not in AUTOSOMES:
            continue
        summed = (lat * present[:, :, None]).sum(axis=1)
        out[chrom] = {s: summed[i] for i, s in enumerate(samples) if present[i].any()}
    return out


def tile_vectors(tiles_dir) -> dict[str, dict[str, np.ndarray]]:
    """{chrom: {sample: tile pixels (mean over copies), centred on the cohort mean}} for the autosomes."""
    manifest = read_manifest(tiles_dir)
    manifest = manifest.loc[manifest["chrom"].isin(AUTOSOMES)]
    out: dict[str, dict[str, np.ndarray]] = {}
    for (chrom, sample), rows in manifest.groupby(["chrom", "sample"], sort=True):
        pix = [np.asarray(open_image(Path(tiles_dir) / p).resize((THUMB, THUMB)), dtype=np.float64).ravel()
               for p in rows["path"]]
        out.setdefault(chrom, {})[sample] = np.mean(pix, axis=0)
    for chrom, by_sample in out.items():
        mean = np.mean(list(by_sample.values()), axis=0)
        for s in by_sample:
            by_sample[s] = by_sample[s] - mean
    return out


def mean_similarity(vectors: dict[str, dict[str, np.ndarray]], a: str, b: str) -> float:
    vals = [_cos(v[a], v[b]) for v in vectors.values() if a in v and b in v]
    vals = [x for x in vals if np.isfinite(x)]
    return float(np.mean(vals)) if vals else float("nan")


def plot(table: pd.DataFrame, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), dpi=120)
    axes = fig.subplots(1, 2, sharey=True)
    kin_max = max(0.5, float(table["kinship"].max()) if len(table) else 0.5)
    for ax, col, name in zip(axes, ["latent_cosine", "tile_similarity"], ["latent cosine", "tile similarity"]):
        for rel, rows in table.groupby("relationship", sort=True):
            ax.scatter(rows["kinship"], rows[col], label=f"{rel} (n={len(rows)})", s=22, alpha=0.8)
        ax.plot([0, kin_max], [0, 2 * kin_max], color="grey", lw=0.8, ls="--", label="2 x kinship")
        ok = table[["kinship", col]].dropna()
        rho = ok["kinship"].corr(ok[col], method="spearman") if len(ok) > 2 else float("nan")
        ax.set_title(f"{name} (Spearman rho {rho:.2f})", fontsize=10)
        ax.set_xlabel("true kinship coefficient")
        ax.axhline(0, color="black", lw=0.5)
    axes[0].set_ylabel("similarity (mean over autosomes)")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    truth = read_truth(args.truth)
    latents = latent_vectors(args.latents)
    tiles = tile_vectors(args.tiles)
    known = set().union(*[set(v) for v in latents.values()]) if latents else set()
    keep = truth["sample_a"].isin(known) & truth["sample_b"].isin(known)
    if not keep.any():
        raise InputError(args.truth, "no pair of samples found in the cohort's latents")
    table = truth.loc[keep, TRUTH_COLUMNS].reset_index(drop=True)
    table["latent_cosine"] = [mean_similarity(latents, a, b) for a, b in zip(table.sample_a, table.sample_b)]
    table["tile_similarity"] = [mean_similarity(tiles, a, b) for a, b in zip(table.sample_a, table.sample_b)]
    write_text(args.tsv, table.to_csv(sep="\t", index=False, float_format="%.4f"))
    plot(table, args.png)
    summary = table.groupby("relationship")[["kinship", "latent_cosine", "tile_similarity"]].mean()
    log.info("kinship report: %d pairs (%d skipped: not in the cohort)\n%s", len(table), int((~keep).sum()),
             summary.round(3).to_string())
    return 0


if __name__ == "__main__":
    run(main)
