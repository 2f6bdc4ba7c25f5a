#!/usr/bin/env python
"""Kinship plot for a pedigree: true kinship vs latent cosine vs tile similarity, one point per pair.

Latent cosine: the genome stage's kinship sketch over the autosomes (per-chromosome cosine of the
copy-summed latents, weighted by variant count, recentred). Tile similarity: the same estimator on the
tiles (16x16 RGB pixels, centred per chromosome on the cohort's mean tile). Unrelated pairs should sit
near 0, parent-child and full sibs near 2 x kinship.
Only sample ids, relationships and these summaries are written: no genotype, position or rsid.
"""

from __future__ import annotations

import argparse

from karyospectrum.cli import log, run, setup_logging
from karyospectrum.io import write_text
from karyospectrum.kinship import kinship_table, plot_kinship, read_truth


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--truth", required=True, help="TSV: sample_a, sample_b, relationship, kinship")
    p.add_argument("--latents", nargs="+", required=True, help="the cohort's latents/{chrom}.npz")
    p.add_argument("--tiles", required=True, help="the cohort's tiles directory (manifest.tsv)")
    p.add_argument("--png", required=True)
    p.add_argument("--tsv", required=True)
    p.add_argument("--log", default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log)
    truth = read_truth(args.truth)
    table, skipped = kinship_table(truth, args.latents, args.tiles, args.truth)
    write_text(args.tsv, table.to_csv(sep="\t", index=False, float_format="%.4f"))
    plot_kinship(table, args.png)
    summary = table.groupby("relationship")[["kinship", "latent_cosine", "tile_similarity"]].mean()
    log.info(
        "kinship report: %d pairs (%d skipped: not in the cohort)\n%s",
        len(table),
        skipped,
        summary.round(3).to_string(),
    )
    return 0


if __name__ == "__main__":
    run(main)
