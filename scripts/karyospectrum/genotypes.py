"""VCF/BCF -> genotype intermediate, one chromosome at a time, in bounded memory.

The file is checked before cyvcf2 touches a record (cyvcf2/htslib can segfault or print
half-lines on malformed input); every problem becomes one :class:`InputError` line naming
the file. Records are read in chunks and written to an ``.npz`` chunk by chunk, so peak
memory is ``chunk_size x samples``, never a whole chromosome.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import gzip
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InputError
from .io import atomic_path, write_npz_member

log = logging.getLogger("karyospectrum.genotypes")

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
# PLINK numbers the sex chromosomes; accept those names too.
CHROM_ALIASES = {"X": ["X", "23"], "Y": ["Y", "24"], "MT": ["MT", "M", "26"]}
ACGT = frozenset("ACGT")
MISSING, ABSENT = -1, -2  # allele codes: a missing call, and the absent 2nd copy of a haploid call


# ----------------------------------------------------------------------------- file checks


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Capture what C libraries (htslib) write to fd 2, so the user sees one line, not noise."""
    lines: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode(errors="replace").splitlines())


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch of records is read: its many small objects form no
    cycles, and the collector's passes over them cost about a third of the loop."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bgzf_blocks(path: Path) -> Iterator[tuple[int, int]]:
    """Yield (offset, size) of each BGZF block by walking the block headers."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset < size:
            fh.seek(offset)
            head = fh.read(18)
            if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
                raise InputError(path, f"corrupt BGZF block at byte {offset}")
            block = struct.unpack("<H", head[16:18])[0] + 1
            if offset + block > size:
                raise InputError(path, "is truncated (the last BGZF block is cut short)")
            yield offset, block
            offset += block


# What each magic number means. BGZF is gzip with a "BC" extra field; BCF is BGZF-compressed too.
GZIP_MAGIC = b"\x1f\x8b"
IN_PLACE_KINDS = ("bgzf", "bcf")  # read as they are when indexed; everything else is prepared once
KIND_NAMES = {
    "bgzf": "a BGZF-compressed VCF",
    "bcf": "a BCF",
    "gzip": "a gzip- (not BGZF-) compressed VCF",
    "plain": "an uncompressed VCF",
    "ubcf": "an uncompressed BCF",
}


def sniff_vcf(path: str | Path) -> str:
    """The kind of a VCF/BCF file from its first bytes: bgzf, bcf, gzip, plain or ubcf (uncompressed BCF)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, not a VCF/BCF file")
    magic, start = _first_bytes(path)
    if not magic:
        raise InputError(path, "is empty")
    if magic[:2] == GZIP_MAGIC:
        bgzf = len(magic) == 18 and magic[3] & 4 and magic[12:14] == b"BC"
        if start.startswith(b"BCF"):
            return "bcf" if bgzf else "gzip"
        return "bgzf" if bgzf else "gzip"
    if magic.startswith(b"BCF"):
        return "ubcf"
    if magic.startswith(b"#"):
        return "plain"
    raise InputError(
        path, "is not a VCF/BCF (missing VCF header: no '##fileformat=VCF' line, no gzip/BGZF/BCF signature)"
    )


def _first_bytes(path: Path) -> tuple[bytes, bytes]:
    """The file's first 18 bytes (a BGZF header's length) and the first 5 of its decompressed text."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(18)
        if magic[:2] == GZIP_MAGIC:
            with gzip.open(path, "rb") as fh:
                return magic, fh.read(5)
        return magic, magic[:5]
    except PermissionError:
        raise InputError(path, "cannot be read (permission denied)") from None
    except (EOFError, OSError, zlib.error) as err:
        raise InputError(path, f"cannot be decompressed ({err})") from None


def in_place(path: str | Path, chromosomes: list[str] | None = None) -> bool:
    """True when the file is read as it is: a BGZF VCF or a BCF with its index beside it (no copy).

    With ``chromosomes``, the cheap checks of :func:`check_input_vcf` are made first.
    """
    kind = check_input_vcf(path, chromosomes) if chromosomes is not None else sniff_vcf(path)
    return kind in IN_PLACE_KINDS and index_path(Path(path)) is not None


def header_contigs(path: str | Path, kind: str | None = None) -> list[str]:
    """The contig names the header declares (``##contig`` lines); [] when it declares none."""
    path = Path(path)
    kind = kind or sniff_vcf(path)
    contigs = []
    try:
        if kind in ("bcf", "ubcf"):
            with gzip.open(path, "rb") if kind == "bcf" else open(path, "rb") as fh:
                head = fh.read(9)
                text = fh.read(struct.unpack("<I", head[5:9])[0]).decode("utf-8", "replace")
            lines = iter(text.splitlines())
        else:
            fh = gzip.open(path, "rt", **TEXT) if kind in ("bgzf", "gzip") else open(path, **TEXT)
            lines = fh
        for line in lines:
            if not line.startswith("##"):
                break
            if line.startswith("##contig=<ID="):
                contigs.append(line[13:].split(",", 1)[0].rstrip(">\r\n"))
    except (EOFError, OSError, zlib.error, struct.error) as err:
        raise InputError(path, f"cannot be decompressed ({err})") from None
    finally:
        if kind not in ("bcf", "ubcf") and "fh" in locals():
            fh.close()
    return contigs


def configured(contigs: list[str], chromosomes: list[str]) -> tuple[list[str], list[str]]:
    """Split contig names into (those naming a configured chromosome, the others: chrM, MT, chrUn_..., ignored)."""
    want = {harmonize(c) for c in chromosomes}
    matched = [c for c in contigs if harmonize(c) in want]
    return matched, [c for c in contigs if harmonize(c) not in want]


def no_configured_contig(path: str | Path, contigs: list[str], chromosomes: list[str]) -> InputError:
    shown = ", ".join(contigs[:5]) + (f" and {len(contigs) - 5} more" if len(contigs) > 5 else "")
    return InputError(
        path,
        f"none of its contigs ({shown or 'none'}) is one of the configured chromosomes "
        f"({', '.join(chromosomes[:3])}{', ...' if len(chromosomes) > 3 else ''}; config `chromosomes`)",
    )


def check_input_vcf(path: str | Path, chromosomes: list[str]) -> str:
    """The checks the Snakefile makes when it plans jobs (cheap: magic bytes and header); returns the kind.

    A header whose ``##contig`` lines name no configured chromosome fails here, before any job; a header with
    no ``##contig`` lines is checked by the first job that reads the records.
    """
    kind = sniff_vcf(path)
    contigs = header_contigs(path, kind)
    if contigs and not configured(contigs, chromosomes)[0]:
        raise no_configured_contig(path, contigs, chromosomes)
    return kind


def check_compression(path: Path) -> str:
    """Return 'vcf' or 'bcf' for a whole BGZF file; plain text, gzip and uncompressed BCF are prepared first."""
    kind = sniff_vcf(path)
    if kind not in IN_PLACE_KINDS:
        raise InputError(
            path,
            f"is {KIND_NAMES[kind]}; the workflow converts it once to an indexed BGZF under results/vcf/ "
            "(rule prepare_vcf); outside the workflow run scripts/prepare_vcf.py on it first",
        )
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
        if fh.read() != BGZF_EOF:
            raise InputError(path, "is truncated (no BGZF end-of-file block); the file is incomplete")
    return "bcf" if kind == "bcf" else "vcf"


def _last_text(path: Path) -> bytes:
    """Decompressed text of the last data block (the EOF block is empty)."""
    blocks = [b for b in _bgzf_blocks(path)]
    with open(path, "rb") as fh:
        for offset, size in reversed(blocks):
            fh.seek(offset)
            data = zlib.decompress(fh.read(size)[18:-8], -15)
            if data:
                return data
    return b""


@dataclass
class VcfHeader:
    samples: list[str]
    contigs: list[str] = field(default_factory=list)


TEXT = {"encoding": "utf-8", "errors": "replace"}  # sample names may be non-ASCII; never fail on bytes


def check_header(path: Path) -> VcfHeader:
    """Validate the text header and the first record's shape; return the sample names."""
    n = 0
    contigs: list[str] = []
    declares_gt = False
    with gzip.open(path, "rt", **TEXT) as fh:
        try:
            for line in fh:
                n += 1
                if n == 1 and not line.startswith("##fileformat=VCF"):
                    raise InputError(path, "line 1: missing VCF header (no ##fileformat=VCF line)")
                if line.startswith("##"):
                    declares_gt |= line.startswith("##FORMAT=<ID=GT,")
                    if line.startswith("##contig=<ID="):
                        contigs.append(line[13:].split(",", 1)[0].rstrip(">\n"))
                    continue
                cols = _check_chrom_line(path, n, line)
                _check_first_record(path, n + 1, fh.readline(), len(cols), declares_gt)
                return VcfHeader(cols[9:], contigs)
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(path, f"cannot be decompressed ({err})") from None
    raise InputError(path, "missing VCF header (no #CHROM line)")


def _check_chrom_line(path: Path, n: int, line: str) -> list[str]:
    """The columns of the #CHROM line (line ``n``): the eight fixed ones, FORMAT and unique sample names."""
    if not line.startswith("#CHROM"):
        raise InputError(path, f"line {n}: the header has no #CHROM line")
    cols = line.rstrip("\n").split("\t")
    if cols[:8] != ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]:
        raise InputError(path, f"line {n}: malformed #CHROM line (columns must be tab-separated)")
    samples = cols[9:]
    if len(cols) < 9 or not samples:
        raise InputError(path, f"line {n}: no sample columns (a sites-only VCF has no genotypes)")
    dup = [s for s, k in collections.Counter(samples).items() if k > 1]
    if dup:
        raise InputError(
            path,
            f"line {n}: sample name {dup[0]!r} appears twice in the #CHROM line; names must be unique",
        )
    return cols


