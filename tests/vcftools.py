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


def record(chrom: str, pos: int, ref: str, alt: str, gts: list[str], filt: str = "PASS", fmt: str = "GT") -> str:
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
