"""Real-world VCFs (issue 12 §2): the test files of htslib, bcftools, cyvcf2 and pysam.

Each file is either processed (prepare_vcf when needed, then parse_vcf on its configured chromosomes)
with the samples and SNP counts of tests/data/vcf_corpus/MANIFEST.tsv, or refused in one line with exit
status 2 and no traceback. The SNP counts were made independently from bcftools' reading of each file
(make_manifest.py). Steps run in-process, so the ~300 files take seconds.
"""

from __future__ import annotations

import csv

import pytest
from conftest import REPO
from karyospectrum import CHROMOSOMES
from karyospectrum.genotypes import GenotypeFile
from vcftools import process

CORPUS = REPO / "tests/data/vcf_corpus"
ROWS = list(csv.DictReader((CORPUS / "MANIFEST.tsv").open(), delimiter="\t"))


def test_corpus_size_and_licenses():
    assert len(ROWS) >= 50
    sizes = [(CORPUS / r["file"]).stat().st_size for r in ROWS]
    assert max(sizes) < 100_000 and sum(sizes) < 5_000_000
    assert all(r["license"] and r["origin"] for r in ROWS)
    assert {p.name for p in (CORPUS / "LICENSES").iterdir()} >= {
        "htslib.copyright",
        "pysam.copyright",
        "cyvcf2.copyright",
        "bcftools.LICENSE",
    }


def test_goal_processed_share_of_what_bcftools_reads():
    """>= 95% of the files bcftools reads with samples and GT calls are processed."""
    readable = [
        r
        for r in ROWS
        if r["bcftools_reads"] == "True" and int(r["bcftools_samples"]) and r["bcftools_gt"] == "True"
    ]
    processed = [r for r in readable if r["expected"] == "processed"]
    assert len(processed) / len(readable) >= 0.95, (len(processed), len(readable))


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_corpus_file(row, tmp_path, capfd):
    path = CORPUS / row["file"]
    code, outs = process(path, tmp_path / "work", CHROMOSOMES, only_present=True)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "[E::" not in err, err
    if row["expected"] == "processed":
        assert code == 0, err
        samples, snps = set(), 0
        for out in outs.values():
            with GenotypeFile(out) as g:
                samples.add(len(g.samples))
                snps += g.n_variants
        assert samples == {int(row["samples"])}
        assert snps == int(row["snps"])
    else:
        lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert code == 2 and len(lines) == 1, err
        assert lines[0].startswith(f"error: {path}: ") and row["error"] in lines[0], lines[0]
