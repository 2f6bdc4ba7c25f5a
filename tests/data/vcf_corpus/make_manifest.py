#!/usr/bin/env python
"""Write MANIFEST.tsv: for each corpus file, what bcftools reads and what Karyospectrum must do with it.

Needs the bcftools binary (Debian: apt-get install bcftools); the test only reads the manifest.

Columns: file, license, origin (package and path), bcftools_reads (bcftools view exits 0), bcftools_samples, bcftools_gt (some
call has an allele), expected (processed | refused), samples, snps (biallelic SNPs kept on the
configured chromosomes), snps_from (bcftools: counted independently from `bcftools query`; ours: a
file bcftools cannot read, so the count is our own, reviewed), error (the refusal's reason).

    python tests/data/vcf_corpus/make_manifest.py
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "tests")]

from karyospectrum import CHROMOSOMES  # noqa: E402
from karyospectrum.genotypes import GenotypeFile, harmonize  # noqa: E402
from vcftools import process  # noqa: E402

SUFFIXES = (".vcf", ".vcf.gz", ".bcf", ".vcf.bgz")
# where each folder's files come from (Debian bookworm packages) and their license (texts in LICENSES/)
ORIGIN = {
    "htslib": ("MIT", "Debian htslib-test 1.16+ds-3: /usr/share/htslib-test/test/"),
    "pysam": ("MIT", "Debian python-pysam-tests 0.20.0+ds-3: /usr/share/doc/python-pysam/tests/"),
    "cyvcf2": ("MIT", "Debian python3-cyvcf2 0.30.18-1: /usr/lib/python3/dist-packages/cyvcf2/tests/"),
    "bcftools": ("MIT", "Debian source bcftools 1.16-1 (bcftools_1.16.orig.tar.gz): bcftools-1.16/test/"),
}
WANT = {harmonize(c) for c in CHROMOSOMES}


def corpus_files() -> list[Path]:
    return sorted(p for p in HERE.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))


def bcftools(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bcftools", *args], capture_output=True, text=True, errors="replace", timeout=60)


def snps_by_bcftools(path: Path) -> int:
    """Biallelic SNPs on configured chromosomes, by our rules, from bcftools' own reading of the file."""
    out = bcftools("query", "-f", "%LINE", str(path)).stdout  # each record as bcftools reads it
    n = 0
    for line in out.splitlines():
        chrom, _, _, ref, alt, *rest = line.rstrip("\r").split("\t")
        alts = [] if alt == "." else alt.split(",")
        real = [a for a in alts if not (a.startswith("<") or a in ("*", ".") or "[" in a or "]" in a)]
        if harmonize(chrom) not in WANT or len(real) != 1 or len(ref) != 1 or len(real[0]) != 1:
            continue
        has_gt = len(rest) > 4 and "GT" in rest[3].split(":")
        if ref.upper() in "ACGT" and real[0].upper() in "ACGT" and has_gt:
            n += 1
    return n


def ours(path: Path) -> tuple[int, int, int, str]:
    """(exit status, samples, SNPs kept, error reason) of prepare_vcf + parse_vcf."""
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as work, contextlib.redirect_stderr(err):
        code, outs = process(path, Path(work), CHROMOSOMES, only_present=True)
        samples = snps = 0
        for out in outs.values():
            with GenotypeFile(out) as g:
                samples, snps = len(g.samples), snps + g.n_variants
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
    reason = lines[0].split(": ", 2)[-1] if lines else ""
    return code, samples, snps, reason


def main() -> None:
    rows = [
        "file\tlicense\torigin\tbcftools_reads\tbcftools_samples\tbcftools_gt\texpected\tsamples\tsnps\tsnps_from\terror"
    ]
    for path in corpus_files():
        rel = path.relative_to(HERE)
        reads = bcftools("view", "-o", "/dev/null", str(path)).returncode == 0
        names = bcftools("query", "-l", str(path)).stdout.split("\n")[:-1] if reads else []
        calls = bcftools("query", "-f", "[%GT\t]\n", str(path)).stdout if names else ""
        has_gt = any(ch.isdigit() for ch in calls)
        code, samples, snps, reason = ours(path)
        expected = "processed" if code == 0 else "refused"
        source = "ours" if code == 0 else "-"
        if code == 0 and reads:
            source = "bcftools"
            oracle = snps_by_bcftools(path)
            if oracle != snps:
                print(f"{rel}: we keep {snps} SNPs, bcftools' reading gives {oracle}", file=sys.stderr)
        reason = reason.split(" (")[0][:80].replace("\t", " ")
        license, origin = ORIGIN[rel.parts[0]]
        origin += str(rel.relative_to(rel.parts[0]))
        rows.append(
            f"{rel}\t{license}\t{origin}\t{reads}\t{len(names)}\t{has_gt}\t{expected}\t{samples}\t{snps}\t{source}\t{reason}"
        )
    (HERE / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    print(f"{len(rows) - 1} files", file=sys.stderr)


if __name__ == "__main__":
    main()