def _check_first_record(path: Path, n: int, first: str, n_cols: int, declares_gt: bool) -> None:
    """The first record (line ``n``) has the header's columns and a GT field."""
    if not first:
        raise InputError(path, "has a header but no variant records")
    if not first.strip():
        raise InputError(path, f"line {n}: blank line where the first record should be")
    fields = first.rstrip("\n").split("\t")
    if len(fields) != n_cols:
        raise InputError(path, f"line {n}: {len(fields)} columns, the header has {n_cols}")
    # FORMAT "." is a record without calls (skipped, like later records without GT); other keys
    # without GT (somatic AD:DP:AF files) mean the file carries no genotypes
    if "GT" not in fields[8].split(":") and not (declares_gt and fields[8] == "."):
        raise InputError(path, f"line {n}: no GT field in FORMAT ({fields[8]!r}); genotypes are needed")


def index_path(path: Path) -> Path | None:
    for suffix in (".tbi", ".csi"):
        idx = path.with_name(path.name + suffix)
        if idx.exists():
            return idx
    return None


def find_index(path: Path) -> Path | None:
    """The index beside the file, or None (the file is then streamed; nothing is ever written beside it)."""
    idx = index_path(path)
    if idx is None:
        log.warning("%s has no index; reading the whole file for each chromosome", path.name)
    elif idx.stat().st_mtime < path.stat().st_mtime - 1:
        log.warning("index %s is older than the VCF; it may not match the file", idx.name)
    return idx


def build_index(path: Path, index: Path) -> None:
    """Write the tabix index of a BGZF VCF to ``index`` (not beside the file); unsorted records are refused."""
    import pysam

    with captured_stderr() as err:
        try:
            pysam.tabix_index(str(path), preset="vcf", index=str(index), force=True)
        except (OSError, ValueError) as exc:
            err.append(str(exc))
    msg = " ".join(err)
    if "nsorted" in msg or "out of order" in msg:
        raise InputError(
            path, "records are not sorted by position within each contig, or a contig's records are split"
        )
    if not index.exists() or index.stat().st_size == 0 or "failed" in msg or "rror" in msg:
        first = msg.strip().splitlines()[0] if msg.strip() else "htslib error"
        raise InputError(path, f"cannot be indexed ({first})")


def check_vcf(path: str | Path) -> tuple[str, VcfHeader, Path | None]:
    """All checks before any record is trusted: compression, header, trailing blank line, index."""
    path = Path(path)
    fmt = check_compression(path)
    header = None
    if fmt == "vcf":
        header = check_header(path)
        tail = _last_text(path)
        if tail.endswith(b"\n\n") or tail.endswith(b"\n\r\n") or b"\n\n" in tail:
            raise InputError(path, "ends with a blank line (blank lines are not VCF records)")
    idx = find_index(path)
    if header is None:
        header = _bcf_header(path)
    return fmt, header, idx


