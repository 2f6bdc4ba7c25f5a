"""parse_vcf and prepare_vcf: odd-but-valid VCFs are parsed and counted; bad ones get one clear line, exit 2.

Most tests run the step scripts' ``main`` in-process (``vcftools.run_step``), as the workflow chains them;
a few run them as processes, to see exactly what a user sees.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from karyospectrum.genotypes import GenotypeFile, harmonize, in_place, sniff_vcf
from vcftools import HEADER, process, record, run_step, vcf_text, write_bgzf, write_gzip

SAMPLES = ["A", "B", "C"]
CHROMS = ["1", "2", "X", "Y"]


def messages(path):
    """The log's messages without their timestamps, whose digits could match a position by chance."""
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.M)
    return stamp.sub("", path.read_text())


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
    """parse_vcf as a process: (CompletedProcess, output path)."""
    out = tmp_path / f"geno_{chrom}.npz"
    cmd = [sys.executable, "scripts/parse_vcf.py", "--vcf", str(vcf), "--chrom", chrom, "--out", str(out)]
    cmd += ["--samples", samples, "--log", str(tmp_path / "parse.log"), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=_repo())
    return proc, out


def parse_in(tmp_path, vcf, chrom="1", extra=(), samples="A,B,C"):
    """parse_vcf in-process: (exit status, output path)."""
    out = tmp_path / f"geno_{chrom}.npz"
    argv = [
        "--vcf",
        vcf,
        "--chrom",
        chrom,
        "--out",
        out,
        "--samples",
        samples,
        "--log",
        tmp_path / "parse.log",
    ]
    return run_step("parse_vcf", [*argv, *extra]), out


def _repo():
    from conftest import REPO

    return REPO


def keys_and_dosage(path):
    with GenotypeFile(path) as g:
        chunks = list(g.chunks())
        if not chunks:
            return [], []
        return (
            np.concatenate([c.variant_keys for c in chunks]).tolist(),
            np.concatenate([c.dosage for c in chunks]).tolist(),
        )


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
    log = messages(tmp_path / "parse.log")
    assert "skipped_indel: 1" in log
    # privacy: no position or genotype in any message (the timestamps' milliseconds may read 100)
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


def test_unprefixed_names_unindexed_bgzf_is_streamed_not_indexed_beside(tmp_path):
    text = vcf_text(
        SAMPLES, [r.replace("chr", "", 1) for r in good_records()], HEADER.replace("ID=chr", "ID=")
    )
    vcf = write_bgzf(tmp_path / "nochr.vcf.gz", text, index=False)
    proc, out = parse(tmp_path, vcf, chrom="chr1")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "nochr.vcf.gz.tbi").exists()  # nothing is written beside the user's file
    with GenotypeFile(out) as g:
        assert next(g.chunks()).variant_keys[0] == "1:100:A:G"


def test_unphased_vcf_is_marked_unphased(tmp_path):
    recs = [r.replace("|", "/") for r in good_records()]
    vcf = write_bgzf(tmp_path / "unphased.vcf.gz", vcf_text(SAMPLES, recs))
    code, out = parse_in(tmp_path, vcf)
    assert code == 0
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
    assert [harmonize(c) for c in ["chr1", "1", "CHRX", "23", "chrY", "chrM"]] == [
        "1",
        "1",
        "X",
        "X",
        "Y",
        "MT",
    ]


