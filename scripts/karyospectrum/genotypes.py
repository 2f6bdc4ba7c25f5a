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
import gzip
import json
import logging
import os
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .cli import InputError
from .io import atomic_path

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


def _bgzf_blocks(path: Path) -> Iterator[tuple[int, int]]:
    """Yield (offset, size) of each BGZF block by walking the block headers."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset < size:
            fh.seek(offset)
            head = fh.read(18)
            if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
                raise InputError(path, f"corrupt BGZF block at byte {offset}; recompress it with `bgzip`")
            block = struct.unpack("<H", head[16:18])[0] + 1
            if offset + block > size:
                raise InputError(path, "is truncated (the last BGZF block is cut short); re-create it with `bgzip`")
            yield offset, block
            offset += block


def check_compression(path: Path) -> str:
    """Return 'vcf' or 'bcf' for a whole BGZF file; refuse plain, gzip and truncated files."""
    if not path.exists():
        raise InputError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "is empty")
    with open(path, "rb") as fh:
        magic = fh.read(18)
    if magic[:2] != b"\x1f\x8b":
        if magic.startswith(b"##fileformat") or magic.startswith(b"#CHROM"):
            raise InputError(path, f"is not compressed; run `bgzip {path.name} && tabix -p vcf {path.name}.gz`")
        if magic.startswith(b"BCF"):
            raise InputError(path, "is an uncompressed BCF; run `bcftools view -Ob -o out.bcf` and index it")
        raise InputError(path, "is not a VCF/BCF (no gzip/BGZF signature)")
    if len(magic) < 18 or magic[3] != 4 or magic[12:14] != b"BC":
        raise InputError(
            path, f"is gzip- but not BGZF-compressed; run `gzip -dc {path.name} | bgzip > fixed.vcf.gz` and index it"
        )
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
        if fh.read() != BGZF_EOF:
            raise InputError(path, "is truncated (no BGZF end-of-file block); re-create it with `bgzip`")
    with gzip.open(path, "rb") as fh:
        start = fh.read(5)
    return "bcf" if start.startswith(b"BCF") else "vcf"


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


def check_header(path: Path) -> VcfHeader:
    """Validate the text header and the first record's shape; return the sample names."""
    n = 0
    contigs: list[str] = []
    with gzip.open(path, "rt", errors="replace") as fh:
        try:
            for line in fh:
                n += 1
                if n == 1 and not line.startswith("##fileformat=VCF"):
                    raise InputError(path, "line 1: missing VCF header (no ##fileformat=VCF line)")
                if line.startswith("##"):
                    if line.startswith("##contig=<ID="):
                        contigs.append(line[13:].split(",", 1)[0].rstrip(">\n"))
                    continue
                if not line.startswith("#CHROM"):
                    raise InputError(path, f"line {n}: the header has no #CHROM line")
                cols = line.rstrip("\n").split("\t")
                if cols[:8] != ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]:
                    raise InputError(path, f"line {n}: malformed #CHROM line (columns must be tab-separated)")
                samples = cols[9:]
                if len(cols) < 9 or not samples:
                    raise InputError(path, f"line {n}: no sample columns (a sites-only VCF has no genotypes)")
                if len(set(samples)) != len(samples):
                    raise InputError(path, f"line {n}: duplicate sample names")
                first = fh.readline()
                if not first:
                    raise InputError(path, "has a header but no variant records")
                if not first.strip():
                    raise InputError(path, f"line {n + 1}: blank line where the first record should be")
                fields = first.rstrip("\n").split("\t")
                if len(fields) != len(cols):
                    raise InputError(path, f"line {n + 1}: {len(fields)} columns, the header has {len(cols)}")
                if "GT" not in fields[8].split(":"):
                    raise InputError(path, f"line {n + 1}: no GT field in FORMAT ({fields[8]!r}); genotypes are needed")
                return VcfHeader(samples, contigs)
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(path, f"cannot be decompressed ({err}); re-create it with `bgzip`") from None
    raise InputError(path, "missing VCF header (no #CHROM line)")