def _bcf_header(path: Path) -> VcfHeader:
    import cyvcf2

    with captured_stderr():
        try:
            vcf = cyvcf2.VCF(str(path))
        except (OSError, Exception) as err:  # cyvcf2 raises bare Exception on bad files
            raise InputError(path, f"cannot be read as BCF ({err})") from None
    if not vcf.samples:
        raise InputError(path, "no sample columns (a sites-only file has no genotypes)")
    dup = [s for s, k in collections.Counter(vcf.samples).items() if k > 1]
    if dup:
        raise InputError(path, f"sample name {dup[0]!r} appears twice; names must be unique")
    has_gt = any(h.info().get("ID") == "GT" for h in vcf.header_iter() if h.type == "FORMAT")
    if not has_gt:
        raise InputError(path, "no GT field declared in FORMAT; genotypes are needed")
    return VcfHeader(list(vcf.samples), list(vcf.seqnames))


# ----------------------------------------------------------------------------- preparing an input once


@dataclass
class PrepareOptions:
    # zlib level of the BGZF copy: 1 is several times faster than bgzip's default and a little larger
    compress_level: int = 1
    block_size: int = 1 << 20  # bytes read per write


def prepare_vcf(
    src: str | Path,
    out: str | Path,
    index: str | Path,
    chromosomes: list[str],
    options: PrepareOptions | None = None,
) -> dict:
    """Write ``src`` (plain, gzip, BGZF or BCF, indexed or not) as an indexed BGZF VCF at ``out``/``index``.

    One pass: the text is streamed into BGZF blocks (a BGZF file is copied as it is, a BCF is converted),
    then tabix indexes the copy. Nothing is written beside ``src``; both outputs appear atomically, and
    every problem found in the copy is reported against ``src``.
    """
    src, out, index = Path(src), Path(out), Path(index)
    options = options or PrepareOptions()
    kind = sniff_vcf(src)
    if kind in IN_PLACE_KINDS:
        check_compression(src)  # truncated BGZF: say so about the user's file
    with atomic_path(out, suffix=".vcf.gz") as tmp, atomic_path(index, suffix=".tbi") as tmp_index:
        try:
            if kind in ("bcf", "ubcf"):
                _bcf_to_bgzf(src, tmp)
            elif kind == "bgzf":
                shutil.copyfile(src, tmp)
            else:
                _text_to_bgzf(src, tmp, kind, options)
            header = check_header(tmp)
            tail = _last_text(tmp)
            if tail.endswith(b"\n\n") or tail.endswith(b"\n\r\n") or b"\n\n" in tail:
                raise InputError(tmp, "ends with a blank line (blank lines are not VCF records)")
            build_index(tmp, tmp_index)
            contigs = _index_contigs(tmp, tmp_index)
        except InputError as err:
            if err.path == str(tmp):
                raise InputError(src, err.problem) from None
            raise
        matched, ignored = configured(contigs, chromosomes)
        if not matched:
            raise no_configured_contig(src, contigs, chromosomes)
    return {
        "kind": kind,
        "samples": len(header.samples),
        "contigs": contigs,
        "matched": matched,
        "ignored": ignored,
        "bytes_in": src.stat().st_size,
        "bytes_out": out.stat().st_size,
    }


def _text_to_bgzf(src: Path, dst: Path, kind: str, options: PrepareOptions) -> None:
    import pysam

    try:
        with (
            gzip.open(src, "rb") if kind == "gzip" else open(src, "rb") as fin,
            pysam.BGZFile(str(dst), f"wb{options.compress_level}") as fout,
        ):
            while block := fin.read(options.block_size):
                fout.write(block)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputError(
            src, f"cannot be decompressed ({err}); the gzip stream is corrupt or cut short"
        ) from None


def _bcf_to_bgzf(src: Path, dst: Path) -> None:
    import pysam

    failure = None
    with captured_stderr() as messages:
        try:
            with (
                pysam.VariantFile(str(src)) as vin,
                pysam.VariantFile(str(dst), "wz", header=vin.header) as vout,
            ):
                for rec in vin:
                    vout.write(rec)
        except (OSError, ValueError) as exc:
            failure = str(exc)
    # htslib's own lines (e.g. "could not retrieve index file") are noise unless the read failed
    noise = [m for m in messages if "idx_find_and_load" not in m]
    if failure is not None:
        raise InputError(src, f"cannot be read as BCF ({(noise or [failure])[0].strip()})")
    if noise:
        log.warning("htslib printed %d message(s) while converting %s", len(noise), src.name)


def _index_contigs(path: Path, index: Path) -> list[str]:
    """Contigs with records, from the tabix index (the header may declare others, or none)."""
    import pysam

    with captured_stderr():
        with pysam.TabixFile(str(path), index=str(index)) as tbx:
            return list(tbx.contigs)


def contig_records(path: Path) -> dict[str, int]:
    """Records per contig from the index (bcftools index --stats); {} when the index holds no counts."""
    import pysam.bcftools

    with captured_stderr():
        try:
            text = pysam.bcftools.index("--stats", str(path))
        except Exception:  # noqa: BLE001 - pysam raises SamtoolsError (an Exception) when the index has no counts
            return {}
    counts = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].isdigit():
            counts[parts[0]] = int(parts[2])
    return counts


def check_contigs(
    path: Path,
    fmt: str,
    header: VcfHeader,
    idx: Path | None,
    chromosomes: list[str],
    counts: collections.Counter,
) -> list[str]:
    """Fail in one line when no contig of an indexed VCF/BCF is a configured chromosome; count the others.

    Contigs that are not configured chromosomes (chrM, MT, chrUn_..., decoys) are ignored: their number and
    records go into ``counts`` and the log. Returns their names.
    """
    if idx is None:
        return []
    contigs = _index_contigs(path, idx) if fmt == "vcf" else header.contigs
    matched, ignored = configured(contigs, chromosomes)
    if not matched:
        raise no_configured_contig(path, contigs, chromosomes)
    if ignored:
        per_contig = contig_records(path)
        counts["ignored_contigs"] = len(ignored)
        counts["ignored_contig_records"] = sum(per_contig.get(c, 0) for c in ignored)
        shown = ", ".join(ignored[:10]) + (f" and {len(ignored) - 10} more" if len(ignored) > 10 else "")
        log.info("ignored %d contig(s) that are not configured chromosomes: %s", len(ignored), shown)
    return ignored


# ----------------------------------------------------------------------------- chromosome names


@functools.lru_cache(maxsize=1024)
def harmonize(chrom: str) -> str:
    """'chr1' -> '1', 'chrX' -> 'X', '23' -> 'X': the library's names."""
    c = re.sub(r"^chr", "", str(chrom), flags=re.IGNORECASE)
    for name, aliases in CHROM_ALIASES.items():
        if c.upper() in aliases:
            return name
    return c


def find_contig(chrom: str, seqnames: list[str]) -> str | None:
    """The VCF's own name for a config chromosome, or None."""
    want = harmonize(chrom)
    for name in seqnames:
        if harmonize(name) == want:
            return name
    return None