def write_as(path, text, kind):
    """Write VCF text as `kind`: plain, gzip, bgzf (unindexed), bgzf_indexed or bcf (unindexed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "plain":
        path = path.with_name(path.name.replace(".vcf.gz", ".vcf"))
        path.write_text(text, encoding="utf-8", newline="")
    elif kind == "gzip":
        write_gzip(path, text)
    elif kind in ("bgzf", "bgzf_indexed"):
        write_bgzf(path, text, index=kind == "bgzf_indexed")
    elif kind == "bcf":
        import pysam

        tmp = write_bgzf(path.with_name("tmp_" + path.name), text, index=False)
        path = path.with_name(path.name.replace(".vcf.gz", ".bcf"))
        with pysam.VariantFile(str(tmp)) as src, pysam.VariantFile(str(path), "wb", header=src.header) as dst:
            for rec in src:
                dst.write(rec)
        tmp.unlink()
    else:
        path.write_text(text)
    return path


def _bad(tmp_path, name, kind="bgzf"):
    recs = good_records()
    header_only = vcf_text(SAMPLES, [])
    cases = {
        "no_header": ("\n".join(recs) + "\n", "missing VCF header"),
        "header_only": (header_only, "no variant records"),
        "trailing_blank": (vcf_text(SAMPLES, recs) + "\n", "blank line"),
        "unsorted": (vcf_text(SAMPLES, [recs[1], recs[0]] + recs[2:]), "not sorted"),
        "no_gt": (vcf_text(SAMPLES, [r.replace("\tGT\t", "\tDP\t") for r in recs]), "no GT"),
        "no_samples": (
            vcf_text([], ["\t".join(r.split("\t")[:8]) for r in recs]).replace("\tFORMAT", ""),
            "no sample columns",
        ),
        "duplicate_samples": (vcf_text(["A", "B", "A"], recs), "'A' appears twice"),
        "no_configured_contig": (
            vcf_text(
                SAMPLES, [r.replace("chr1", "chrUn_gl000220").replace("chrX", "chrM") for r in recs]
            ).replace("##contig", "##other"),
            "none of its contigs (chrUn_gl000220, chrM)",
        ),
        "not_a_vcf": ("hello world\n", "not a VCF"),
    }
    text, expect = cases[name]
    return write_as(tmp_path / f"{name}.vcf.gz", text, "raw" if name == "not_a_vcf" else kind), expect


BAD = [
    "no_header",
    "header_only",
    "trailing_blank",
    "unsorted",
    "no_gt",
    "no_samples",
    "duplicate_samples",
    "no_configured_contig",
    "not_a_vcf",
]


def assert_one_line_error(proc, path, out, expect):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1, proc.stderr
    assert path.name in err_lines[0] and expect in err_lines[0], err_lines[0]
    assert "Traceback" not in proc.stderr and "[E::" not in proc.stderr and "[W::" not in proc.stderr
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name]


def assert_one_line(code, captured, path, expect, work):
    """In-process variant: exit 2, exactly one `error:` line naming the user's file, no htslib noise, no debris."""
    err = captured.err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert f"error: {path}:" in lines[0] and expect in lines[0], lines[0]
    assert "Traceback" not in err and "[E::" not in err and "[W::" not in err
    assert not list(work.glob("*.npz")) and not list(work.glob("prepared*")), list(work.iterdir())
    assert not [p for p in work.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("kind", ["bgzf", "plain", "gzip"])
@pytest.mark.parametrize("name", BAD)
def test_bad_vcf_one_line(tmp_path, capfd, name, kind):
    """Through prepare_vcf (plain, gzip, unindexed BGZF) and parse_vcf, as the workflow runs them."""
    path, expect = _bad(tmp_path, name, kind)
    code, _ = process(path, tmp_path / "work", CHROMS)
    assert_one_line(code, capfd.readouterr(), path, expect, tmp_path / "work")


@pytest.mark.parametrize("name", ["no_header", "trailing_blank", "no_gt", "not_a_vcf"])
def test_bad_vcf_one_line_from_the_cli(tmp_path, name):
    path, expect = _bad(tmp_path, name, "bgzf")
    proc, out = parse(tmp_path, path)
    assert_one_line_error(proc, path, out, expect)


def test_truncated_gz(tmp_path):
    vcf = write_bgzf(tmp_path / "trunc.vcf.gz", vcf_text(SAMPLES, good_records() * 1), index=False)
    data = vcf.read_bytes()
    vcf.write_bytes(data[: len(data) - 40])
    proc, out = parse(tmp_path, vcf)
    assert_one_line_error(proc, vcf, out, "truncated")


def test_truncated_plain_gzip_through_prepare(tmp_path, capfd):
    vcf = write_gzip(tmp_path / "cut.vcf.gz", vcf_text(SAMPLES, good_records() * 50))
    vcf.write_bytes(vcf.read_bytes()[:-30])
    code, _ = process(vcf, tmp_path / "work", CHROMS)
    assert_one_line(code, capfd.readouterr(), vcf, "cannot be decompressed", tmp_path / "work")


def test_sheet_sample_not_in_vcf(tmp_path):
    vcf = write_bgzf(tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, good_records()))
    proc, out = parse(tmp_path, vcf, samples="A,Z")
    assert_one_line_error(proc, vcf, out, "'Z'")


