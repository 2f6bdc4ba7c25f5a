"""Keyed latent hashing: a random-projection sketch of the genetic relationship matrix.

Each site's alleles are centred by the allele frequency ``p`` and weighted by
``(2p(1-p))**(alpha/2)``; the site projects onto a pseudo-random Gaussian vector seeded by a
keyed hash (SipHash-2-4) of its variant key, whose splitmix64 words index a table of normal
quantiles (no transcendental function per site); the sum over the chromosome's sites is scaled
so that the generator sees its prior, N(0, I). The cosine of two latents then estimates the two
genomes' relatedness (about 0.5 for parent-child and full siblings, about 0 for strangers).

Exactness: projections are quantized to multiples of 2**-8 and summed in float32 blocks small
enough that every partial sum is representable (then in float64), so each sum is exact and the
result does not depend on BLAS threads, summation order, chunking or sample order.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .genotypes import ABSENT, GenotypeFile
from .io import atomic_path
from .keys import DEFAULT_KEY, key_id
from .latentfile import Latents, load_latents  # noqa: F401 - the latents file format's owner

log = logging.getLogger("karyospectrum.latents")

QUANTUM = 2.0**-8
BLOCK = 2048  # sites per matmul block at most
SITE_BLOCK = 2048  # sites projected at a time (their projections stay small)
PROJECTION_BLOCK = 1 << 17  # splitmix64 words per projection block (1 MB uint64 arrays: stay in cache)
EXACT_F32 = 2.0**15  # |partial sums| below this stay exact in float32 on the 2**-8 grid
CENTERINGS = ("cohort", "af_table", "none")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def variant_seeds(variant_keys, key: str) -> np.ndarray:
    """uint64 seed per variant key: SipHash-2-4 keyed by the key, so another key gives unrelated
    projections. Vectorized over the sites; the same numbers as the reference SipHash of each key's
    UTF-8 bytes (tests check the paper's vector)."""
    k = hashlib.blake2b(key.encode(), digest_size=16, person=b"karyo-key").digest()
    return siphash24(np.frombuffer(k, dtype="<u8"), _key_bytes(variant_keys))


def _key_bytes(variant_keys) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [n, width] zero-padded bytes, int lengths) of the keys' UTF-8 encodings."""
    keys = np.asarray(variant_keys)
    if keys.dtype.kind != "U":
        keys = keys.astype(str)
    try:
        raw = keys.astype("S")  # ASCII keys (every VCF key): one C-level pass
    except UnicodeEncodeError:
        raw = np.array([str(v).encode() for v in keys.tolist()], dtype="S")
    n, width = len(raw), max(raw.dtype.itemsize, 1)
    mat = np.zeros((n, width), dtype=np.uint8)
    if n and raw.dtype.itemsize:
        mat[:] = raw.view(np.uint8).reshape(n, width)
    lengths = np.count_nonzero(mat, axis=1)  # keys hold no NUL byte: the padding is what is zero
    return mat, lengths


_SIP_INIT = np.array(
    [0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573], np.uint64
)


