"""The cohort's variant-counts report: per sample and chromosome, non-reference and missing calls.

Counts only (no genotype, position or rsid): a TSV and a stacked bar plot (rule variant_counts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import CHROMOSOMES
from .genotypes import GenotypeFile
from .karyogram import save_figure


def variant_counts(path) -> pd.DataFrame:
    """One chromosome: per sample, sites, non-reference calls and missing calls (chunk by chunk)."""
    with GenotypeFile(path) as gf:
        non_ref = np.zeros(len(gf.samples), dtype=np.int64)
        missing = np.zeros(len(gf.samples), dtype=np.int64)
        for chunk in gf.chunks():
            dosage = chunk.dosage
            non_ref += (dosage > 0).sum(axis=0)
            missing += (dosage < 0).sum(axis=0)
        return pd.DataFrame(
            {
                "sample": gf.samples,
                "chrom": str(gf.chrom).removeprefix("chr"),
                "sites": gf.n_variants,
                "non_ref": non_ref,
                "missing": missing,
            }
        )


def plot_variant_counts(table: pd.DataFrame, path) -> None:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    wide = table.pivot_table(index="sample", columns="chrom", values="non_ref", aggfunc="sum", fill_value=0)
    wide = wide[[c for c in CHROMOSOMES if c in wide.columns]]
    fig = Figure(figsize=(max(6, 0.35 * len(wide) + 2), 4), dpi=120)
    ax = fig.subplots()
    bottom = np.zeros(len(wide))
    # 24 distinct colours: tab20, then four from tab20b.
    colours = [colormaps["tab20"](i) for i in range(20)] + [colormaps["tab20b"](i) for i in (0, 5, 10, 15)]
    for i, chrom in enumerate(wide.columns):
        ax.bar(wide.index, wide[chrom], bottom=bottom, color=colours[i % 24], width=0.8, label=chrom)
        bottom += wide[chrom].to_numpy()
    ax.set_ylabel("non-reference calls")
    ax.set_title("variants per sample, stacked by chromosome", fontsize=10)
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.legend(ncol=2, fontsize=6, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    save_figure(fig, path)