def test_missing_file(tmp_path):
    proc, out = parse(tmp_path, tmp_path / "nope.vcf.gz")
    assert_one_line_error(proc, tmp_path / "nope.vcf.gz", out, "not found")


def test_directory_as_vcf_is_one_line(tmp_path, capfd):
    """Issue 14: a directory given as the VCF is one line (both steps), not an IsADirectoryError traceback."""
    folder = tmp_path / "a_folder.vcf.gz"
    folder.mkdir()
    proc, out = parse(tmp_path, folder)
    assert_one_line_error(proc, folder, out, "is a directory")
    code = run_step("prepare_vcf", ["--vcf", folder, "--out", tmp_path / "p.vcf.gz"])
    err = capfd.readouterr().err
    assert code == 2 and "is a directory" in err and "Traceback" not in err


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

    vcf = write_bgzf(
        tmp_path / "ok.vcf.gz", vcf_text(SAMPLES, [r for r in good_records() if "<DEL>" not in r])
    )
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
    # broken for every sample: a broken record, which fails the chromosome (one broken sample: see below)
    recs = [record("chr1", 100, "A", "G", ["1|1", "0|x", "x"])]
    vcf = write_bgzf(tmp_path / "badgt.vcf.gz", vcf_text(["A", "B"], recs).replace("\t1|1", ""))
    proc, out = parse(tmp_path, vcf, samples="A,B")
    assert_one_line_error(proc, vcf, out, "record 1 on chr1: malformed GT in sample column 1")
    assert "0|x" not in proc.stderr


# --- one sample's broken column (issue 10): recorded for that sample, the rest is parsed

BROKEN_CALLS = {
    "0/X": "malformed GT",
    "abc": "malformed GT",
    "0|-3": "GT allele index out of range",
    "0|7": "GT allele index beyond the record's ALT alleles",
    "short": "no column for this sample (2 sample columns, the header has 3)",
}


def _broken_vcf(tmp_path, call, kind="bgzf_indexed"):
    """good_records with sample C's call of chr1's second record broken (or, for "short", left out)."""
    recs = [r for r in good_records() if "<DEL>" not in r]  # a BCF needs <DEL> declared
    cols = recs[1].split("\t")
    recs[1] = "\t".join(cols[:-1] if call == "short" else cols[:-1] + [call])
    return write_as(tmp_path / "in" / f"broken_{kind}.vcf.gz", vcf_text(SAMPLES, recs), kind)


