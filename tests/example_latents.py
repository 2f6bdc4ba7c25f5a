"""Helper for tests: the bundled example cohort's latents for a few chromosomes, through the library."""

from __future__ import annotations

import collections
from pathlib import Path

import pandas as pd
from conftest import REPO
from karyospectrum.genotypes import GenotypeFile, read_chromosome, write_genotypes
from karyospectrum.latents import LatentSettings, hash_genotypes

VCF = REPO / "resources/example/cohort.vcf.gz"
TRUTH = REPO / "resources/example/pedigree_truth.tsv"


def example_latents(out: Path, chromosomes) -> list[Path]:
    """Parse and hash the example cohort (every sample of the sheet) for ``chromosomes``."""
    sheet = pd.read_csv(REPO / "config/samples.tsv", sep="\t", dtype=str)
    samples = list(sheet.loc[sheet["cohort"] == "example", "sample"])
    files = []
    for chrom in chromosomes:
        geno = out / f"genotypes_{chrom}.npz"
        write_genotypes(geno, chrom, samples, read_chromosome(VCF, chrom, samples), collections.Counter())
        with GenotypeFile(geno) as g:
            hash_genotypes(g, LatentSettings()).save(out / f"{chrom}.npz")
        files.append(out / f"{chrom}.npz")
    return files


def pedigree_pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(relatives, strangers) sample pairs of the pedigree truth."""
    truth = pd.read_csv(TRUTH, sep="\t", dtype=str)
    related = truth["relationship"] != "unrelated"
    pairs = list(zip(truth["sample_a"], truth["sample_b"]))
    return [p for p, r in zip(pairs, related) if r], [p for p, r in zip(pairs, related) if not r]
