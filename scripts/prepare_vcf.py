#!/usr/bin/env python
"""prepare_vcf: any VCF (plain text, gzip, BGZF or BCF, indexed or not) -> an indexed BGZF VCF.

The workflow runs it once per input that is not already an indexed BGZF or BCF, and writes the copy
under results/vcf/; the input file and its folder are only read (they may be read-only). Header,
sort order, blank lines and contigs are checked here, so a bad file fails in this first job.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from karyospectrum import CHROMOSOMES
from karyospectrum.cli import run, setup_logging
from karyospectrum.genotypes import KIND_NAMES, PrepareOptions, prepare_vcf

log = logging.getLogger("karyospectrum.prepare_vcf")


def main(argv=None) -> int:
    d = PrepareOptions()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vcf", required=True, help="input VCF/BCF (any compression, indexed or not)")
    ap.add_argument("--out", required=True, help="output BGZF VCF (.vcf.gz)")
    ap.add_argument("--index", help="output tabix index (default: OUT.tbi)")
    ap.add_argument("--chromosomes", nargs="+", default=CHROMOSOMES, help="configured chromosomes")
    ap.add_argument(
        "--compress-level",
        type=int,
        default=d.compress_level,
        choices=range(0, 10),
        metavar="0-9",
        help="zlib level of the BGZF copy",
    )
    ap.add_argument("--log", help="log file")
    args = ap.parse_args(argv)
    setup_logging(args.log)

    opts = PrepareOptions(compress_level=args.compress_level)
    summary = prepare_vcf(args.vcf, args.out, args.index or f"{args.out}.tbi", args.chromosomes, opts)
    log.info(
        "%s: %s with %d samples -> indexed BGZF (%.1f MB -> %.1f MB)",
        Path(args.vcf).name,
        KIND_NAMES[summary["kind"]],
        summary["samples"],
        summary["bytes_in"] / 1e6,
        summary["bytes_out"] / 1e6,
    )
    log.info(
        "contigs with records: %d, of them configured chromosomes: %d",
        len(summary["contigs"]),
        len(summary["matched"]),
    )
    if summary["ignored"]:
        shown = ", ".join(summary["ignored"][:10]) + (" ..." if len(summary["ignored"]) > 10 else "")
        log.info(
            "ignored %d contig(s) that are not configured chromosomes: %s", len(summary["ignored"]), shown
        )
    return 0


if __name__ == "__main__":
    run(main)