@pytest.mark.parametrize("call", list(BROKEN_CALLS))
def test_one_samples_broken_column_is_recorded_and_the_others_parsed(tmp_path, call):
    vcf = _broken_vcf(tmp_path, call)
    clean = _broken_vcf(tmp_path / "clean", ".|.")
    proc, out = parse(tmp_path, vcf)
    assert proc.returncode == 0, proc.stderr
    code, ref = parse_in(tmp_path / "clean", clean)
    assert code == 0
    with GenotypeFile(out) as g, GenotypeFile(ref) as r:
        # C's broken call reads as missing: everything equals the file where it is ".|."
        assert g.broken == ["", "", f"record 2 on chr1: {BROKEN_CALLS[call]}"] and r.broken == ["", "", ""]
        assert all((a.haplotypes == b.haplotypes).all() for a, b in zip(g.chunks(), r.chunks()))
    log = messages(tmp_path / "parse.log")
    assert f"sample C: broken VCF column (record 2 on chr1: {BROKEN_CALLS[call]})" in log
    assert " 200" not in log + proc.stderr and ":200" not in log  # no position (nor the call) in any message
    assert call == "short" or call not in log + proc.stderr


def test_a_broken_column_is_found_in_a_bcf_too(tmp_path):
    """A BCF (read by cyvcf2) cannot hold a malformed call, but an allele index beyond the ALTs."""
    vcf = _broken_vcf(tmp_path, "0|7", kind="bcf")
    code, out = parse_in(tmp_path, vcf)
    assert code == 0
    with GenotypeFile(out) as g:
        assert g.broken == ["", "", "record 2 on chr1: GT allele index beyond the record's ALT alleles"]
        assert next(g.chunks()).haplotypes[1, 2].tolist() == [-1, -1]


def test_sound_file_has_no_broken_array(tmp_path):
    vcf = write_bgzf(tmp_path / "good.vcf.gz", vcf_text(SAMPLES, good_records()))
    code, out = parse_in(tmp_path, vcf)
    assert code == 0
    with np.load(out) as z:
        assert "broken" not in z.files  # files stay as they were; old files read as sound
    with GenotypeFile(out) as g:
        assert g.broken == ["", "", ""]


# --- every input kind is accepted: plain text, gzip, BGZF and BCF, indexed or not


KINDS = ["plain", "gzip", "bgzf", "bgzf_indexed", "bcf", "bcf_indexed"]


def _write_kind(tmp_path, text, kind):
    path = write_as(tmp_path / "in" / "cohort.vcf.gz", text, "bcf" if kind == "bcf_indexed" else kind)
    if kind == "bcf_indexed":
        import pysam.bcftools

        pysam.bcftools.index(str(path))
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gives_the_same_genotypes_and_never_writes_beside_the_input(tmp_path, kind):
    recs = [r for r in good_records() if "<DEL>" not in r]
    reference = write_bgzf(tmp_path / "ref.vcf.gz", vcf_text(SAMPLES, recs))
    (tmp_path / "in").mkdir()
    vcf = _write_kind(tmp_path, vcf_text(SAMPLES, recs), kind)
    listing = sorted(os.listdir(vcf.parent))
    assert sniff_vcf(vcf) == {"plain": "plain", "gzip": "gzip", "bcf": "bcf"}.get(kind, kind.split("_")[0])
    assert in_place(vcf) == kind.endswith("_indexed")
    # a read-only input folder (root ignores the mode: the listing check below does not)
    os.chmod(vcf.parent, 0o555)
    try:
        code, outs = process(vcf, tmp_path / "work", CHROMS, SAMPLES)
    finally:
        os.chmod(vcf.parent, 0o755)
    assert code == 0
    assert sorted(os.listdir(vcf.parent)) == listing
    assert (tmp_path / "work" / "prepared.vcf.gz").exists() == (not kind.endswith("_indexed"))
    code, ref = process(reference, tmp_path / "ref", CHROMS, SAMPLES)
    for chrom in CHROMS:
        with GenotypeFile(outs[chrom]) as a, GenotypeFile(ref[chrom]) as b:
            ca, cb = list(a.chunks()), list(b.chunks())
            assert [c.variant_keys.tolist() for c in ca] == [c.variant_keys.tolist() for c in cb]
            assert all((x.haplotypes == y.haplotypes).all() for x, y in zip(ca, cb))
            assert a.phased == b.phased and a.ploidy.tolist() == b.ploidy.tolist()


