#!/usr/bin/env python
"""simulate_cohort: build the bundled example cohort with msprime (deterministic seed).

Writes, under --outdir: cohort.vcf.gz (+ .tbi; 22 autosomes + X, phased, chr-prefixed, hg38
lengths scaled down, males haploid on X), single.vcf.gz (one member's non-reference sites,
unphased: the shape of a consumer-genome VCF), pedigree.tsv and pedigree_truth.tsv (every pair's
relationship and kinship coefficient); and --sheet, a sample sheet that runs the cohort.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from karyospectrum import AUTOSOMES
from karyospectrum.cli import run, setup_logging
from karyospectrum.io import write_text
from karyospectrum.simulate import example_pedigree, kinship_truth, simulate_cohort, write_vcf

log = logging.getLogger("karyospectrum.simulate_cohort")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outdir", default="resources/example")
    ap.add_argument("--sheet", default="config/samples.tsv", help="sample sheet to write ('' for none)")
    ap.add_argument("--scale", type=float, default=1e-3, help="chromosome length scale vs hg38")
    ap.add_argument("--mutation-rate", type=float, default=3e-7)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--single", default="FAM1_child1", help="member written alone as single.vcf.gz")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)

    out = Path(args.outdir)
    people = example_pedigree()
    ids = [p.id for p in people]
    chroms = simulate_cohort(
        people,
        AUTOSOMES + ["X"],
        scale=args.scale,
        seed=args.seed,
        mutation_rate=args.mutation_rate,
        missing_rate=0.001,
    )
    write_vcf(out / "cohort.vcf.gz", ids, chroms)
    write_vcf(out / "single.vcf.gz", ids, chroms, phased=False, only_sample=ids.index(args.single))
    write_text(
        out / "pedigree.tsv",
        "sample\tfather\tmother\tsex\n"
        + "".join(f"{p.id}\t{p.father or ''}\t{p.mother or ''}\t{p.sex}\n" for p in people),
    )
    write_text(
        out / "pedigree_truth.tsv",
        "sample_a\tsample_b\trelationship\tkinship\trelatedness\n"
        + "".join(f"{a}\t{b}\t{rel}\t{k}\t{2 * k}\n" for a, b, rel, k in kinship_truth(people)),
    )
    if args.sheet:
        write_text(
            args.sheet,
            "sample\tcohort\tvcf\n" + "".join(f"{i}\texample\t{out / 'cohort.vcf.gz'}\n" for i in ids),
        )
    log.info(
        "%d people, %d chromosomes, %d variant sites",
        len(ids),
        len(chroms),
        sum(len(c.positions) for c in chroms),
    )
    return 0


if __name__ == "__main__":
    run(main)
