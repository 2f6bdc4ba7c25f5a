#!/usr/bin/env python
"""parse_vcf: one chromosome of a cohort's BGZF VCF or BCF -> genotype intermediate (.npz).

Reads the sheet's samples of one cohort, keeps biallelic SNPs (multi-allelic sites skipped or
split), and writes positions, variant keys and haplotypes chunk by chunk (bounded memory).
An indexed file is read by region; plain-text and gzip VCFs are first made an indexed BGZF by
prepare_vcf.py (the workflow does it once per input), and the input is never written to.
"""

from __future__ import annotations

import argparse
import collections
import logging
from pathlib import Path

from karyospectrum.cli import run, setup_logging
from karyospectrum.errors import InputError
from karyospectrum.genotypes import ParseOptions, read_chromosome, write_genotypes

log = logging.getLogger("karyospectrum.parse_vcf")


def main(argv=None) -> int:
    d = ParseOptions()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vcf", required=True, help="BGZF VCF or BCF (indexed: read by region; else streamed)")
    ap.add_argument("--source", help="the user's file --vcf was prepared from (named in error lines)")
    ap.add_argument("--chrom", required=True, help="chromosome (1..22, X, Y; 'chr' prefixes are harmonized)")
    ap.add_argument(
        "--chromosomes", nargs="+", help="all configured chromosomes: a VCF with none of them fails"
    )
    ap.add_argument("--out", required=True, help="output genotype file (.npz)")
    ap.add_argument("--sheet", help="sample sheet TSV (sample, cohort, vcf[, vcf_sample])")
    ap.add_argument("--cohort", help="cohort of the sheet to read")
    ap.add_argument("--samples", help="comma-separated VCF sample names (instead of --sheet/--cohort)")
    ap.add_argument("--multiallelic", choices=["skip", "split"], default=d.multiallelic)
    ap.add_argument(
        "--pass-only", action="store_true", default=d.pass_only, help="keep only FILTER=PASS or '.'"
    )
    ap.add_argument("--chunk-size", type=int, default=d.chunk_size, help="records per chunk (bounds memory)")
    ap.add_argument("--log", help="log file")
    args = ap.parse_args(argv)
    setup_logging(args.log)

    if args.samples:
        ids = vcf_names = args.samples.split(",")
    elif args.sheet and args.cohort:
        from karyospectrum.samplesheet import cohort_samples, read_sample_sheet  # pandas: only for a sheet

        ids, vcf_names = cohort_samples(read_sample_sheet(args.sheet), args.cohort, args.sheet)
    else:
        ap.error("give --samples, or --sheet with --cohort")
    counts: collections.Counter = collections.Counter()
    broken: dict[int, str] = {}  # sample index -> the first problem of its broken VCF column
    opts = ParseOptions(multiallelic=args.multiallelic, pass_only=args.pass_only, chunk_size=args.chunk_size)
    try:
        chunks = read_chromosome(args.vcf, args.chrom, vcf_names, opts, counts, args.chromosomes, broken)
        meta = write_genotypes(args.out, args.chrom, ids, chunks, counts, broken)
    except InputError as err:
        if args.source and err.path == str(Path(args.vcf)):  # a prepared copy: name the user's file
            raise InputError(args.source, err.problem) from None
        raise
    log.info(
        "chromosome %s: %d samples, %d SNPs kept, phased=%s",
        meta["chrom"],
        len(ids),
        meta["n_variants"],
        meta["phased"],
    )
    for name, n in sorted(counts.items()):
        log.info("count %s: %d", name, n)
    for j, problem in sorted(broken.items()):  # a record number, never a genotype or a position
        log.warning("sample %s: broken VCF column (%s); its batch will fail", ids[j], problem)
    if meta["n_variants"] == 0:
        log.warning(
            "chromosome %s has no usable variants in %s", meta["chrom"], Path(args.source or args.vcf).name
        )
    return 0


if __name__ == "__main__":
    run(main)