def test_prepared_copy_is_indexed_bgzf_and_errors_name_the_users_file(tmp_path, capfd):
    recs = good_records() + [record("chr2", 10, "A", "G", ["x|1", "0|x", "1|x"])]
    vcf = write_as(tmp_path / "user.vcf.gz", vcf_text(SAMPLES, recs), "plain")
    code, _ = process(vcf, tmp_path / "work", CHROMS)
    err = capfd.readouterr().err
    assert code == 2 and f"error: {vcf}: record 1 on chr2: malformed GT in sample column 1" in err, err
    prepared = tmp_path / "work" / "prepared.vcf.gz"
    assert sniff_vcf(prepared) == "bgzf" and in_place(prepared)
    assert gzip.open(prepared, "rt").read() == vcf.read_text()  # the copy holds the same text


# --- edge cases of real files (issue 12 §3), each through prepare_vcf + parse_vcf as the workflow runs them


def _edge(tmp_path, text, samples=None, kind="plain", chroms=("1",)):
    vcf = write_as(tmp_path / "edge.vcf.gz", text, kind)
    code, outs = process(vcf, tmp_path / "work", list(chroms), samples)
    assert code == 0
    return outs


def test_sample_names_with_spaces_and_non_ascii(tmp_path):
    names = ["Jane Doe", "Zoë Ñúñez", "李雷"]
    recs = [
        record("chr1", 100, "A", "G", ["0|1", "1|1", "0|0"]),
        record("chr1", 200, "C", "T", ["1|1", "0|0", "0|1"]),
    ]
    for kind in ("plain", "bcf"):
        outs = _edge(tmp_path / kind, vcf_text(names, recs), samples=[names[2], names[0]], kind=kind)
        keys, dosage = keys_and_dosage(outs["1"])
        assert keys == ["1:100:A:G", "1:200:C:T"] and dosage == [[0, 1], [1, 2]]


def test_contigs_without_length_and_without_contig_lines(tmp_path):
    recs = [record("chr1", 100, "A", "G", ["0|1", "1|1", "0|0"])]
    no_length = HEADER.replace(",length=100000", "")
    no_lines = "".join(ln + "\n" for ln in HEADER.splitlines() if not ln.startswith("##contig"))
    for name, header in (("no_length", no_length), ("no_lines", no_lines)):
        for kind in ("plain", "bgzf_indexed"):
            outs = _edge(
                tmp_path / name / kind, vcf_text(SAMPLES, recs, header), kind=kind, chroms=("1", "2")
            )
            assert keys_and_dosage(outs["1"]) == (["1:100:A:G"], [[1, 2, 0]])
            assert keys_and_dosage(outs["2"]) == ([], [])


def test_lowercase_bases_and_dot_alt(tmp_path):
    recs = [
        record("chr1", 100, "a", "g", ["0|1", "1|1", "0|0"]),
        record("chr1", 200, "C", ".", ["0|0", "0|0", "0|0"]),  # monomorphic: no ALT
        record("chr1", 300, "t", "C", ["1|1", "0|1", "0|0"]),
    ]
    for kind in ("plain", "bcf"):
        outs = _edge(tmp_path / kind, vcf_text(SAMPLES, recs), kind=kind)
        assert keys_and_dosage(outs["1"]) == (["1:100:A:G", "1:300:T:C"], [[1, 2, 0], [2, 1, 0]])
        with GenotypeFile(outs["1"]) as g:
            assert g.meta["counts"]["skipped_monomorphic"] == 1


def test_crlf_plain_text(tmp_path):
    recs = [
        record("chr1", 100, "A", "G", ["0|1", "1|1", "0|0"]),
        record("chr1", 200, "C", "T", ["0/1", "./.", "1"]),
    ]
    outs = _edge(tmp_path, vcf_text(SAMPLES, recs).replace("\n", "\r\n"))
    assert keys_and_dosage(outs["1"]) == (["1:100:A:G", "1:200:C:T"], [[1, 2, 0], [1, -1, 1]])