def siphash24(k: np.ndarray, keys: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """SipHash-2-4 (Aumasson & Bernstein 2012) with the 128-bit key ``k`` (two uint64) of each
    message, given as (zero-padded uint8 rows, lengths): uint64 per message."""
    mat, lengths = keys
    n = len(lengths)
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    n_blocks = lengths // 8 + 1  # the last block holds the tail bytes and the length
    width = 8 * int(n_blocks.max())
    msg = np.zeros((n, width), dtype=np.uint8)
    cols = min(mat.shape[1], width)  # beyond a key's length its row is zero padding
    msg[:, :cols] = mat[:, :cols]
    msg[np.arange(n), 8 * (n_blocks - 1) + 7] = (lengths & 0xFF).astype(np.uint8)
    words = msg.view("<u8").astype(np.uint64, copy=False)
    for nb in np.unique(n_blocks):
        rows = np.flatnonzero(n_blocks == nb)
        v = [np.full(len(rows), c ^ k[i % 2], dtype=np.uint64) for i, c in enumerate(_SIP_INIT)]
        for b in range(int(nb)):
            m = words[rows, b]
            v[3] ^= m
            _sip_rounds(v, 2)
            v[0] ^= m
        v[2] ^= np.uint64(0xFF)
        _sip_rounds(v, 4)
        out[rows] = v[0] ^ v[1] ^ v[2] ^ v[3]
    return out


def _rotl(x: np.ndarray, b: int) -> np.ndarray:
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


def _sip_rounds(v: list[np.ndarray], rounds: int) -> None:
    v0, v1, v2, v3 = v
    with np.errstate(over="ignore"):
        for _ in range(rounds):
            v0 += v1
            v1 = _rotl(v1, 13)
            v1 ^= v0
            v0 = _rotl(v0, 32)
            v2 += v3
            v3 = _rotl(v3, 16)
            v3 ^= v2
            v0 += v3
            v3 = _rotl(v3, 21)
            v3 ^= v0
            v2 += v1
            v1 = _rotl(v1, 17)
            v1 ^= v2
            v2 = _rotl(v2, 32)
    v[:] = [v0, v1, v2, v3]


@functools.cache
def normal_table() -> np.ndarray:
    """float32 [65536]: the standard normal's quantiles at the midpoints (i + 1/2) / 65536.

    A uniform 16-bit index into it is a standard normal draw to 1/65536 in probability
    (|values| <= 4.32; variance 0.9998), exactly symmetric.
    """
    nd = statistics.NormalDist()
    half = np.array([nd.inv_cdf((i + 0.5) / 65536) for i in range(32768)], dtype=np.float64)
    return np.concatenate([half, -half[::-1]]).astype(np.float32)


def projections(seeds: np.ndarray, dim: int) -> np.ndarray:
    """float32 [sites, dim] standard normal rows, from a counter-based generator.

    Word k (0..ceil(dim / 4) - 1) of a site is splitmix64(seed + (k + 2) * golden); each word's
    four little-endian 16-bit parts index :func:`normal_table`. No transcendental function runs
    per site, so a site costs a quarter of a splitmix64 and one table look-up per dimension.
    """
    n_words = -(-dim // 4)
    out = np.empty((len(seeds), dim), dtype=np.float32)
    with np.errstate(over="ignore"):
        steps = np.arange(2, n_words + 2, dtype=np.uint64) * _GOLDEN
    table = normal_table()
    block = max(1, PROJECTION_BLOCK // n_words)
    shape = (min(block, len(seeds)), n_words)
    z, tmp = np.empty(shape, dtype="<u8"), np.empty(shape, dtype="<u8")
    for b in range(0, len(seeds), block):
        n = min(block, len(seeds) - b)
        zb, tb = z[:n], tmp[:n]
        np.add(seeds[b : b + n, None], steps[None, :], out=zb)
        _splitmix64_mix(zb, tb)
        np.take(table, zb.view("<u2")[:, :dim], out=out[b : b + n])
    return out


def _splitmix64_mix(z: np.ndarray, tmp: np.ndarray) -> None:
    """splitmix64's output function on ``z`` in place (after the golden increment)."""
    with np.errstate(over="ignore"):
        np.right_shift(z, np.uint64(30), out=tmp)
        z ^= tmp
        z *= np.uint64(0xBF58476D1CE4E5B9)
        np.right_shift(z, np.uint64(27), out=tmp)
        z ^= tmp
        z *= np.uint64(0x94D049BB133111EB)
        np.right_shift(z, np.uint64(31), out=tmp)
        z ^= tmp


def quantize(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x`` rounded to the nearest multiple of QUANTUM (into ``out``, which may be ``x``)."""
    y = np.divide(x, QUANTUM, out=out)
    np.round(y, out=y)
    y *= QUANTUM
    return y


def site_projections(variant_keys, w: np.ndarray, settings: "LatentSettings") -> np.ndarray:
    """float32 [sites, dim]: each site's projection times its weight, on the QUANTUM grid."""
    q = projections(variant_seeds(variant_keys, settings.key), settings.dim)
    q *= w[:, None]
    return quantize(q, out=q)


def site_weights(p: np.ndarray, alpha: float) -> np.ndarray:
    het = 2.0 * p * (1.0 - p)
    with np.errstate(divide="ignore"):
        return np.where(het > 0, het ** (alpha / 2.0), 0.0)


@dataclass
class LatentSettings:
    dim: int = 128
    key: str = DEFAULT_KEY
    centering: str = "cohort"
    alpha: float = -0.5
    min_af: float = 0.0
    af_table: str | None = None

    def check(self) -> None:
        if self.centering not in CENTERINGS:
            raise InputError(
                None, f"latent centering must be one of {', '.join(CENTERINGS)}, not {self.centering!r}"
            )
        if self.centering == "af_table" and not self.af_table:
            raise InputError(
                None, "latent centering 'af_table' needs an allele-frequency table (latent.af_table)"
            )
        if self.dim < 2:
            raise InputError(None, f"latent dim must be >= 2, not {self.dim}")


def read_af_table(path: str | Path, chrom: str) -> dict[str, float]:
    """variant_key -> alt allele frequency for one chromosome (TSV: variant_key, af)."""
    import pandas as pd

    try:
        df = pd.read_csv(
            path, sep="\t", dtype={"variant_key": str, "af": float}, usecols=["variant_key", "af"]
        )
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(
            path, f"cannot read the allele-frequency table ({str(err).splitlines()[0]})"
        ) from None
    if df["af"].isna().any() or ((df["af"] < 0) | (df["af"] > 1)).any():
        raise InputError(path, "allele frequencies must be numbers in [0, 1]")
    df = df[df["variant_key"].str.startswith(f"{chrom}:")]
    return dict(zip(df["variant_key"], df["af"]))


def hash_genotypes(genotypes: GenotypeFile, settings: LatentSettings) -> Latents:
    """Stream a genotype file's chunks into latents (see the module docstring)."""
    settings.check()
    dim = settings.dim
    n_s = len(genotypes.samples)
    copies = 2 if genotypes.phased else 1
    acc = np.zeros((n_s * copies, dim), dtype=np.float64)
    sq = np.zeros(n_s * copies, dtype=np.float64)  # sum of squared projections (uncentred scale)
    present = np.zeros((n_s, copies), dtype=bool)
    table = read_af_table(settings.af_table, genotypes.chrom) if settings.centering == "af_table" else None
    seen_table_keys: set[str] = set()
    var_sum = 0.0
    n_used = 0
    for chunk in genotypes.sound_chunks():  # a sample with a broken VCF column is left out
        var, n = _hash_chunk(chunk, genotypes.phased, settings, table, seen_table_keys, acc, sq, present)
        var_sum += var
        n_used += n
    if table is not None:
        var, n = _hash_absent_table_sites(table, seen_table_keys, genotypes, settings, acc)
        var_sum += var
        n_used += n
    z = (acc / _scale(sq, var_sum, settings)).reshape(n_s, copies, dim).astype(np.float32)
    if n_used == 0:
        present[:] = False
    z[~present] = 0.0
    return Latents(
        samples=list(genotypes.samples),
        latents=z,
        copy_present=present,
        n_variants=n_used,
        chrom=genotypes.chrom,
        key_id=key_id(settings.key),
        centering=settings.centering,
        alpha=settings.alpha,
        broken=list(genotypes.broken) if any(genotypes.broken) else [],
    )


def _hash_chunk(chunk, phased: bool, settings: LatentSettings, table, seen: set, acc, sq, present):
    """Add one chunk's sites into ``acc`` (and ``sq``) and mark its called copies in ``present``.

    Returns the chunk's share of the latent variance and its number of used sites.
    """
    h = chunk.haplotypes
    if phased:
        calls = h.reshape(len(h), -1)  # [sites, samples*copies], a view
        present |= (h >= 0).any(axis=0)
    else:
        calls = chunk.dosage  # [sites, samples]
        present[:, 0] |= (calls >= 0).any(axis=0)
    p, keep = _frequencies(chunk, settings, table, seen)
    if not keep.any():
        return 0.0, 0
    c = 1 if phased else 2  # allele copies behind one call: a haplotype, or a diploid dosage
    idx = np.flatnonzero(keep)
    w = site_weights(p[idx], settings.alpha) if settings.centering != "none" else np.ones(len(idx))
    # no missing call and no haploid copy among the used sites
    complete = bool(h.min(initial=0) >= 0) or not (h[idx] < 0).any()
    for b in range(0, len(idx), SITE_BLOCK):  # every sum is exact: blocks of sites change no bit
        sites = idx[b : b + SITE_BLOCK]
        q = site_projections(chunk.variant_keys[sites], w[b : b + SITE_BLOCK], settings)
        # a bound on |q| sizes the exact blocks: the table's largest value times the largest weight
        qmax = float(normal_table()[-1]) * float(w[b : b + SITE_BLOCK].max()) + QUANTUM
        _project(calls, h, p, sites, q, qmax, c, phased, settings.centering, complete, acc, sq)
    return float(np.sum(c * p[idx] * (1 - p[idx]) * w**2)), len(idx)


def _project(
    calls, h, p, idx, q, qmax: float, c: int, phased: bool, centering: str, complete: bool, acc, sq
) -> None:
    """The hot loop: ``acc += (calls - expected counts).T @ q`` in exact blocks (``sq`` for "none").

    ``calls`` is [sites, samples*copies]; every product and partial sum is exact, so the order of
    the sums does not matter. ``complete``: no missing call and no haploid copy among ``idx``.
    """
    # float32 is exact while every partial sum stays below EXACT_F32; "none" needs float64 for sq
    dtype = np.float64 if centering == "none" else np.float32
    qmax = max(qmax, 1.0)  # qmax >= |q| everywhere
    block = int(max(1, min(BLOCK, EXACT_F32 // (2 * qmax))))
    q = q.astype(dtype, copy=False)  # float32 projections are exact (multiples of 2**-8, small)
    buf = np.empty((min(block, len(idx)), calls.shape[1]), dtype=dtype)
    if centering != "none":
        # expected allele count of each call: (present copies) x p; missing calls add 0
        v = p[idx][:, None] * q
        quantize(v, out=v)
        if complete:  # every call has all its copies: the same count for everyone
            acc -= c * v.sum(axis=0)
    for b in range(0, len(idx), block):
        sl = slice(b, b + block)
        rows = idx[sl]
        x = calls[rows[0] : rows[-1] + 1] if rows[-1] - rows[0] == len(rows) - 1 else calls[rows]
        xv = buf[: len(x)]
        np.copyto(xv, x)
        if not complete:
            np.maximum(xv, 0, out=xv)  # missing calls and absent copies count 0
        acc += xv.T @ q[sl]
        if centering == "none":
            sq += (xv**2).T @ (q[sl] ** 2).sum(axis=1)
        elif not complete:
            acc -= _copies_called(h[idx[sl]], phased).astype(dtype).T @ v[sl].astype(dtype)


def _hash_absent_table_sites(table, seen: set, genotypes: GenotypeFile, settings: LatentSettings, acc):
    """Table sites that the VCF does not list are taken as homozygous reference (x = 0): subtract
    their expected counts from ``acc``; returns their share of the variance and their number."""
    absent = sorted(set(table) - seen)
    pa = np.array([table[k] for k in absent], dtype=np.float64)
    ok = (np.minimum(pa, 1 - pa) >= max(settings.min_af, 1e-12)) if len(absent) else np.zeros(0, bool)
    if not ok.any():
        return 0.0, 0
    phased = genotypes.phased
    c = 1 if phased else 2
    ka = [absent[i] for i in np.flatnonzero(ok)]
    pa = pa[ok]
    w = site_weights(pa, settings.alpha)
    q = site_projections(ka, w, settings)
    v = quantize(pa[:, None] * q).sum(axis=0)
    ploidy = np.repeat(np.ones(len(genotypes.samples)), 2) if phased else genotypes.ploidy.astype(np.float64)
    acc -= ploidy[:, None] * v[None, :]
    return float(np.sum(c * pa * (1 - pa) * w**2)), len(ka)


def _scale(sq, var_sum: float, settings: LatentSettings):
    """What the sums are divided by so that the generator sees N(0, I)."""
    if settings.centering == "none":
        return np.sqrt(np.where(sq > 0, sq / settings.dim, 1.0))[:, None]
    return np.sqrt(var_sum) if var_sum > 0 else 1.0


def _frequencies(chunk, settings: LatentSettings, table, seen: set) -> tuple[np.ndarray, np.ndarray]:
    """Alt allele frequency per site and which sites are used."""
    n = len(chunk.positions)
    if settings.centering == "none":
        return np.zeros(n), np.ones(n, dtype=bool)
    if table is not None:
        keys = chunk.variant_keys
        p = np.array([table.get(str(k), np.nan) for k in keys], dtype=np.float64)
        seen.update(str(k) for k in keys)
        keep = ~np.isnan(p)
        p = np.nan_to_num(p)
    else:
        p, called = allele_frequencies(chunk.haplotypes)
        keep = called > 0
    maf = np.minimum(p, 1 - p)
    keep &= maf >= max(settings.min_af, 1e-12)  # monomorphic sites carry no information
    return p, keep


def allele_frequencies(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alt allele frequency per site over every called copy, and the number of called copies."""
    flat = h.reshape(len(h), -1)
    if flat.size and flat.view(np.uint8).max() <= 1:  # only 0 and 1: every copy called
        alt = flat.sum(axis=1, dtype=np.intp)
        called = np.full(len(flat), flat.shape[1], dtype=np.intp)
    else:
        alt = np.count_nonzero(flat == 1, axis=1)
        called = np.count_nonzero(flat >= 0, axis=1)
    return np.where(called > 0, alt / np.maximum(called, 1), 0.0), called


def _copies_called(h: np.ndarray, phased: bool) -> np.ndarray:
    """int8 [sites, samples*copies]: how many allele copies were called (0 where missing)."""
    if phased:
        return (h >= 0).reshape(len(h), -1).astype(np.int8)
    n_present = (h[..., 0] != ABSENT).astype(np.int8) + (h[..., 1] != ABSENT)
    missing = (h[..., 0] == -1) | (h[..., 1] == -1)
    return np.where(missing, 0, n_present).astype(np.int8)


def write_af_table(genotype_files: list[str | Path], out: str | Path) -> int:
    """Write a cohort's allele frequencies (variant_key, af) for later af_table centering."""
    n = 0
    with atomic_path(out, suffix=".tsv") as tmp, open(tmp, "w") as fh:
        fh.write("variant_key\taf\n")
        for path in genotype_files:
            with GenotypeFile(path) as g:
                for chunk in g.sound_chunks():
                    p, called = allele_frequencies(chunk.haplotypes)
                    for key, af, c in zip(chunk.variant_keys, p, called):
                        if c:
                            fh.write(f"{key}\t{af:.6g}\n")
                            n += 1
    return n


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def cosine_matrix(lat: Latents) -> np.ndarray:
    """[samples, samples] cosine of the copy-summed latents of one chromosome (0 where absent)."""
    v = (lat.latents.astype(np.float64) * lat.copy_present[..., None]).sum(axis=1)
    norm = np.linalg.norm(v, axis=1)
    ok = norm > 0
    v[ok] /= norm[ok, None]
    return v @ v.T


def kinship_sketch(latents: list[Latents], recenter: bool = True) -> tuple[list[str], np.ndarray]:
    """Genome-wide latent cosine for every pair: the per-chromosome cosines averaged with
    weights = the chromosome's variant count (short chromosomes are noisier).

    With cohort centring, each sample's cosines sum to about zero over the cohort, so a
    person with relatives in the cohort has cosines with strangers shifted below zero
    (about -(1 + sum of relatedness) / (n - 1)). ``recenter`` undoes that shift robustly:
    it subtracts each sample's median off-diagonal cosine (strangers are the majority).
    """
    samples = latents[0].samples
    total = np.zeros((len(samples), len(samples)))
    weight = np.zeros_like(total)
    for lat in latents:
        if lat.samples != samples:
            raise InputError(
                None, f"chromosome {lat.chrom}: latents list other samples than chromosome {latents[0].chrom}"
            )
        if lat.n_variants == 0:
            continue
        both = (lat.copy_present.any(axis=1)[:, None] & lat.copy_present.any(axis=1)[None, :]).astype(float)
        total += cosine_matrix(lat) * both * lat.n_variants
        weight += both * lat.n_variants
    k = np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)
    if recenter and len(samples) > 3:
        off = k.copy()
        np.fill_diagonal(off, np.nan)
        mu = np.nanmedian(off, axis=1)
        diag = np.diag(k).copy()
        k = k - mu[:, None] - mu[None, :] + np.median(mu)
        np.fill_diagonal(k, diag)
    return samples, k
