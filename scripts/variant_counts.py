#!/usr/bin/env python
"""Per-sample variant counts of a cohort, per chromosome: non-reference calls and missing calls.

Reads the cohort's genotypes/{chrom}.npz (rule parse_vcf) chunk by chunk and writes counts only (no genotype, position or rsid): a TSV and a stacked bar plot.
"""

from __future__ import annotations

import argparse

import pandas as pd
from karyospectrum.cli import log, run, setup_logging
from karyospectrum.io import write_text
from karyospectrum.report import plot_variant_counts, variant_counts


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--genotypes", nargs="+", required=True, help="the cohort's genotypes/{chrom}.npz")
    p.add_argument("--png", required=True)
    p.add_argument("--tsv", required=True)
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    table = pd.concat([variant_counts(p) for p in args.genotypes], ignore_index=True)
    write_text(args.tsv, table.to_csv(sep="\t", index=False))
    plot_variant_counts(table, args.png)
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