# ----------------------------------------------------------------------------- reading records


@dataclass
class Chunk:
    positions: np.ndarray  # int64 [v]
    variant_keys: np.ndarray  # str [v]
    haplotypes: np.ndarray  # int8 [v, s, 2]: 0/1 allele, -1 missing, -2 absent copy
    phased: bool  # every diploid call of the chunk is phased

    @property
    def dosage(self) -> np.ndarray:
        """int8 [v, s] alt-allele count; -1 where any present copy is missing."""
        h0, h1 = self.haplotypes[..., 0], self.haplotypes[..., 1]
        # elementwise on the two copies: numpy's reductions over a length-2 axis are slow
        d = (h0 == 1).astype(np.int8) + (h1 == 1)
        d[(h0 == MISSING) | (h1 == MISSING)] = -1
        return d


@dataclass
class ParseOptions:
    multiallelic: str = "skip"  # or "split"
    pass_only: bool = False
    chunk_size: int = 20_000


def _symbolic(alt: str) -> bool:
    return alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt


def _classify(ref: str, alts: list[str]) -> str:
    """snp | multiallelic | indel | other (for non-symbolic ALTs)."""
    if len(ref) != 1 or any(len(a) != 1 for a in alts):
        return "indel"
    if ref.upper() not in ACGT or any(a.upper() not in ACGT for a in alts):
        return "other"
    return "multiallelic" if len(alts) > 1 else "snp"


def _kept_alts(ref: str, alts: list[str], options: ParseOptions, counts) -> list[tuple[int, str]] | None:
    """The (allele index, ALT) pairs a record contributes, or None when it is skipped (and counted).

    Symbolic ALTs beside real ones (gVCF's ``<NON_REF>``, ``*``) are dropped, not the whole site.
    """
    if not alts:
        counts["skipped_monomorphic"] += 1
        return None
    real = [(k, a) for k, a in enumerate(alts, start=1) if not _symbolic(a)]
    if not real:
        counts["skipped_symbolic"] += 1
        return None
    if len(real) < len(alts):
        counts["symbolic_alts_dropped"] += len(alts) - len(real)
    kind = _classify(ref, [a for _, a in real])
    if kind in ("indel", "other"):
        counts[f"skipped_{kind}"] += 1
        return None
    if kind == "multiallelic":
        if options.multiallelic == "skip":
            counts["skipped_multiallelic"] += 1
            return None
        counts["split_multiallelic"] += 1
    return real