def test_mixed_phased_and_unphased_calls_on_one_line(tmp_path):
    recs = [
        record("chr1", 100, "A", "G", ["0|1", "1/0", "1|1"]),
        record("chr1", 200, "C", "T", ["0/0", "0|1", "1/1"]),
    ]
    for kind in ("plain", "bcf"):
        outs = _edge(tmp_path / kind, vcf_text(SAMPLES, recs), kind=kind)
        assert keys_and_dosage(outs["1"])[1] == [[1, 1, 2], [0, 1, 2]]
        with GenotypeFile(outs["1"]) as g:
            assert not g.phased  # any unphased diploid call makes the chunk unphased
            assert next(g.chunks()).haplotypes[0].tolist() == [[0, 1], [1, 0], [1, 1]]


def test_format_fields_in_another_order(tmp_path):
    header = HEADER + '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
    recs = [
        record("chr1", 100, "A", "G", ["7:3,4:0|1", "9:0,9:1|1", "5:5,0:0|0"], fmt="DP:AD:GT"),
        record("chr1", 200, "C", "T", ["8:1/1", ".:./.", "3:0/1"], fmt="DP:GT"),
    ]
    for kind in ("plain", "bcf"):
        outs = _edge(tmp_path / kind, vcf_text(SAMPLES, recs, header), kind=kind)
        assert keys_and_dosage(outs["1"])[1] == [[1, 2, 0], [2, -1, 1]]


def test_gvcf_reference_blocks(tmp_path):
    header = HEADER + '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the block">\n'
    header += (
        '##ALT=<ID=NON_REF,Description="Any other allele">\n##ALT=<ID=*,Description="Any other allele">\n'
    )
    recs = [
        "\t".join(["chr1", "1", ".", "N", "<NON_REF>", ".", ".", "END=99", "GT", "0/0", "0/0", "0/0"]),
        record("chr1", 100, "A", "G,<NON_REF>", ["0/1", "1/1", "0/0"]),
        "\t".join(["chr1", "101", ".", "T", "<*>", ".", ".", "END=199", "GT", "0/0", "0/0", "./."]),
        record("chr1", 200, "C", "T,<*>", ["0/0", "0/1", "1/1"]),
    ]
    for kind in ("plain", "bcf"):
        outs = _edge(tmp_path / kind, vcf_text(SAMPLES, recs, header), kind=kind)
        assert keys_and_dosage(outs["1"]) == (["1:100:A:G", "1:200:C:T"], [[1, 2, 0], [0, 1, 2]])
        with GenotypeFile(outs["1"]) as g:
            assert (
                g.meta["counts"]["skipped_symbolic"] == 2 and g.meta["counts"]["symbolic_alts_dropped"] == 2
            )


def test_mitochondria_and_unplaced_contigs_are_ignored_and_counted(tmp_path):
    header = HEADER + "".join(
        f"##contig=<ID={c}>\n" for c in ("chrM", "MT", "chrUn_gl000220", "chr1_KI270706v1_random")
    )
    recs = [record("chr1", 100, "A", "G", ["0|1", "1|1", "0|0"])]
    recs += [
        record(c, 10 + i, "A", "G", ["0|1", "1|1", "0|0"])
        for c in ("chrM", "MT", "chrUn_gl000220", "chr1_KI270706v1_random")
        for i in range(2)
    ]
    for kind in ("plain", "bgzf_indexed", "bcf"):
        outs = _edge(tmp_path / kind, vcf_text(SAMPLES, recs, header), kind=kind, chroms=("1", "X"))
        if kind == "bcf":
            continue  # an unindexed BCF is prepared: the ignored contigs are counted in prepare_vcf's log
        assert keys_and_dosage(outs["1"])[0] == ["1:100:A:G"]
        with GenotypeFile(outs["1"]) as g:
            counts = g.meta["counts"]
        assert counts["ignored_contigs"] == 4 and counts["ignored_contig_records"] == 8
        log = (tmp_path / kind / "work" / "1.log").read_text()
        assert "ignored 4 contig(s)" in log and "chrUn_gl000220" in log


