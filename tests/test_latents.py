"""The latent properties of DESIGN.md, measured on an msprime pedigree simulated here.

determinism, robustness (1% genotype errors, 5% missing), kinship (parent-child and full
siblings about 0.5, strangers |cos| <= 0.1, ranking), keyed, and the single-genome VCF.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from karyospectrum import AUTOSOMES
from karyospectrum.errors import InputError
from karyospectrum.genotypes import Chunk, GenotypeFile, ParseOptions, read_chromosome, write_genotypes
from karyospectrum.latents import (
    DEFAULT_KEY,
    LatentSettings,
    cosine,
    hash_genotypes,
    kinship_sketch,
    load_latents,
    write_af_table,
)
from karyospectrum.simulate import Person, kinship_truth, simulate_cohort, write_vcf

CHROMS = AUTOSOMES + ["X"]


def families(n: int) -> list[Person]:
    out = []
    for f in range(n):
        pa, ma = f"F{f}_pa", f"F{f}_ma"
        out += [
            Person(pa, "M"),
            Person(ma, "F"),
            Person(f"F{f}_k1", "F", pa, ma),
            Person(f"F{f}_k2", "M", pa, ma),
        ]
    return out


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    """3 families of 4 plus 40 unrelated people; 22 autosomes + X; VCF -> genotype files."""
    tmp = tmp_path_factory.mktemp("cohort")
    people = families(3) + [Person(f"U{i:02d}", "M" if i % 2 else "F") for i in range(40)]
    ids = [p.id for p in people]
    chroms = simulate_cohort(people, CHROMS, scale=3e-4, seed=7, mutation_rate=1e-6, population_size=2000)
    vcf = tmp / "cohort.vcf.gz"
    write_vcf(vcf, ids, chroms)
    geno = {}
    for c in CHROMS:
        counts = collections.Counter()
        geno[c] = tmp / f"{c}.npz"
        write_genotypes(geno[c], c, ids, read_chromosome(vcf, c, ids, ParseOptions(), counts), counts)
    return {"people": people, "ids": ids, "chroms": chroms, "vcf": vcf, "geno": geno, "tmp": tmp}


def hash_all(geno: dict, **kw) -> list:
    out = []
    for c in CHROMS:
        with GenotypeFile(geno[c]) as g:
            out.append(hash_genotypes(g, LatentSettings(**kw)))
    return out


@pytest.fixture(scope="session")
def base(cohort):
    return hash_all(cohort["geno"])


def perturbed(cohort, name: str, fn) -> dict:
    """Rewrite every genotype file with ``fn(haplotypes, rng)`` applied to its chunks."""
    rng = np.random.default_rng(123)
    out = {}
    for c in CHROMS:
        path = cohort["tmp"] / f"{name}_{c}.npz"
        with GenotypeFile(cohort["geno"][c]) as g:
            chunks = [
                Chunk(ch.positions, ch.variant_keys, fn(ch.haplotypes.copy(), rng), ch.phased)
                for ch in g.chunks()
            ]
            write_genotypes(path, c, g.samples, iter(chunks), collections.Counter())
        out[c] = path
    return out


def genome_cos(lats_a, lats_b) -> np.ndarray:
    """Per sample, the variant-weighted genome-wide cosine between two latent sets."""
    n = len(lats_a[0].samples)
    total, weight = np.zeros(n), 0.0
    for a, b in zip(lats_a, lats_b):
        if a.chrom == "X":
            continue
        va, vb = a.latents.sum(axis=1), b.latents.sum(axis=1)
        total += np.array([cosine(x, y) for x, y in zip(va, vb)]) * a.n_variants
        weight += a.n_variants
    return total / weight


# ----------------------------------------------------------------------------- determinism


def test_bit_identical_rerun(cohort, base):
    again = hash_all(cohort["geno"])
    for a, b in zip(base, again):
        assert a.latents.tobytes() == b.latents.tobytes()


def test_shape_copies_and_prior(base, cohort):
    for lat in base:
        assert lat.latents.shape == (len(cohort["ids"]), 2, 128) and lat.latents.dtype == np.float32
    x = next(lat for lat in base if lat.chrom == "X")
    male = np.array([p.sex == "M" for p in cohort["people"]])
    assert x.copy_present[male, 0].all() and not x.copy_present[male, 1].any()
    assert x.copy_present[~male].all()
    # the generator's prior: about N(0, I) per component
    z = np.concatenate([lat.latents[lat.copy_present] for lat in base])
    assert abs(z.mean()) < 0.05 and 0.8 < z.std() < 1.2


def test_thread_counts_give_identical_files(cohort, tmp_path):
    outs = []
    for threads in ("1", "2"):
        out = tmp_path / f"lat{threads}.npz"
        env = {
            **os.environ,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        subprocess.run(
            [
                sys.executable,
                "scripts/hash_latents.py",
                "--genotypes",
                str(cohort["geno"]["1"]),
                "--out",
                str(out),
            ],
            check=True,
            env=env,
            capture_output=True,
            cwd=REPO,
        )
        outs.append(load_latents(out).latents.tobytes())
    assert outs[0] == outs[1]


def test_shuffled_sample_columns(cohort, base, tmp_path):
    ids, chroms = cohort["ids"], cohort["chroms"]
    perm = np.random.default_rng(5).permutation(len(ids))
    for c in chroms:
        c.haplotypes, c.ploidy = c.haplotypes[:, perm], c.ploidy[perm]
    try:
        vcf = tmp_path / "shuffled.vcf.gz"
        write_vcf(vcf, [ids[i] for i in perm], [c for c in chroms if c.chrom in ("2", "X")])
    finally:
        inv = np.argsort(perm)
        for c in chroms:
            c.haplotypes, c.ploidy = c.haplotypes[:, inv], c.ploidy[inv]
    for chrom in ("2", "X"):
        counts = collections.Counter()
        path = tmp_path / f"{chrom}.npz"
        write_genotypes(path, chrom, ids, read_chromosome(vcf, chrom, ids, ParseOptions(), counts), counts)
        with GenotypeFile(path) as g:
            lat = hash_genotypes(g, LatentSettings())
        ref = next(b for b in base if b.chrom == chrom)
        assert lat.latents.tobytes() == ref.latents.tobytes()


# ----------------------------------------------------------------------------- robustness


def _flip_one_percent(h, rng):
    """1% of genotype calls get one allele flipped: always a different genotype."""
    call = (h >= 0).all(axis=2) & (rng.random(h.shape[:2]) < 0.01)
    copy = rng.integers(0, 2, size=h.shape[:2])
    for k in (0, 1):
        m = call & (copy == k) & (h[:, :, k] >= 0)
        h[:, :, k][m] = 1 - h[:, :, k][m]
    return h


def _miss_five_percent(h, rng):
    m = rng.random(h.shape[:2]) < 0.05
    h[m] = np.where(h[m] == -2, -2, -1)
    return h


def test_genotype_errors_keep_cosine(cohort, base):
    noisy = hash_all(perturbed(cohort, "err", _flip_one_percent))
    cos = genome_cos(base, noisy)
    assert cos.min() >= 0.95, cos.min()


def test_missing_calls_no_worse(cohort, base):
    err = genome_cos(base, hash_all(perturbed(cohort, "err", _flip_one_percent)))
    miss = genome_cos(base, hash_all(perturbed(cohort, "miss", _miss_five_percent)))
    assert miss.min() >= 0.95, miss.min()
    assert miss.mean() >= err.mean() - 0.01


# ----------------------------------------------------------------------------- kinship


def pair_cosines(cohort, lats, recenter=True):
    samples, k = kinship_sketch([lat for lat in lats if lat.chrom != "X"], recenter=recenter)
    index = {s: i for i, s in enumerate(samples)}
    by_rel = collections.defaultdict(list)
    for a, b, rel, _ in kinship_truth(cohort["people"]):
        by_rel[rel].append(k[index[a], index[b]])
    return {r: np.array(v) for r, v in by_rel.items()}


def test_kinship(cohort, base):
    rel = pair_cosines(cohort, base)
    assert abs(rel["parent-child"].mean() - 0.5) <= 0.1, rel["parent-child"]
    assert abs(rel["full-siblings"].mean() - 0.5) <= 0.1, rel["full-siblings"]
    assert np.abs(rel["unrelated"]).max() <= 0.1, np.abs(rel["unrelated"]).max()
    # the genome-wide cosine ranks pairs by true kinship: every relative above every stranger
    related = np.concatenate([rel["parent-child"], rel["full-siblings"]])
    assert related.min() > rel["unrelated"].max()


def test_raw_cosine_bias_of_cohort_centring(cohort, base):
    """Raw (not recentred) latent cosines of strangers sit near -1/(n-1), as documented."""
    raw = pair_cosines(cohort, base, recenter=False)
    n = len(cohort["ids"])
    assert abs(raw["unrelated"].mean() + 1 / (n - 1)) < 0.03
    assert abs(raw["parent-child"].mean() - 0.5) <= 0.1


# ----------------------------------------------------------------------------- keyed


def test_another_key_gives_unrelated_latents(cohort, base):
    other = hash_all(cohort["geno"], key="a-secret-key")
    assert other[0].key_id != base[0].key_id
    cos = genome_cos(base, other)
    assert np.abs(cos).max() <= 0.1, cos
    # ... while kinship is still readable under the new key
    rel = pair_cosines(cohort, other)
    assert abs(rel["parent-child"].mean() - 0.5) <= 0.1
    assert DEFAULT_KEY.startswith("karyospectrum-public")


# ----------------------------------------------------------------------------- single genome


def test_single_genome_vcf_with_af_table(cohort, tmp_path):
    """A consumer VCF (one person's non-reference sites) hashed against the cohort's allele
    frequencies reproduces that person's cohort latent (documented behaviour)."""
    ids, chroms = cohort["ids"], cohort["chroms"]
    who = ids.index("F0_k1")
    single = tmp_path / "single.vcf.gz"
    write_vcf(single, ids, [c for c in chroms if c.chrom in ("1", "3")], phased=False, only_sample=who)
    af = tmp_path / "af.tsv"
    write_af_table([cohort["geno"]["1"], cohort["geno"]["3"]], af)
    for chrom in ("1", "3"):
        counts = collections.Counter()
        path = tmp_path / f"single_{chrom}.npz"
        write_genotypes(
            path, chrom, ["F0_k1"], read_chromosome(single, chrom, ["F0_k1"], ParseOptions(), counts), counts
        )
        with GenotypeFile(path) as g:
            assert not g.phased
            lat = hash_genotypes(g, LatentSettings(centering="af_table", af_table=str(af)))
            uncentred = hash_genotypes(g, LatentSettings(centering="none"))
        with GenotypeFile(cohort["geno"][chrom]) as g:
            full = hash_genotypes(g, LatentSettings(centering="af_table", af_table=str(af)))
        assert lat.latents.shape == (1, 1, 128)
        assert cosine(lat.latents[0, 0], full.latents[who].sum(axis=0)) >= 0.98
        # uncentred: still a draw from the prior N(0, I), but not comparable across people
        norm = np.linalg.norm(uncentred.latents[0, 0]) / np.sqrt(128)
        assert 0.7 < norm < 1.3


def test_af_table_mode_needs_a_table(cohort):
    with GenotypeFile(cohort["geno"]["1"]) as g, pytest.raises(InputError, match="af_table"):
        hash_genotypes(g, LatentSettings(centering="af_table"))


def test_chromosome_without_variants(tmp_path):
    path = tmp_path / "empty.npz"
    write_genotypes(path, "Y", ["a", "b"], iter([]), collections.Counter())
    with GenotypeFile(path) as g:
        lat = hash_genotypes(g, LatentSettings())
    assert lat.n_variants == 0 and not lat.copy_present.any() and not lat.latents.any()


def test_bad_genotype_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/hash_latents.py",
            "--genotypes",
            str(bad),
            "--out",
            str(tmp_path / "o.npz"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "bad.npz" in proc.stderr
    assert not (tmp_path / "o.npz").exists()


# --- a sample with a broken VCF column (issue 10) is left out, and changes no one else's latents


def _parse_and_hash(tmp_path, vcf, samples: list[str], centering: str):
    from karyospectrum.genotypes import GenotypeFile

    counts, broken = collections.Counter(), {}
    geno = tmp_path / f"{''.join(samples)}.npz"
    chunks = read_chromosome(vcf, "1", samples, ParseOptions(), counts, None, broken)
    write_genotypes(geno, "1", samples, chunks, counts, broken)
    with GenotypeFile(geno) as g:
        lat = hash_genotypes(g, LatentSettings(dim=16, centering=centering))
    lat.save(tmp_path / f"lat_{''.join(samples)}.npz")
    write_af_table([geno], tmp_path / f"af_{''.join(samples)}.tsv")
    return load_latents(tmp_path / f"lat_{''.join(samples)}.npz")


@pytest.mark.parametrize("centering", ["cohort", "none"])
def test_broken_sample_is_left_out_of_the_latents(tmp_path, centering):
    from vcftools import record, vcf_text, write_bgzf

    rng = np.random.default_rng(3)
    names = ["A", "B", "C", "D"]
    recs = []
    for k in range(1, 301):
        gts = [f"{rng.integers(2)}|{rng.integers(2)}" for _ in names]
        if k in (5, 120):
            gts[2] = "0/X" if k == 5 else "0|4"  # C's column is broken twice; the first is reported
        recs.append(record("chr1", 10 * k, "ACGT"[k % 4], "ACGT"[(k + 2) % 4], gts))
    vcf = write_bgzf(tmp_path / "broken.vcf.gz", vcf_text(names, recs))
    with_c = _parse_and_hash(tmp_path, vcf, names, centering)
    without = _parse_and_hash(tmp_path, vcf, ["A", "B", "D"], centering)
    assert with_c.broken == ["", "", "record 5 on chr1: malformed GT", ""] and without.broken == []
    assert not with_c.copy_present[2].any() and not with_c.latents[2].any()
    keep = [0, 1, 3]
    assert with_c.latents[keep].tobytes() == without.latents.tobytes()  # bit for bit
    assert (tmp_path / "af_ABCD.tsv").read_bytes() == (tmp_path / "af_ABD.tsv").read_bytes()
    with np.load(tmp_path / "lat_ABD.npz") as z:
        assert "broken" not in z.files  # a sound cohort's file is as before


def test_site_hash_is_siphash24_and_projections_are_standard_normal():
    """The per-site seed is SipHash-2-4 (the paper's test vectors), one key's seeds do not depend on
    which other keys share the batch, and the table-driven projections are N(0, 1) and uncorrelated."""
    from karyospectrum.latents import normal_table, projections, siphash24, variant_seeds

    k = np.frombuffer(bytes(range(16)), dtype="<u8")
    msg = np.frombuffer(bytes(range(15)), dtype=np.uint8)[None, :].copy()
    assert int(siphash24(k, (msg, np.array([15])))[0]) == 0xA129CA6149BE45E5
    assert int(siphash24(k, (np.zeros((1, 0), np.uint8), np.array([0])))[0]) == 0x726FDB47DD0E0E31
    keys = ["1:100:A:G", "X:5:C:T", "22:123456789:G:A", "1:100:AT:A" * 3]
    batch = variant_seeds(np.array(keys), "k")
    assert [int(variant_seeds([v], "k")[0]) for v in keys] == [int(s) for s in batch]
    assert len(set(batch.tolist())) == len(keys)
    assert not np.array_equal(variant_seeds(np.array(keys), "another key"), batch)

    t = normal_table()
    assert len(t) == 65536 and np.array_equal(t, -t[::-1]) and np.all(np.diff(t) > 0)
    q = projections(variant_seeds(np.array([f"1:{i}:A:G" for i in range(20_000)]), DEFAULT_KEY), 128)
    assert q.shape == (20_000, 128)
    assert abs(q.mean()) < 0.01 and abs(q.var() - 1) < 0.02
    off = np.corrcoef(q.T)[~np.eye(128, dtype=bool)]
    assert np.abs(off).max() < 0.05  # 20,000 draws: |r| of independent columns stays near 0.007
    seeds = variant_seeds(np.array(["1:7:A:G", "2:9:C:T"]), DEFAULT_KEY)
    assert np.array_equal(projections(seeds, 130)[:, :128], projections(seeds, 128))  # any dim, same prefix
