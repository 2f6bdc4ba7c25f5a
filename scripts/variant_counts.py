#!/usr/bin/env python
"""Per-sample variant counts of a cohort, per chromosome: non-reference calls and missing calls.

Reads the cohort's genotypes/{chrom}.npz (rule parse_vcf) chunk by chunk and writes counts only (no genotype, position or rsid): a TSV and a stacked bar plot.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from karyospectrum import CHROMOSOMES
from karyospectrum.cli import log, run, setup_logging
from karyospectrum.genotypes import GenotypeFile
from karyospectrum.io import write_text
from karyospectrum.karyogram import save_figure


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--genotypes", nargs="+", required=True, help="the cohort's genotypes/{chrom}.npz")
    p.add_argument("--png", required=True)
    p.add_argument("--tsv", required=True)
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def count(path) -> pd.DataFrame:
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


def plot(table: pd.DataFrame, path) -> None:
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


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    table = pd.concat([count(p) for p in args.genotypes], ignore_index=True)
    write_text(args.tsv, table.to_csv(sep="\t", index=False))
    plot(table, args.png)
    totals = table.groupby("sample")[["non_ref", "missing"]].sum()
    log.info(
        "variant counts: %d samples, %d chromosomes; non-ref calls per sample median %d",
        len(totals),
        table["chrom"].nunique(),
        int(totals["non_ref"].median()),
    )
    return 0


if __name__ == "__main__":
    run(main)
