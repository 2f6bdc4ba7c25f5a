#!/usr/bin/env python
"""af_table: a cohort's genotype files -> allele-frequency table (variant_key, af).

Use it to hash a single genome (a VCF listing only non-reference sites) against a cohort's
frequencies: latent.centering af_table, latent.af_table this file.
"""

from __future__ import annotations

import argparse
import logging

from karyospectrum.cli import run, setup_logging
from karyospectrum.latents import write_af_table

log = logging.getLogger("karyospectrum.af_table")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genotypes", nargs="+", required=True, help="genotype files from parse_vcf")
    ap.add_argument("--out", required=True, help="output TSV")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    n = write_af_table(args.genotypes, args.out)
    log.info("%d sites written", n)
    return 0


if __name__ == "__main__":
    run(main)
