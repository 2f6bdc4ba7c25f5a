"""Helpers for tests: write small VCFs (plain, gzip, BGZF) from text."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam

HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FILTER=<ID=PASS,Description="All filters passed">\n'
    '##FILTER=<ID=q10,Description="Quality below 10">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "##contig=<ID=chr1,length=100000>\n"
    "##contig=<ID=chr2,length=100000>\n"
    "##contig=<ID=chrX,length=100000>\n"
)
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"


def vcf_text(samples: list[str], records: list[str], header: str = HEADER) -> str:
    cols = COLUMNS + "".join("\t" + s for s in samples)
    return header + cols + "\n" + "".join(r if r.endswith("\n") else r + "\n" for r in records)


def record(
    chrom: str, pos: int, ref: str, alt: str, gts: list[str], filt: str = "PASS", fmt: str = "GT"
) -> str:
    return "\t".join([chrom, str(pos), ".", ref, alt, ".", filt, ".", fmt, *gts])


def write_bgzf(path: Path, text: str, index: bool = True) -> Path:
    plain = path.with_suffix("")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_gzip(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


# --- running the genome steps in-process, as the workflow chains them (fast: no interpreter per call)


def run_step(script: str, argv: list[str]) -> int:
    """Run scripts/<script>.py's main like its __main__ does (one line and exit 2 on bad input); return the status."""
    import importlib

    from karyospectrum.cli import run

    module = importlib.import_module(script)
    try:
        run(module.main, [str(a) for a in argv])
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def write_sheet(path: Path, vcf: Path, vcf_samples: list[str], cohort: str = "c") -> Path:
    """A sample sheet whose ids are S1..Sn and whose vcf_sample column holds the VCF's own names."""
    rows = [f"S{i}\t{cohort}\t{vcf}\t{name}\n" for i, name in enumerate(vcf_samples, start=1)]
    path.write_text("sample\tcohort\tvcf\tvcf_sample\n" + "".join(rows), encoding="utf-8")
    return path


def process(
    vcf: Path,
    work: Path,
    chromosomes: list[str],
    vcf_samples: list[str] | None = None,
    only_present: bool = False,
) -> tuple[int, dict]:
    """prepare_vcf (when the file is not an indexed BGZF/BCF) then parse_vcf per chromosome.

    ``vcf_samples`` defaults to all of the VCF's samples; ``only_present`` parses only the configured
    chromosomes the file has records on (the others give empty files, which other tests cover).
    Returns (exit status of the first step that failed, or 0; {chromosome: genotype file}).
    """
    import sys

    from karyospectrum.errors import InputError
    from karyospectrum.genotypes import check_input_vcf, check_vcf, harmonize, in_place

    work.mkdir(parents=True, exist_ok=True)
    try:
        check_input_vcf(vcf, chromosomes)  # what the Snakefile checks when it plans the jobs
    except InputError as err:  # the Snakefile reports it in one line (a WorkflowError) before any job
        print(f"error: {err}", file=sys.stderr)
        return 2, {}
    read = vcf
    if not in_place(vcf):
        read = work / "prepared.vcf.gz"
        code = run_step("prepare_vcf", ["--vcf", vcf, "--out", read, "--chromosomes", *chromosomes])
        if code:
            return code, {}
    parse = chromosomes
    try:
        fmt, header, idx = check_vcf(read)
        if only_present:
            import pysam

            names = (
                header.contigs if fmt == "bcf" else list(pysam.TabixFile(str(read), index=str(idx)).contigs)
            )
            present = {harmonize(c) for c in names}
            parse = [c for c in chromosomes if harmonize(c) in present] or chromosomes[:1]
    except InputError:  # let parse_vcf report it, in its one line
        header = None
    samples = vcf_samples if vcf_samples is not None else (header.samples if header else ["?"])
    if any("," in s for s in samples):  # the sheet maps any name; --samples is faster (no sheet to read)
        pick = ["--sheet", write_sheet(work / "sheet.tsv", vcf, samples), "--cohort", "c"]
    else:
        pick = ["--samples", ",".join(samples)]
    outs = {}
    for chrom in parse:
        out = work / f"{chrom}.npz"
        argv = [
            "--vcf",
            read,
            "--source",
            vcf,
            *pick,
            "--chrom",
            chrom,
            "--out",
            out,
            "--chromosomes",
            *chromosomes,
        ]
        code = run_step("parse_vcf", [*argv, "--log", work / f"{chrom}.log"])
        if code:
            return code, outs
        outs[chrom] = out
    return 0, outs