def read_chromosome(
    path: str | Path,
    chrom: str,
    samples: list[str],
    options: ParseOptions | None = None,
    counts: collections.Counter | None = None,
    chromosomes: list[str] | None = None,
    broken: dict[int, str] | None = None,
) -> Iterator[Chunk]:
    """Yield chunks of one chromosome for ``samples`` (VCF column names, in this order).

    ``counts`` collects per-category record and call counts for the log. With ``chromosomes`` (the
    configured ones), a VCF none of whose contigs is one of them fails at once, and the others are counted.
    ``broken`` collects the samples whose column is broken (a malformed GT, an allele index out of range or
    beyond the record's ALTs, no column on a short line): index in ``samples`` -> its first problem, by record number,
    never a genotype or a position. Their broken calls read as missing; a record broken for every sample fails.
    """
    path = Path(path)
    options = options or ParseOptions()
    counts = counts if counts is not None else collections.Counter()
    fmt, header, idx = check_vcf(path)
    if chromosomes is not None:
        check_contigs(path, fmt, header, idx, chromosomes, counts)
    missing = [s for s in samples if s not in header.samples]
    if missing:
        raise InputError(
            path, f"sample {missing[0]!r} of the sheet is not in the VCF ({len(missing)} missing in all)"
        )
    # bound a chunk by genotype cells, so memory does not grow with the cohort either
    cap = max(64, min(options.chunk_size, CHUNK_CELLS // max(1, len(header.samples))))
    alleles = np.empty((cap, len(samples), 2), dtype=np.int8)
    phase = np.empty((cap, len(samples)), dtype=np.int8)
    state = {"rec_no": 0, "last_pos": 0}
    if fmt == "vcf" and idx is not None:
        htslib, contig, lines, text = _open_text(path, idx, header, chrom, samples)
        reorder = None
        sink = text.broken

        def read(label):
            return _read_text_batch(lines, options, counts, state, label, alleles, phase, text)

    else:
        htslib, contig, records, reorder = _open_cyvcf2(path, idx, header, chrom, samples)
        sink = {}

        def read(label):
            return _read_batch(records, options, counts, state, path, label, alleles, phase)

    if idx is not None and contig is None:
        log.warning("chromosome %s is not in %s; writing an empty genotype file", chrom, path.name)
        counts["chromosome_absent"] = 1
        return
    while True:
        # read one chunk with htslib's stderr captured; process it outside
        with captured_stderr() as messages, gc_paused():
            meta = read(contig or chrom)
        htslib += messages
        if not meta:
            break
        n = len(meta)
        a, ph = (alleles[:n], phase[:n]) if reorder is None else (alleles[:n, reorder], phase[:n, reorder])
        _check_allele_indices(meta, a, contig or chrom, sink)
        yield _to_chunk(meta, a, ph, counts)
    _report_broken(sink, counts, broken)
    if htslib:
        counts["htslib_messages"] += len(htslib)
        log.warning("htslib printed %d message(s) while reading %s", len(htslib), path.name)


def _check_allele_indices(meta: list[tuple], alleles: np.ndarray, chrom: str, sink: dict) -> None:
    """A call whose allele index is beyond its record's ALTs breaks that sample's column (recorded in
    ``sink``, read as missing). Such records were read before, so even one where every call is beyond
    (a single-sample file's ``1/2`` at a biallelic site) does not fail the chromosome."""
    if len(meta) == 0 or alleles.max() <= 1:  # every kept record has an ALT: the common case is done
        return
    n_alts = np.fromiter((m[4] for m in meta), dtype=np.int16, count=len(meta))
    beyond = (alleles > n_alts[:, None, None]).any(axis=2)
    if not beyond.any():
        return
    for r, j in zip(*np.nonzero(beyond)):
        note_broken(sink, int(j), meta[r][5], f"{chrom}: GT allele index beyond the record's ALT alleles")
    alleles[beyond] = MISSING


def _report_broken(sink: dict, counts, broken: dict | None) -> None:
    """Count the samples with a broken column; give each one's first problem to ``broken``."""
    if sink:
        counts["broken_samples"] = len(sink)
    if sink and broken is not None:
        broken.update((j, f"record {rec} on {where}") for j, (rec, where) in sorted(sink.items()))


def note_broken(sink: dict, j: int, rec_no: int, problem: str) -> None:
    """Keep sample ``j``'s first broken call: ``(record number, "chrom: problem")``."""
    if j not in sink or rec_no < sink[j][0]:
        sink[j] = (rec_no, problem)


CHUNK_CELLS = 8_000_000  # records x samples per chunk: 16 MB of int8 haplotypes


def _open_text(path: Path, idx: Path, header: VcfHeader, chrom: str, samples: list[str]):
    """Indexed text VCF: pysam hands over the lines and numpy decodes the genotypes.

    Returns (htslib's messages, the contig or None, its lines, the GT decoder).
    """
    import pysam

    with captured_stderr() as htslib:  # latin-1: any byte decodes (GT is ASCII; INFO may be UTF-8)
        tbx = pysam.TabixFile(str(path), index=str(idx), encoding="latin-1")
    contig = find_contig(chrom, list(tbx.contigs))
    column = {s: i for i, s in enumerate(header.samples)}
    order = np.array([column[s] for s in samples], dtype=np.intp)
    text = TextGenotypes(path, len(header.samples), order)
    lines = iter(tbx.fetch(contig)) if contig is not None else None
    return htslib, contig, lines, text


def _open_cyvcf2(path: Path, idx: Path | None, header: VcfHeader, chrom: str, samples: list[str]):
    """A BCF or an unindexed VCF through cyvcf2.

    Returns (htslib's messages, the contig or None, its records, the sample reorder or None).
    """
    import cyvcf2

    with captured_stderr() as htslib:
        vcf = cyvcf2.VCF(str(path), samples=list(samples), gts012=False, lazy=True, threads=1)
        seqnames = list(vcf.seqnames) if idx is not None else header.contigs
    contig = find_contig(chrom, seqnames) if seqnames else None
    # cyvcf2 keeps the VCF's column order; map to the requested order
    order = np.array([list(vcf.samples).index(s) for s in samples], dtype=np.intp)
    reorder = None if (order == np.arange(len(samples))).all() else order
    want = harmonize(chrom)
    records = iter(vcf(contig) if idx is not None else (r for r in vcf if harmonize(r.CHROM) == want))
    return htslib, contig, records, reorder


def _check_sorted(path: Path, chrom: str, state: dict, pos: int, counts) -> None:
    """Refuse a record that comes before the previous one; count it."""
    if pos < state["last_pos"]:
        raise InputError(
            path,
            f"records are not sorted on {chrom} (record {state['rec_no']}); "
            "run `bcftools sort -Oz -o sorted.vcf.gz` and index it",
        )
    state["last_pos"] = pos
    counts["records"] += 1


def _read_batch(
    records,
    options: ParseOptions,
    counts,
    state: dict,
    path: Path,
    chrom: str,
    alleles: np.ndarray,
    phase: np.ndarray,
) -> list[tuple]:
    """Fill ``alleles``/``phase`` with up to their length of kept records; return their
    (pos, chrom, ref, kept alts, number of ALTs, record number)."""
    meta = []
    cap = len(alleles)
    while True:
        try:
            v = next(records)
        except StopIteration:
            break
        except Exception as err:  # noqa: BLE001 - cyvcf2 raises a bare Exception on corrupt records
            raise InputError(
                path, f"record {state['rec_no'] + 1} on {chrom} cannot be read ({err})"
            ) from None
        state["rec_no"] += 1
        pos = v.POS
        _check_sorted(path, chrom, state, pos, counts)
        if options.pass_only and v.FILTER is not None:
            counts["filtered"] += 1
            continue
        ref, alts = v.REF, v.ALT
        kept = _kept_alts(ref, alts, options, counts)
        if kept is None:
            continue
        try:
            gt = v.genotype.array()
        except Exception:  # noqa: BLE001 - no GT on this record (cyvcf2 gives None or raises a bare Exception)
            counts["skipped_no_gt"] += 1
            continue
        _fill_calls(gt, alleles[len(meta)], phase[len(meta)], counts)
        meta.append((pos, v.CHROM, ref, kept, len(alts), state["rec_no"]))
        if len(meta) == cap:
            break
    return meta


def _fill_calls(gt: np.ndarray, alleles_row: np.ndarray, phase_row: np.ndarray, counts) -> None:
    """One record's cyvcf2 genotype array (alleles..., phase flag) into a row of the buffers."""
    width = gt.shape[1]
    if width == 3:
        alleles_row[:] = gt[:, :2]
    elif width == 2:  # all haploid: one allele column plus the phase flag
        alleles_row[:, 0] = gt[:, 0]
        alleles_row[:, 1] = ABSENT
    else:  # polyploid: keep the first two copies, and count it
        counts["polyploid_calls_truncated"] += int((gt[:, 2:-1] != ABSENT).any(axis=1).sum())
        alleles_row[:] = gt[:, :2]
    phase_row[:] = gt[:, -1]


_DOT, _ZERO, _NINE, _BAR, _SLASH, _TAB = (ord(c) for c in ".09|/\t")
# a field "a?b<TAB>" as a little-endian uint32: masking bit 0 of both alleles maps '0' and '1' to '0'
_ALLELE_BITS = np.uint32(0xFFFEFFFE)
_FIELD_0 = np.uint32(_ZERO | _ZERO << 16 | _TAB << 24)
_ALLELE_LOW_BITS = np.uint32(0x00010001)


class TextGenotypes:
    """Decodes the GT of VCF text lines into allele codes, in the requested sample order.

    Fast path: every field is exactly ``a|b`` or ``a/b`` (single-digit alleles or '.'), so a
    whole chunk is one fixed-width byte matrix. Other lines (haploid calls, more FORMAT keys,
    multi-digit alleles) are decoded one line at a time.
    """

    def __init__(self, path: Path, n_columns: int, order: np.ndarray):
        self.path, self.n, self.order = path, n_columns, order
        self.identity = bool(len(order) == n_columns and (order == np.arange(n_columns)).all())
        self.width = 4 * n_columns - 1
        self._raw = bytearray()  # the staged lines of a batch (:meth:`staging`)
        self._view = memoryview(self._raw)  # slice assignment through a memoryview is the fast copy
        # reused between chunks (fresh big arrays cost page faults): scratch words, flags
        self._scratch: dict[str, np.ndarray] = {}

        self.broken: dict[int, tuple] = {}  # sample index -> its first broken call (record, problem)

    def staging(self, lines: int) -> memoryview:
        """The byte matrix that a batch's fixed-width GT texts are copied into (row k at k * (width + 1),
        each row ending in a tab) and that :meth:`fixed` reads. Reused between batches: a fresh big
        buffer per batch costs page faults."""
        row = self.width + 1
        if len(self._raw) < lines * row:
            self._view.release()
            self._raw = bytearray(lines * row)
            self._raw[row - 1 :: row] = b"\t" * lines  # every field ends in a tab
            self._view = memoryview(self._raw)
        return self._view

    def fixed(self, texts: list[str], rows: list[int], alleles, phase) -> list[int]:
        """Decode fixed-width lines (staged with :meth:`staging`) into rows of the buffers; return the
        rows that did not fit."""
        # one little-endian uint32 per field "a|b<TAB>": contiguous bit ops, 4x fewer elements than bytes
        words = np.frombuffer(self._raw, dtype="<u4", count=len(texts) * self.n).reshape(len(texts), self.n)
        if not self.identity:
            words = words[:, self.order]
        if self._biallelic(words, rows, alleles, phase):
            return []
        a0, sep, a1, tab = words & 0xFF, (words >> 8) & 0xFF, (words >> 16) & 0xFF, words >> 24
        ok = (tab == _TAB).all(axis=1) & ((sep == _BAR) | (sep == _SLASH)).all(axis=1)
        ok &= ((a0 - _ZERO <= 9) | (a0 == _DOT)).all(axis=1)  # unsigned: below '0' wraps around
        ok &= ((a1 - _ZERO <= 9) | (a1 == _DOT)).all(axis=1)
        idx = np.asarray(rows)[ok]
        a0, sep, a1 = a0[ok].astype(np.int16), sep[ok], a1[ok].astype(np.int16)
        alleles[idx, :, 0] = np.where(a0 == _DOT, MISSING, a0 - _ZERO)
        alleles[idx, :, 1] = np.where(a1 == _DOT, MISSING, a1 - _ZERO)
        phase[idx] = sep == _BAR
        return [r for r, good in zip(rows, ok) if not good]

    def _biallelic(self, words: np.ndarray, rows: list[int], alleles, phase) -> bool:
        """The usual chunk: every field 0 or 1, both phased ("a|b") or both unphased ("a/b").

        Decodes it in one pass and returns True; returns False (nothing written) for any other chunk.
        """
        if not words.size:
            return False
        sep = _BAR if (words[0, 0] >> 8) & 0xFF == _BAR else _SLASH
        tmp, shifted = (
            self._buffer("tmp", words.shape, np.uint32),
            self._buffer("shifted", words.shape, np.uint32),
        )
        np.bitwise_and(words, _ALLELE_BITS, out=tmp)
        if not bool(np.equal(tmp, _FIELD_0 | sep << 8, out=self._buffer("ok", words.shape, bool)).all()):
            return False
        n = len(rows)
        # the alleles are bit 0 of bytes 0 and 2 of each field; as a uint16 pair: byte 0 and byte 1
        np.bitwise_and(words, _ALLELE_LOW_BITS, out=tmp)
        np.right_shift(tmp, 8, out=shifted)
        tmp |= shifted
        dest = slice(rows[0], rows[0] + n) if rows[-1] - rows[0] == n - 1 else np.asarray(rows)
        if isinstance(dest, slice):
            np.copyto(alleles[dest].view("<u2")[..., 0], tmp, casting="unsafe")  # keeps the low 16 bits
        else:
            alleles[dest] = tmp.astype("<u2").view(np.int8).reshape(n, words.shape[1], 2)
        phase[dest] = sep == _BAR
        return True

    def _buffer(self, name: str, shape: tuple[int, int], dtype) -> np.ndarray:
        """A scratch array of this shape, reusing the memory of the previous chunk's."""
        size = shape[0] * shape[1]
        buf = self._scratch.get(name)
        if buf is None or buf.size < size:
            buf = self._scratch[name] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def line(self, text: str, fmt: str, rec_no: int, chrom: str, alleles_row, phase_row) -> None:
        """Decode one line of any shape (haploid, mixed ploidy, extra FORMAT keys).

        A broken call of some samples (malformed GT, allele index out of range, no column on a short line)
        is recorded in :attr:`broken` and read as missing; a record broken for every sample fails.
        """
        fields = text.split("\t")
        n_fields = len(fields)
        if n_fields > self.n:
            raise InputError(
                self.path,
                f"record {rec_no} on {chrom}: {n_fields} sample columns, the header has {self.n}",
            )
        keys = fmt.split(":")
        if "GT" not in keys:
            raise InputError(self.path, f"record {rec_no} on {chrom}: no GT field in FORMAT ({fmt!r})")
        gi = keys.index("GT")
        if len(keys) > 1:
            fields = [f.split(":")[gi] if gi < f.count(":") + 1 else "." for f in fields]
        fields += ["."] * (self.n - n_fields)  # a short line: the samples without a column are broken
        if not self.identity:
            fields = [fields[i] for i in self.order]
        if n_fields == self.n and max(map(len, fields)) <= 3:
            arr = np.array(fields, dtype="S3").view(np.uint8).reshape(len(fields), 3)
            c0, c1, c2 = arr[:, 0], arr[:, 1], arr[:, 2]
            haploid = c1 == 0
            digit0 = ((c0 >= _ZERO) & (c0 <= _NINE)) | (c0 == _DOT)
            digit2 = ((c2 >= _ZERO) & (c2 <= _NINE)) | (c2 == _DOT)
            good = digit0 & (haploid | (((c1 == _BAR) | (c1 == _SLASH)) & digit2))
            if good.all():
                alleles_row[:, 0] = np.where(c0 == _DOT, MISSING, c0.astype(np.int16) - _ZERO)
                alleles_row[:, 1] = np.where(
                    haploid, ABSENT, np.where(c2 == _DOT, MISSING, c2.astype(np.int16) - _ZERO)
                )
                phase_row[:] = haploid | (c1 == _BAR)
                return
        problems = {}
        if n_fields < self.n:
            order = self.order if not self.identity else np.arange(self.n)
            short = f"no column for this sample ({n_fields} sample columns, the header has {self.n})"
            problems = {int(j): short for j in np.flatnonzero(order >= n_fields)}
        problems.update(_decode_each(fields, problems, alleles_row, phase_row))
        if problems:
            self._flag(problems, rec_no, chrom, n_fields, alleles_row, phase_row)

    def _flag(self, problems: dict, rec_no: int, chrom: str, n_fields: int, alleles_row, phase_row) -> None:
        """Record each sample's first broken call (the record number, never its genotype); a record broken
        for every requested sample is a broken record, and fails."""
        if len(problems) == len(alleles_row):
            j, problem = next(iter(sorted(problems.items())))
            where = f"{n_fields} sample columns, the header has {self.n}"
            raise InputError(
                self.path,
                f"record {rec_no} on {chrom}: "
                + (where if problem.startswith("no column") else f"{problem} in sample column {j + 1}"),
            )
        for j, problem in problems.items():
            alleles_row[j] = MISSING
            phase_row[j] = 1
            note_broken(self.broken, j, rec_no, f"{chrom}: {problem}")


def _decode_each(fields: list[str], skip: dict, alleles_row, phase_row) -> dict[int, str]:
    """Decode calls one by one (multi-digit alleles, polyploid or malformed calls); return the broken ones."""
    problems = {}
    for j, gt in enumerate(fields):
        if j in skip:
            continue
        parts = re.split(r"[|/]", gt)
        try:
            codes = [MISSING if p == "." else int(p) for p in parts]
        except ValueError:
            problems[j] = "malformed GT"
            continue
        if any(c > 127 or c < MISSING for c in codes) or not codes:
            problems[j] = "GT allele index out of range"
            continue
        alleles_row[j, 0] = codes[0]
        alleles_row[j, 1] = codes[1] if len(codes) > 1 else ABSENT
        phase_row[j] = len(codes) == 1 or "|" in gt
    return problems


def _read_text_batch(
    lines,
    options: ParseOptions,
    counts,
    state: dict,
    chrom: str,
    alleles: np.ndarray,
    phase: np.ndarray,
    text: TextGenotypes,
) -> list[tuple]:
    """Like :func:`_read_batch`, for VCF text lines (pysam's tabix fetch)."""
    meta: list[tuple] = []
    cap = len(alleles)
    fixed_texts: list[str] = []
    fixed_rows: list[int] = []
    width = text.width
    pass_only = options.pass_only
    first = rec_no = state["rec_no"]
    last_pos = state["last_pos"]
    snp_alt, bases = _SNP_ALT, _BASES
    row = width + 1
    staged = text.staging(cap)  # the fixed-width GT texts, one row each, copied in place
    offset = n = 0  # n: records kept (len(meta))
    try:
        for line in lines:  # the hot loop: locals only, one split per line
            rec_no += 1
            f = line.split("\t", 9)
            try:
                pos = int(f[1])
                gt = f[9]
            except (ValueError, IndexError):  # too few columns, or POS is not a number: raises
                _split_record(line, text, rec_no, chrom)
            if pos < last_pos:
                state["rec_no"], state["last_pos"] = rec_no, last_pos
                _check_sorted(text.path, chrom, state, pos, counts)  # raises
            last_pos = pos
            if pass_only and f[6] not in ("PASS", "."):
                counts["filtered"] += 1
                continue
            ref = f[3]
            kept = snp_alt.get(f[4]) if ref in bases else None  # the common case: one SNP, counted as none
            if kept is not None:
                alts = kept
            else:
                alts = [] if f[4] == "." else f[4].split(",")
                kept = _kept_alts(ref, alts, options, counts)
                if kept is None:
                    continue
            if len(gt) != width or f[8] != "GT":  # not the fast path, or a CRLF line
                if gt.endswith("\r"):  # CRLF files: pysam strips the \n only
                    gt = gt[:-1]
                if f[8] != "GT" and "GT" not in f[8].split(":"):  # a record without calls ("." or "PL")
                    counts["skipped_no_gt"] += 1
                    continue
                if f[8] != "GT" or len(gt) != width:
                    text.line(gt.rstrip("\n"), f[8], rec_no, chrom, alleles[n], phase[n])
                    meta.append((pos, f[0], ref, kept, len(alts), rec_no))
                    n += 1
                    if n == cap:
                        break
                    continue
            staged[offset : offset + width] = gt.encode("ascii", "replace")
            offset += row
            fixed_texts.append(gt)
            fixed_rows.append(n)
            meta.append((pos, f[0], ref, kept, len(alts), rec_no))
            n += 1
            if n == cap:
                break
    finally:
        state["rec_no"], state["last_pos"] = rec_no, last_pos
        counts["records"] += rec_no - first  # what _check_sorted counts on the record path
    if fixed_rows:
        for i in text.fixed(fixed_texts, fixed_rows, alleles, phase):
            text.line(fixed_texts[fixed_rows.index(i)], "GT", meta[i][5], chrom, alleles[i], phase[i])
    return meta


_BASES = frozenset("ACGTacgt")
_SNP_ALT = {a: ((1, a),) for a in _BASES}  # what _kept_alts keeps of a one-base REF with this one ALT


def _split_record(line: str, text: TextGenotypes, rec_no: int, chrom: str) -> tuple[list[str], int]:
    """A VCF text line's first nine columns and the sample columns (one string), and its POS."""
    if line.endswith("\r"):  # CRLF files: pysam strips the \n only
        line = line[:-1]
    f = line.split("\t", 9)
    if len(f) < 10:
        raise InputError(text.path, f"record {rec_no} on {chrom}: {len(f)} columns, expected {9 + text.n}")
    try:
        return f, int(f[1])
    except ValueError:
        raise InputError(text.path, f"record {rec_no} on {chrom}: POS is not a number") from None


def _to_chunk(meta: list[tuple], alleles: np.ndarray, phase: np.ndarray, counts) -> Chunk:
    """A chunk from filled buffers: phasing, split multi-allelic sites, variant keys (vectorized)."""
    if alleles.min(initial=0) >= 0:  # every call diploid and called: phased when every phase flag is set
        phased = bool(phase.all())
    else:
        full_diploid = (alleles[..., 0] >= 0) & (alleles[..., 1] >= 0)
        phased = not bool(((phase == 0) & full_diploid).any())
    positions = np.fromiter((m[0] for m in meta), dtype=np.int64, count=len(meta))
    if any(m[4] > 1 for m in meta):  # split multi-allelic sites; symbolic alleles count as non-ALT
        n_kept = np.fromiter((len(m[3]) for m in meta), dtype=np.intp, count=len(meta))
        rows = np.repeat(np.arange(len(meta)), n_kept)
        alt_index = np.fromiter((k for m in meta for k, _ in m[3]), dtype=np.int8, count=len(rows))
        a = alleles[rows]
        haplotypes = np.where(a < 0, a, a == alt_index[:, None, None]).astype(np.int8)
        positions = positions[rows]
    else:
        haplotypes = alleles.copy()  # the buffers are reused for the next chunk
    names = {c: harmonize(c) for c in {m[1] for m in meta}}
    if len(positions) == len(meta):  # one ALT kept per record
        keys = [f"{names[c]}:{pos}:{ref.upper()}:{kept[0][1].upper()}" for pos, c, ref, kept, *_ in meta]
    else:
        keys = [
            f"{names[c]}:{pos}:{ref.upper()}:{alt.upper()}"
            for pos, c, ref, kept, *_ in meta
            for _, alt in kept
        ]
    counts["snps"] += len(keys)
    return Chunk(positions, np.array(keys, dtype=str), haplotypes, phased)


def summarize_calls(chunk: Chunk, counts: collections.Counter) -> np.ndarray:
    """Count call categories of one chunk for the log; return each sample's ploidy in it."""
    h = chunk.haplotypes
    if h.min(initial=0) >= 0:  # no haploid and no missing call: every sample diploid
        for name in ("haploid_calls", "missing_calls", "mixed_ploidy_sites"):
            counts[name] += 0
        if not chunk.phased:
            counts["unphased_chunks"] += 1
        return np.full(h.shape[1], 2 if len(h) else 0, dtype=np.int8)
    haploid = h[:, :, 1] == ABSENT
    missing = (h[..., 0] == MISSING) | (h[..., 1] == MISSING)
    n_haploid = np.count_nonzero(haploid, axis=0)
    counts["haploid_calls"] += int(n_haploid.sum())
    counts["missing_calls"] += int(missing.sum())
    counts["mixed_ploidy_sites"] += int((haploid.any(axis=1) & ~haploid.all(axis=1)).sum())
    if not chunk.phased:
        counts["unphased_chunks"] += 1
    n = len(h)
    # diploid where any call has two copies; haploid where all are haploid; 0 if never called
    called = len(h) - np.count_nonzero(missing, axis=0)
    return np.where(called == 0, 0, np.where(n_haploid < n, 2, 1)).astype(np.int8)


# ----------------------------------------------------------------------------- the intermediate file


def _write_array(zf: zipfile.ZipFile, name: str, arr: np.ndarray) -> None:
    write_npz_member(zf, name, arr, level=1)  # fixed timestamps: a rerun writes the same bytes


def _write_haplotypes(zf: zipfile.ZipFile, prefix: str, h: np.ndarray) -> None:
    """Haplotypes of only 0 and 1 (no missing or haploid call) as bits, 8x smaller; else as int8."""
    if h.size and not (h.view(np.uint8) > 1).any():
        _write_array(zf, prefix + "haplotype_bits", np.packbits(h.reshape(-1).view(np.uint8)))
    else:
        _write_array(zf, prefix + "haplotypes", h)


def _read_haplotypes(npz, files: set[str], prefix: str, n_sites: int, n_samples: int) -> np.ndarray:
    """The int8 [sites, samples, 2] haplotypes that :func:`_write_haplotypes` wrote."""
    if prefix + "haplotype_bits" in files:
        bits = np.unpackbits(npz[prefix + "haplotype_bits"], count=n_sites * n_samples * 2)
        return bits.view(np.int8).reshape(n_sites, n_samples, 2)
    return npz[prefix + "haplotypes"]


def write_genotypes(
    out: str | Path,
    chrom: str,
    samples: list[str],
    chunks: Iterator[Chunk],
    counts,
    broken: dict | None = None,
) -> dict:
    """Stream chunks into ``out`` (an .npz readable with :class:`GenotypeFile`), atomically.

    ``broken`` (sample index -> problem, filled while ``chunks`` are read, see :func:`read_chromosome`) is
    written as a ``broken`` array (one problem per sample, "" for a sound column) when it names any sample.
    """
    ploidy = np.zeros(len(samples), dtype=np.int8)
    phased = True
    n_variants = 0
    n_chunks = 0
    with atomic_path(out, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for i, chunk in enumerate(chunks):
                ploidy = np.maximum(ploidy, summarize_calls(chunk, counts))
                phased &= chunk.phased
                _write_array(zf, f"chunk{i:05d}_positions", chunk.positions)
                _write_array(zf, f"chunk{i:05d}_variant_keys", chunk.variant_keys)
                _write_haplotypes(zf, f"chunk{i:05d}_", chunk.haplotypes)
                n_variants += len(chunk.positions)
                n_chunks += 1
            meta = {
                "chrom": harmonize(chrom),
                "n_variants": n_variants,
                "n_chunks": n_chunks,
                "phased": bool(phased and n_variants > 0),
                "counts": dict(counts),
            }
            _write_array(zf, "samples", np.array(samples, dtype=str))
            _write_array(zf, "ploidy", ploidy)
            if broken:
                _write_array(
                    zf, "broken", np.array([broken.get(j, "") for j in range(len(samples))], dtype=str)
                )
            _write_array(zf, "meta", np.array(json.dumps(meta)))
    return meta


class GenotypeFile:
    """Reader of the genotype intermediate: metadata up front, chunks on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            self.samples = [str(s) for s in self._npz["samples"]]
            self.ploidy = self._npz["ploidy"]
            self.meta = json.loads(str(self._npz["meta"]))
            # each sample's broken-column problem ("" when sound); files without the array have none
            self.broken = (
                [str(b) for b in self._npz["broken"]] if "broken" in self._npz else [""] * len(self.samples)
            )
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
            raise InputError(self.path, f"not a genotype file of parse_vcf ({err})") from None
        self.chrom = self.meta["chrom"]
        self.n_variants = int(self.meta["n_variants"])
        self.phased = bool(self.meta["phased"])

    def chunks(self) -> Iterator[Chunk]:
        files = set(self._npz.files)
        for i in range(int(self.meta["n_chunks"])):
            p = f"chunk{i:05d}_"
            positions = self._npz[p + "positions"]
            yield Chunk(
                positions,
                self._npz[p + "variant_keys"],
                _read_haplotypes(self._npz, files, p, len(positions), len(self.samples)),
                self.phased,
            )

    def sound_chunks(self) -> Iterator[Chunk]:
        """:meth:`chunks` with every call of a sample whose column is broken read as missing: latents and
        allele frequencies are made from these, so a broken sample changes no other sample's latents."""
        mask = np.array([bool(b) for b in self.broken], dtype=bool)
        for chunk in self.chunks():
            if mask.any():
                hap = np.where(mask[None, :, None], np.int8(MISSING), chunk.haplotypes).astype(np.int8)
                chunk = Chunk(chunk.positions, chunk.variant_keys, hap, chunk.phased)
            yield chunk

    def close(self) -> None:
        self._npz.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