def index_path(path: Path) -> Path | None:
    for suffix in (".tbi", ".csi"):
        idx = path.with_name(path.name + suffix)
        if idx.exists():
            return idx
    return None


def ensure_index(path: Path, fmt: str) -> Path | None:
    """Return the index, creating it atomically beside a BGZF file when missing.

    Returns None when the folder is read-only (the caller then streams the file).
    """
    import pysam

    idx = index_path(path)
    if idx is not None:
        if idx.stat().st_mtime < path.stat().st_mtime - 1:
            log.warning("index %s is older than the VCF; re-index with `tabix -f -p vcf`", idx.name)
        return idx
    if fmt == "bcf":  # pysam cannot build a BCF index; stream the file instead
        log.warning("%s has no index; reading the whole file (run `bcftools index` for speed)", path.name)
        return None
    target = path.with_name(path.name + ".tbi")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=path.parent)
        os.close(fd)
    except OSError:
        log.warning("no index and %s is read-only; reading the whole file", path.parent)
        return None
    try:
        with captured_stderr() as err:
            try:
                pysam.tabix_index(str(path), preset="vcf", index=tmp, force=True)
            except (OSError, ValueError) as exc:
                err.append(str(exc))
        msg = " ".join(err)
        if not Path(tmp).exists() or Path(tmp).stat().st_size == 0 or "failed" in msg or "nsorted" in msg:
            if "nsorted" in msg:
                raise InputError(path, "records are not sorted; run `bcftools sort -Oz -o sorted.vcf.gz` and index it")
            raise InputError(path, f"cannot be indexed ({msg.strip().splitlines()[0] if msg.strip() else 'htslib error'})")
        os.replace(tmp, target)
        log.info("created the missing index %s", target.name)
        return target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_vcf(path: str | Path) -> tuple[str, VcfHeader, Path | None]:
    """All checks before any record is trusted: compression, header, trailing blank line, index."""
    path = Path(path)
    fmt = check_compression(path)
    header = None
    if fmt == "vcf":
        header = check_header(path)
        tail = _last_text(path)
        if tail.endswith(b"\n\n") or tail.endswith(b"\n\r\n") or b"\n\n" in tail:
            raise InputError(path, "ends with a blank line; remove it with `bgzip -dc | grep -v '^$' | bgzip`")
    idx = ensure_index(path, fmt)
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
    has_gt = any(h.info().get("ID") == "GT" for h in vcf.header_iter() if h.type == "FORMAT")
    if not has_gt:
        raise InputError(path, "no GT field declared in FORMAT; genotypes are needed")
    return VcfHeader(list(vcf.samples), list(vcf.seqnames))


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
) -> Iterator[Chunk]:
    """Yield chunks of one chromosome for ``samples`` (VCF column names, in this order).

    ``counts`` collects per-category record and call counts for the log.
    """
    path = Path(path)
    options = options or ParseOptions()
    counts = counts if counts is not None else collections.Counter()
    fmt, header, idx = check_vcf(path)
    missing = [s for s in samples if s not in header.samples]
    if missing:
        raise InputError(
            path, f"sample {missing[0]!r} of the sheet is not in the VCF ({len(missing)} missing in all)"
        )
    want = harmonize(chrom)
    n_s = len(samples)
    # bound a chunk by genotype cells, so memory does not grow with the cohort either
    cap = max(64, min(options.chunk_size, CHUNK_CELLS // max(1, len(header.samples))))
    alleles = np.empty((cap, n_s, 2), dtype=np.int8)
    phase = np.empty((cap, n_s), dtype=np.int8)
    state = {"rec_no": 0, "last_pos": 0}
    htslib: list[str] = []
    if fmt == "vcf" and idx is not None:
        # indexed text VCF: pysam hands over the lines and numpy decodes the genotypes
        import pysam

        with captured_stderr() as htslib:
            tbx = pysam.TabixFile(str(path))
        contig = find_contig(chrom, list(tbx.contigs))
        column = {s: i for i, s in enumerate(header.samples)}
        order = np.array([column[s] for s in samples], dtype=np.intp)
        text = TextGenotypes(path, len(header.samples), order)
        lines = iter(tbx.fetch(contig)) if contig is not None else None

        def read(label):
            return _read_text_batch(lines, options, counts, state, label, alleles, phase, text)

        reorder = None
    else:
        import cyvcf2

        with captured_stderr() as htslib:
            vcf = cyvcf2.VCF(str(path), samples=list(samples), gts012=False, lazy=True, threads=1)
            seqnames = list(vcf.seqnames) if idx is not None else header.contigs
        contig = find_contig(chrom, seqnames) if seqnames else None
        # cyvcf2 keeps the VCF's column order; map to the requested order
        order = np.array([list(vcf.samples).index(s) for s in samples], dtype=np.intp)
        reorder = None if (order == np.arange(n_s)).all() else order
        records = iter(vcf(contig) if idx is not None else (r for r in vcf if harmonize(r.CHROM) == want))

        def read(label):
            return _read_batch(records, options, counts, state, path, label, alleles, phase)

    if idx is not None and contig is None:
        log.warning("chromosome %s is not in %s; writing an empty genotype file", chrom, path.name)
        counts["chromosome_absent"] = 1
        return
    while True:
        # read one chunk with htslib's stderr captured; process it outside
        with captured_stderr() as messages:
            meta = read(contig or chrom)
        htslib += messages
        if not meta:
            break
        n = len(meta)
        a, ph = (alleles[:n], phase[:n]) if reorder is None else (alleles[:n, reorder], phase[:n, reorder])
        yield _to_chunk(meta, a, ph, counts)
    if htslib:
        counts["htslib_messages"] += len(htslib)
        log.warning("htslib printed %d message(s) while reading %s", len(htslib), path.name)


CHUNK_CELLS = 8_000_000  # records x samples per chunk: 16 MB of int8 haplotypes


def _read_batch(records, options: ParseOptions, counts, state: dict, path: Path, chrom: str,
                alleles: np.ndarray, phase: np.ndarray) -> list[tuple]:
    """Fill ``alleles``/``phase`` with up to their length of kept records; return their (pos, chrom, ref, alts)."""
    meta = []
    cap = len(alleles)
    while True:
        try:
            v = next(records)
        except StopIteration:
            break
        except Exception as err:  # noqa: BLE001 - cyvcf2 raises a bare Exception on corrupt records
            raise InputError(path, f"record {state['rec_no'] + 1} on {chrom} cannot be read ({err})") from None
        state["rec_no"] += 1
        pos = v.POS
        if pos < state["last_pos"]:
            raise InputError(
                path,
                f"records are not sorted on {chrom} (record {state['rec_no']}); "
                "run `bcftools sort -Oz -o sorted.vcf.gz` and index it",
            )
        state["last_pos"] = pos
        counts["records"] += 1
        if options.pass_only and v.FILTER is not None:
            counts["filtered"] += 1
            continue
        ref, alts = v.REF, v.ALT
        kept = _kept_alts(ref, alts, options, counts)
        if kept is None:
            continue
        try:
            gt = v.genotype.array()
        except Exception:  # noqa: BLE001 - cyvcf2 raises a bare Exception
            raise InputError(path, f"record {state['rec_no']} on {chrom}: no readable GT") from None
        i = len(meta)
        width = gt.shape[1]
        if width == 3:
            alleles[i] = gt[:, :2]
        elif width == 2:  # all haploid: one allele column plus the phase flag
            alleles[i, :, 0] = gt[:, 0]
            alleles[i, :, 1] = ABSENT
        else:  # polyploid: keep the first two copies, and count it
            counts["polyploid_calls_truncated"] += int((gt[:, 2:-1] != ABSENT).any(axis=1).sum())
            alleles[i] = gt[:, :2]
        phase[i] = gt[:, -1]
        meta.append((pos, v.CHROM, ref, kept, len(alts)))
        if len(meta) == cap:
            break
    return meta


_DOT, _ZERO, _NINE, _BAR, _SLASH, _TAB = (ord(c) for c in ".09|/\t")


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

    def fixed(self, texts: list[str], rows: list[int], alleles, phase) -> list[int]:
        """Decode fixed-width lines into rows of the buffers; return the rows that did not fit."""
        raw = ("\t".join(texts) + "\t").encode("ascii", "replace")
        # one little-endian uint32 per field "a|b<TAB>": contiguous bit ops, 4x fewer elements than bytes
        words = np.frombuffer(raw, dtype="<u4").reshape(len(texts), self.n)
        if not self.identity:
            words = words[:, self.order]
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

    def line(self, text: str, fmt: str, rec_no: int, chrom: str, alleles_row, phase_row) -> None:
        """Decode one line of any shape (haploid, mixed ploidy, extra FORMAT keys)."""
        fields = text.split("\t")
        if len(fields) != self.n:
            raise InputError(self.path, f"record {rec_no} on {chrom}: {len(fields)} sample columns, the header has {self.n}")
        keys = fmt.split(":")
        if "GT" not in keys:
            raise InputError(self.path, f"record {rec_no} on {chrom}: no GT field in FORMAT ({fmt!r})")
        gi = keys.index("GT")
        if len(keys) > 1:
            fields = [f.split(":")[gi] if gi < f.count(":") + 1 else "." for f in fields]
        if not self.identity:
            fields = [fields[i] for i in self.order]
        if max(map(len, fields)) <= 3:
            arr = np.array(fields, dtype="S3").view(np.uint8).reshape(len(fields), 3)
            c0, c1, c2 = arr[:, 0], arr[:, 1], arr[:, 2]
            haploid = c1 == 0
            digit0 = ((c0 >= _ZERO) & (c0 <= _NINE)) | (c0 == _DOT)
            digit2 = ((c2 >= _ZERO) & (c2 <= _NINE)) | (c2 == _DOT)
            good = digit0 & (haploid | (((c1 == _BAR) | (c1 == _SLASH)) & digit2))
            if good.all():
                alleles_row[:, 0] = np.where(c0 == _DOT, MISSING, c0.astype(np.int16) - _ZERO)
                alleles_row[:, 1] = np.where(haploid, ABSENT, np.where(c2 == _DOT, MISSING, c2.astype(np.int16) - _ZERO))
                phase_row[:] = haploid | (c1 == _BAR)
                return
        for j, gt in enumerate(fields):  # rare: multi-digit alleles, polyploid or malformed calls
            parts = re.split(r"[|/]", gt)
            try:
                codes = [MISSING if p == "." else int(p) for p in parts]
            except ValueError:
                raise InputError(self.path, f"record {rec_no} on {chrom}: malformed GT in sample column {j + 1}") from None
            if any(c > 127 for c in codes) or not codes:
                raise InputError(self.path, f"record {rec_no} on {chrom}: GT allele index out of range in sample column {j + 1}")
            alleles_row[j, 0] = codes[0]
            alleles_row[j, 1] = codes[1] if len(codes) > 1 else ABSENT
            phase_row[j] = len(codes) == 1 or "|" in gt


def _read_text_batch(lines, options: ParseOptions, counts, state: dict, chrom: str,
                     alleles: np.ndarray, phase: np.ndarray, text: TextGenotypes) -> list[tuple]:
    """Like :func:`_read_batch`, for VCF text lines (pysam's tabix fetch)."""
    meta: list[tuple] = []
    cap = len(alleles)
    fixed_texts: list[str] = []
    fixed_rows: list[int] = []
    for line in lines:
        state["rec_no"] += 1
        f = line.split("\t", 9)
        if len(f) < 10:
            raise InputError(text.path, f"record {state['rec_no']} on {chrom}: {len(f)} columns, expected {9 + text.n}")
        try:
            pos = int(f[1])
        except ValueError:
            raise InputError(text.path, f"record {state['rec_no']} on {chrom}: POS is not a number") from None
        if pos < state["last_pos"]:
            raise InputError(
                text.path,
                f"records are not sorted on {chrom} (record {state['rec_no']}); "
                "run `bcftools sort -Oz -o sorted.vcf.gz` and index it",
            )
        state["last_pos"] = pos
        counts["records"] += 1
        if options.pass_only and f[6] not in ("PASS", "."):
            counts["filtered"] += 1
            continue
        ref, alts = f[3], ([] if f[4] == "." else f[4].split(","))
        kept = _kept_alts(ref, alts, options, counts)
        if kept is None:
            continue
        i = len(meta)
        if f[8] == "GT" and len(f[9]) == text.width:
            fixed_texts.append(f[9])
            fixed_rows.append(i)
        else:
            text.line(f[9].rstrip("\n"), f[8], state["rec_no"], chrom, alleles[i], phase[i])
        meta.append((pos, f[0], ref, kept, len(alts)))
        if len(meta) == cap:
            break
    if fixed_rows:
        for i in text.fixed(fixed_texts, fixed_rows, alleles, phase):
            text.line(fixed_texts[fixed_rows.index(i)], "GT", state["rec_no"], chrom, alleles[i], phase[i])
    return meta


def _to_chunk(meta: list[tuple], alleles: np.ndarray, phase: np.ndarray, counts) -> Chunk:
    """A chunk from filled buffers: phasing, split multi-allelic sites, variant keys (vectorized)."""
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
    keys = [f"{harmonize(c)}:{pos}:{ref.upper()}:{alt.upper()}" for pos, c, ref, kept, _ in meta for _, alt in kept]
    counts["snps"] += len(keys)
    return Chunk(positions, np.array(keys, dtype=str), haplotypes, phased)


def summarize_calls(chunk: Chunk, counts: collections.Counter) -> np.ndarray:
    """Count call categories of one chunk for the log; return each sample's ploidy in it."""
    h = chunk.haplotypes
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
    with zf.open(name + ".npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array(fh, np.asanyarray(arr), allow_pickle=False)


def write_genotypes(out: str | Path, chrom: str, samples: list[str], chunks: Iterator[Chunk], counts) -> dict:
    """Stream chunks into ``out`` (an .npz readable with :class:`GenotypeFile`), atomically."""
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
                _write_array(zf, f"chunk{i:05d}_haplotypes", chunk.haplotypes)
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
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
            raise InputError(self.path, f"not a genotype file of parse_vcf ({err})") from None
        self.chrom = self.meta["chrom"]
        self.n_variants = int(self.meta["n_variants"])
        self.phased = bool(self.meta["phased"])

    def chunks(self) -> Iterator[Chunk]:
        for i in range(int(self.meta["n_chunks"])):
            p = f"chunk{i:05d}_"
            yield Chunk(self._npz[p + "positions"], self._npz[p + "variant_keys"], self._npz[p + "haplotypes"], self.phased)

    def close(self) -> None:
        self._npz.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_sheet_samples(sheet: str | Path, cohort: str) -> tuple[list[str], list[str]]:
    """(sample ids, VCF column names) of one cohort, in sheet order."""
    import pandas as pd

    try:
        df = pd.read_csv(sheet, sep="\t", dtype=str, comment="#").fillna("")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(sheet, f"cannot read the sample sheet ({err})") from None
    for col in ("sample", "cohort", "vcf"):
        if col not in df.columns:
            raise InputError(sheet, f"the sample sheet has no {col!r} column")
    rows = df[df["cohort"] == cohort]
    if rows.empty:
        raise InputError(sheet, f"cohort {cohort!r} has no samples")
    vcf_names = rows["vcf_sample"] if "vcf_sample" in rows.columns else rows["sample"]
    vcf_names = [v or s for v, s in zip(vcf_names, rows["sample"])]
    return list(rows["sample"]), vcf_names

