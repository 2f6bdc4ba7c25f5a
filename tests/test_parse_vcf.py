"""parse_vcf: odd-but-valid VCFs are parsed and counted; bad ones get one clear line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from karyospectrum.genotypes import GenotypeFile, harmonize
from vcftools import HEADER, record, vcf_text, write_bgzf, write_gzip

SAMPLES = ["A", "B", "C"]


def good_records():
    return [
        record("chr1", 100, "A", "G", ["0|1", "1|1", "0|0"]),
        record("chr1", 200, "C", "T", ["1|0", ".|.", "0|1"]),
        record("chr1", 300, "G", "A,C", ["0|2", "1|0", "0|0"]),  # multi-allelic
        record("chr1", 400, "AT", "A", ["0|1", "0|0", "0|0"]),  # indel
        record("chr1", 500, "G", "<DEL>", ["0|1", "0|0", "0|0"]),  # symbolic
        record("chr1", 600, "T", "C", ["0|1", "0|0", "1|1"], filt="q10"),
        record("chrX", 100, "A", "G", ["0|1", "1", "0"]),  # haploid males
        record("chrX", 200, "A", "C", ["1|1", "0|1", "1"]),  # mixed ploidy for B
    ]


def parse(tmp_path, vcf, chrom="1", extra=(), samples="A,B,C"):
    out = tmp_path / f"geno_{chrom}.npz"
    cmd = [sys.executable, "scripts/parse_vcf.py", "--vcf", str(vcf), "--chrom", chrom, "--out", str(out)]
    cmd += ["--samples", samples, "--log", str(tmp_path / "parse.log"), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=_repo())
    return proc, out


def _repo():
    from conftest import REPO

    return REPO


def test_parses_and_counts_odd_records(tmp_path):
    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, good_records()))
    proc, out = parse(tmp_path, vcf)
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        assert g.samples == SAMPLES and g.chrom == "1" and g.phased
        chunks = list(g.chunks())
        keys = np.concatenate([c.variant_keys for c in chunks]).tolist()
        assert keys == ["1:100:A:G", "1:200:C:T", "1:600:T:C"]
        dosage = np.concatenate([c.dosage for c in chunks])
        assert dosage.tolist() == [[1, 2, 0], [1, -1, 1], [1, 0, 2]]
        counts = g.meta["counts"]
    assert counts["skipped_multiallelic"] == 1 and counts["skipped_indel"] == 1
    assert counts["skipped_symbolic"] == 1 and counts["missing_calls"] == 1
    log = (tmp_path / "parse.log").read_text()
    assert "skipped_indel: 1" in log
    # privacy: no position or genotype in the log
    assert "100" not in log.replace("100000", "") and "0|1" not in log


def test_split_multiallelic_and_pass_only(tmp_path):
    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, good_records()))
    proc, out = parse(tmp_path, vcf, extra=["--multiallelic", "split", "--pass-only"])
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        c = next(g.chunks())
        assert c.variant_keys.tolist() == ["1:100:A:G", "1:200:C:T", "1:300:G:A", "1:300:G:C"]
        assert c.dosage[2].tolist() == [0, 1, 0] and c.dosage[3].tolist() == [1, 0, 0]
        assert g.meta["counts"]["filtered"] == 1


def test_haploid_and_mixed_ploidy_x(tmp_path):
    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, good_records()))
    proc, out = parse(tmp_path, vcf, chrom="X")
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        c = next(g.chunks())
        assert c.haplotypes[0].tolist() == [[0, 1], [1, -2], [0, -2]]
        assert c.dosage.tolist() == [[1, 1, 0], [2, 1, 1]]
        assert g.ploidy.tolist() == [2, 2, 1]
        assert g.meta["counts"]["mixed_ploidy_sites"] == 2  # sites mixing haploid and diploid calls
        assert g.meta["counts"]["haploid_calls"] == 3


def test_unprefixed_names_and_missing_index_created(tmp_path):
    text = vcf_text(SAMPLES, [r.replace("chr", "", 1) for r in good_records()], HEADER.replace("ID=chr", "ID="))
    vcf = write_bgzf(tmp_path / "nochr.vcf.gz", text, index=False)
    proc, out = parse(tmp_path, vcf, chrom="chr1")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "nochr.vcf.gz.tbi").exists()
    with GenotypeFile(out) as g:
        assert next(g.chunks()).variant_keys[0] == "1:100:A:G"


def test_unphased_vcf_is_marked_unphased(tmp_path):
    recs = [r.replace("|", "/") for r in good_records()]
    vcf = write_bgzf(tmp_path / "unphased.vcf.gz", vcf_text(SAMPLES, recs))
    proc, out = parse(tmp_path, vcf)
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        assert not g.phased


def test_config_chromosome_absent_is_a_warning(tmp_path):
    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, good_records()))
    proc, out = parse(tmp_path, vcf, chrom="Y")
    assert proc.returncode == 0, proc.stderr
    assert "not in" in proc.stderr and "WARNING" in proc.stderr
    with GenotypeFile(out) as g:
        assert g.n_variants == 0 and list(g.chunks()) == []


def test_harmonize():
    assert [harmonize(c) for c in ["chr1", "1", "CHRX", "23", "chrY", "chrM"]] == ["1", "1", "X", "X", "Y", "MT"]


def _bad(tmp_path, name):
    recs = good_records()
    header_only = vcf_text(SAMPLES, [])
    cases = {
        "no_header": ("\n".join(recs) + "\n", "bgzf", "missing VCF header"),
        "header_only": (header_only, "bgzf", "no variant records"),
        "trailing_blank": (vcf_text(SAMPLES, recs) + "\n", "bgzf", "blank line"),
        "plain_gzip": (vcf_text(SAMPLES, recs), "gzip", "not BGZF"),
        "uncompressed": (vcf_text(SAMPLES, recs), "plain", "not compressed"),
        "unsorted": (vcf_text(SAMPLES, [recs[1], recs[0]] + recs[2:]), "bgzf", "not sorted"),
        "no_gt": (vcf_text(SAMPLES, [r.replace("\tGT\t", "\tDP\t") for r in recs]), "bgzf", "no GT"),
        "no_samples": (
            vcf_text([], ["\t".join(r.split("\t")[:8]) for r in recs]).replace("\tFORMAT", ""),
            "bgzf",
            "no sample columns",
        ),
        "not_a_vcf": ("hello world\n", "raw", "not a VCF"),
    }
    text, kind, expect = cases[name]
    path = tmp_path / f"{name}.vcf.gz"
    if kind == "bgzf":
        write_bgzf(path, text, index=False)
    elif kind == "gzip":
        write_gzip(path, text)
    elif kind == "plain":
        path = tmp_path / f"{name}.vcf"
        path.write_text(text)
    else:
        path.write_text(text)
    return path, expect


BAD = ["no_header", "header_only", "trailing_blank", "plain_gzip", "uncompressed", "unsorted", "no_gt", "no_samples",
       "not_a_vcf"]


def assert_one_line_error(proc, path, out, expect):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1, proc.stderr
    assert path.name in err_lines[0] and expect in err_lines[0], err_lines[0]
    assert "Traceback" not in proc.stderr and "[E::" not in proc.stderr and "[W::" not in proc.stderr
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("name", BAD)
def test_bad_vcf_one_line(tmp_path, name):
    path, expect = _bad(tmp_path, name)
    proc, out = parse(tmp_path, path)
    assert_one_line_error(proc, path, out, expect)


def test_truncated_gz(tmp_path):
    vcf = write_bgzf(tmp_path / "trunc.vcf.gz", vcf_text(SAMPLES, good_records() * 1), index=False)
    data = vcf.read_bytes()
    vcf.write_bytes(data[: len(data) - 40])
    proc, out = parse(tmp_path, vcf)
    assert_one_line_error(proc, vcf, out, "truncated")


def test_sheet_sample_not_in_vcf(tmp_path):
    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, good_records()))
    proc, out = parse(tmp_path, vcf, samples="A,Z")
    assert_one_line_error(proc, vcf, out, "'Z'")


def test_missing_file(tmp_path):
    proc, out = parse(tmp_path, tmp_path / "nope.vcf.gz")
    assert_one_line_error(proc, tmp_path / "nope.vcf.gz", out, "not found")


def test_bounded_chunks(tmp_path):
    recs = [record("chr1", 10 + i, "A", "G", ["0|1", "1|1", "0|0"]) for i in range(250)]
    vcf = write_bgzf(tmp_path / "many.vcf.gz", vcf_text(SAMPLES, recs))
    proc, out = parse(tmp_path, vcf, extra=["--chunk-size", "100"])
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        sizes = [len(c.positions) for c in g.chunks()]
    assert sizes == [100, 100, 50]


def test_bcf_and_text_paths_agree(tmp_path):
    """BCF goes through cyvcf2, bgzipped text through pysam + numpy: same genotype files."""
    import pysam

    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, [r for r in good_records() if "<DEL>" not in r]))
    bcf = tmp_path / "ok.bcf"
    with pysam.VariantFile(str(vcf)) as src, pysam.VariantFile(str(bcf), "wb", header=src.header) as dst:
        for rec in src:
            dst.write(rec)
    proc, _ = parse(tmp_path, bcf, chrom="X")
    assert proc.returncode == 0, proc.stderr
    for chrom in ("1", "X"):
        pa, pb = tmp_path / f"a_{chrom}.npz", tmp_path / f"b_{chrom}.npz"
        parse_to(vcf, chrom, pa)
        parse_to(bcf, chrom, pb)
        with GenotypeFile(pa) as ga, GenotypeFile(pb) as gb:
            ca, cb = list(ga.chunks()), list(gb.chunks())
            assert len(ca) == len(cb) == 1
            assert (ca[0].haplotypes == cb[0].haplotypes).all()
            assert (ca[0].variant_keys == cb[0].variant_keys).all()
            assert ga.phased == gb.phased and ga.ploidy.tolist() == gb.ploidy.tolist()


def parse_to(vcf, chrom, out):
    import collections

    from karyospectrum.genotypes import ParseOptions, read_chromosome, write_genotypes

    counts = collections.Counter()
    write_genotypes(out, chrom, SAMPLES, read_chromosome(vcf, chrom, SAMPLES, ParseOptions(), counts), counts)


def test_gt_with_more_format_keys_and_reordered_samples(tmp_path):
    recs = [r.replace("\tGT\t", "\tGT:DP\t").replace("\t0|1", "\t0|1:7") for r in good_records()[:2]]
    vcf = write_bgzf(tmp_path / "dp.vcf.gz", vcf_text(SAMPLES, recs))
    proc, out = parse(tmp_path, vcf, samples="C,A")
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        c = next(g.chunks())
        assert g.samples == ["C", "A"]
        assert c.dosage.tolist() == [[0, 1], [1, 1]]


def test_gvcf_style_symbolic_alt_beside_a_snp(tmp_path):
    recs = [
        record("chr1", 100, "A", "G,<NON_REF>", ["0/1", "1/1", "0/2"]),
        record("chr1", 200, "C", "<NON_REF>", ["0/0", "0/0", "0/0"]),
        record("chr1", 300, "G", "T,*", ["0|1", "2|1", "0|0"]),
    ]
    vcf = write_bgzf(tmp_path / "g.vcf.gz", vcf_text(SAMPLES, recs))
    proc, out = parse(tmp_path, vcf)
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        c = next(g.chunks())
        assert c.variant_keys.tolist() == ["1:100:A:G", "1:300:G:T"]
        assert c.dosage.tolist() == [[1, 2, 0], [1, 1, 0]]
        assert g.meta["counts"]["skipped_symbolic"] == 1 and g.meta["counts"]["symbolic_alts_dropped"] == 2


def test_gatk_style_format_fields_crlf_and_no_contig_lines(tmp_path):
    header = "\n".join(ln for ln in HEADER.splitlines() if not ln.startswith("##contig")) + "\n"
    header += '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
    fmt = "GT:AD:DP"
    recs = [
        record("1", 100, "A", "G", ["0/1:5,5:10", "./.:0,0:0", "1/1:0,9:9"], fmt=fmt),
        record("1", 200, "C", "T", ["0/.:3,0:3", "0/0:8,0:8", "1:0,4:4"], fmt=fmt),
    ]
    text = vcf_text(SAMPLES, recs, header).replace("\n", "\r\n")
    vcf = write_bgzf(tmp_path / "gatk.vcf.gz", text)
    proc, out = parse(tmp_path, vcf)
    assert proc.returncode == 0, proc.stderr
    with GenotypeFile(out) as g:
        c = next(g.chunks())
        assert not g.phased
        assert c.dosage.tolist() == [[1, -1, 2], [-1, 0, 1]]
        assert c.haplotypes[1, 2].tolist() == [1, -2]  # a haploid call in a diploid VCF


def test_malformed_genotype_is_one_line_without_the_genotype(tmp_path):
    recs = [record("chr1", 100, "A", "G", ["0|1", "0|x", "1"])]
    vcf = write_bgzf(tmp_path / "badgt.vcf.gz", vcf_text(SAMPLES, recs))
    proc, out = parse(tmp_path, vcf)
    assert_one_line_error(proc, vcf, out, "malformed GT in sample column 2")
    assert "0|x" not in proc.stderr
