#!/usr/bin/env python
"""parse_vcf: one chromosome of a cohort's bgzipped, indexed VCF/BCF -> genotype intermediate (.npz).

Reads the sheet's samples of one cohort, keeps biallelic SNPs (multi-allelic sites skipped or
split), and writes positions, variant keys and haplotypes chunk by chunk (bounded memory).
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from karyospectrum.cli import run, setup_logging  # noqa: E402
from karyospectrum.genotypes import ParseOptions, read_chromosome, read_sheet_samples, write_genotypes  # noqa: E402

log = logging.getLogger("karyospectrum.parse_vcf")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vcf", required=True, help="bgzipped VCF or BCF (an index is created when missing)")
    ap.add_argument("--chrom", required=True, help="chromosome (1..22, X, Y; 'chr' prefixes are harmonized)")
    ap.add_argument("--out", required=True, help="output genotype file (.npz)")
    ap.add_argument("--sheet", help="sample sheet TSV (sample, cohort, vcf[, vcf_sample])")
    ap.add_argument("--cohort", help="cohort of the sheet to read")
    ap.add_argument("--samples", help="comma-separated VCF sample names (instead of --sheet/--cohort)")
    ap.add_argument("--multiallelic", choices=["skip", "split"], default="skip")
    ap.add_argument("--pass-only", action="store_true", help="keep only FILTER=PASS (or '.') records")
    ap.add_argument("--chunk-size", type=int, default=20_000, help="records per chunk (bounds memory)")
    ap.add_argument("--log", help="log file")
    args = ap.parse_args(argv)
    setup_logging(args.log)

    if args.samples:
        ids = vcf_names = args.samples.split(",")
    elif args.sheet and args.cohort:
        ids, vcf_names = read_sheet_samples(args.sheet, args.cohort)
    else:
        ap.error("give --samples, or --sheet with --cohort")
    counts: collections.Counter = collections.Counter()
    opts = ParseOptions(multiallelic=args.multiallelic, pass_only=args.pass_only, chunk_size=args.chunk_size)
    chunks = read_chromosome(args.vcf, args.chrom, vcf_names, opts, counts)
    meta = write_genotypes(args.out, args.chrom, ids, chunks, counts)
    log.info(
        "chromosome %s: %d samples, %d SNPs kept, phased=%s", meta["chrom"], len(ids), meta["n_variants"], meta["phased"]
    )
    for name, n in sorted(counts.items()):
        log.info("count %s: %d", name, n)
    if meta["n_variants"] == 0:
        log.warning("chromosome %s has no usable variants in %s", meta["chrom"], Path(args.vcf).name)
    return 0


if __name__ == "__main__":
    run(main)