# --- the workflow: when the Snakefile plans jobs, and the prepare_vcf rule


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    from test_workflow import workdir_copy

    return workdir_copy(tmp_path_factory.mktemp("genome_wf"))


def snakemake(work, *args):
    from test_workflow import snakemake as run

    return run(*args, cwd=work, check=False)


def sheet_for(work, vcf, name="sheet.tsv", samples=("A", "B", "C")):
    sheet = work / name
    sheet.write_text("sample\tcohort\tvcf\n" + "".join(f"{s}\tc\t{vcf}\n" for s in samples))
    return sheet


def test_workflow_refuses_a_directory_and_foreign_contigs_when_planning(workflow_copy, tmp_path):
    """Issue 14: one line before any job, not a traceback and not a failure at the karyogram step."""
    folder = tmp_path / "vcf_folder"
    folder.mkdir()
    header = "".join(ln + "\n" for ln in HEADER.splitlines() if not ln.startswith("##contig"))
    header += "##contig=<ID=chrUn_gl000220>\n##contig=<ID=chrM>\n"
    recs = [record("chrUn_gl000220", 100, "A", "G", ["0|1", "1|1", "0|0"])]
    foreign = write_bgzf(tmp_path / "foreign.vcf.gz", vcf_text(SAMPLES, recs, header))
    for vcf, expect in ((folder, "is a directory, not a VCF/BCF file"), (foreign, "none of its contigs")):
        proc = snakemake(
            workflow_copy, "-n", "--cores", "1", "--config", f"samples={sheet_for(tmp_path, vcf)}"
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert f"{vcf}: {expect}" in out, out[-2000:]
        assert "Traceback" not in out and "IsADirectoryError" not in out
        assert "parse_vcf" not in proc.stdout  # no job was planned


def test_workflow_prepares_a_plain_vcf_once_and_never_writes_beside_it(workflow_copy, tmp_path):
    data = tmp_path / "read_only"
    vcf = write_as(data / "cohort.vcf.gz", vcf_text(SAMPLES, good_records()), "plain")
    listing = sorted(os.listdir(data))
    sheet = sheet_for(tmp_path, vcf)
    targets = ["results/genotypes/c/1.npz", "results/genotypes/c/X.npz"]
    config = ["--config", f"samples={sheet}", 'chromosomes=["1","X"]']
    dry = snakemake(workflow_copy, *targets, "-n", "--cores", "1", *config)
    assert dry.returncode == 0 and "prepare_vcf" in dry.stdout, dry.stdout + dry.stderr
    os.chmod(data, 0o555)
    try:
        proc = snakemake(workflow_copy, *targets, "--cores", "1", *config)
    finally:
        os.chmod(data, 0o755)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert sorted(os.listdir(data)) == listing
    prepared = workflow_copy / "results/vcf/c.vcf.gz"
    assert in_place(prepared) and (workflow_copy / "results/vcf/c.vcf.gz.tbi").exists()
    keys, dosage = keys_and_dosage(workflow_copy / "results/genotypes/c/1.npz")
    assert keys == ["1:100:A:G", "1:200:C:T", "1:600:T:C"] and dosage == [[1, 2, 0], [1, -1, 1], [1, 0, 2]]
    # an indexed BGZF is read in place: no prepare job, no copy
    example = workflow_copy / "resources/example/cohort.vcf.gz"
    dry = snakemake(
        workflow_copy,
        "-n",
        "--cores",
        "1",
        "--config",
        f"samples={sheet_for(tmp_path, example, 'ex.tsv', ['FAM1_father'])}",
    )
    assert dry.returncode == 0 and "prepare_vcf" not in dry.stdout, dry.stdout
