#!/usr/bin/env python
"""hash_latents: genotype intermediate -> keyed latents [samples, copies, dim] (.npz).

The latents sketch kinship: treat a latent file like genotypes. The default key is public.
"""

from __future__ import annotations

import argparse
import logging

from karyospectrum.cli import run, setup_logging
from karyospectrum.genotypes import GenotypeFile
from karyospectrum.keys import DEFAULT_KEY, KEY_ENV, read_key
from karyospectrum.latents import CENTERINGS, LatentSettings, hash_genotypes

log = logging.getLogger("karyospectrum.hash_latents")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genotypes", required=True, help="genotype file from parse_vcf")
    ap.add_argument("--out", required=True, help="output latents (.npz)")
    d = LatentSettings()
    ap.add_argument("--dim", type=int, default=d.dim, help="latent dimension (the generator's)")
    ap.add_argument(
        "--key-file",
        help=f"file whose first line is the secret hashing key (default: ${KEY_ENV}, else the public {DEFAULT_KEY!r}); "
        "the key itself is never taken on the command line",
    )
    ap.add_argument("--centering", choices=CENTERINGS, default=d.centering)
    ap.add_argument("--af-table", help="TSV variant_key, af (for --centering af_table)")
    ap.add_argument("--alpha", type=float, default=d.alpha, help="site weight (2p(1-p))^(alpha/2)")
    ap.add_argument(
        "--min-af", type=float, default=d.min_af, help="drop sites with minor allele frequency below this"
    )
    ap.add_argument("--log", help="log file")
    args = ap.parse_args(argv)
    setup_logging(args.log)

    key = read_key(args.key_file)
    settings = LatentSettings(args.dim, key, args.centering, args.alpha, args.min_af, args.af_table)
    with GenotypeFile(args.genotypes) as g:
        lat = hash_genotypes(g, settings)
    lat.save(args.out)
    log.info(
        "chromosome %s: %d samples x %d copies x dim %d from %d variants (key id %s, centering %s%s)",
        lat.chrom,
        len(lat.samples),
        lat.latents.shape[1],
        lat.dim,
        lat.n_variants,
        lat.key_id,
        lat.centering,
        ", public default key" if key == DEFAULT_KEY else "",
    )
    if lat.n_variants == 0:
        log.warning("chromosome %s has no usable variants: its latents are empty (no tiles)", lat.chrom)
    for sample, problem in zip(lat.samples, lat.broken):
        if problem:
            log.warning("sample %s: broken VCF column (%s): left out of the latents", sample, problem)
    return 0


if __name__ == "__main__":
    run(main)
