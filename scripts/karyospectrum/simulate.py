"""Simulated cohorts with msprime: pedigrees with known kinship, written as real bgzipped VCFs.

Used to build the bundled example cohort, the property tests and the benchmarks. Each
chromosome is simulated through a fixed pedigree (so relatives share true IBD segments)
and then completed back in time with the coalescent; lengths are hg38's, scaled down.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from pathlib import Path

import numpy as np

from . import AUTOSOMES
from .cytobands import chrom_sizes
from .io import atomic_path

BASES = np.array(list("ACGT"))


@dataclasses.dataclass(frozen=True)
class Person:
    id: str
    sex: str  # "F" or "M"
    father: str | None = None
    mother: str | None = None


def example_pedigree() -> list[Person]:
    """Two families (a trio with a full sibling; a trio) and six unrelated people."""
    people = [
        Person("FAM1_father", "M"),
        Person("FAM1_mother", "F"),
        Person("FAM1_child1", "F", "FAM1_father", "FAM1_mother"),
        Person("FAM1_child2", "M", "FAM1_father", "FAM1_mother"),
        Person("FAM2_father", "M"),
        Person("FAM2_mother", "F"),
        Person("FAM2_child1", "M", "FAM2_father", "FAM2_mother"),
    ]
    people += [Person(f"UNR{i}", "F" if i % 2 else "M") for i in range(1, 7)]
    return people


def kinship_truth(people: list[Person]) -> list[tuple[str, str, str, float]]:
    """(a, b, relationship, kinship coefficient) for every pair, from the pedigree.

    Founders are unrelated; kinship is 1/4 for parent-child and full siblings.
    """
    by_id = {p.id: p for p in people}

    def relation(a: Person, b: Person) -> tuple[str, float]:
        if a.id in (b.father, b.mother) or b.id in (a.father, a.mother):
            return "parent-child", 0.25
        if a.father and a.father == b.father and a.mother == b.mother:
            return "full-siblings", 0.25
        if a.father and (a.father == b.father or a.mother == b.mother):
            return "half-siblings", 0.125
        return "unrelated", 0.0

    return [(a.id, b.id, *relation(by_id[a.id], by_id[b.id])) for a, b in itertools.combinations(people, 2)]


@dataclasses.dataclass
class SimulatedChromosome:
    chrom: str
    length: int
    positions: np.ndarray  # 1-based, sorted, unique
    ref: list[str]
    alt: list[str]  # comma-joined ALT alleles
    haplotypes: np.ndarray  # int16 [sites, samples, 2]; -1 = missing or absent copy
    ploidy: np.ndarray  # [samples] 1 or 2


def simulate_chromosome(
    people: list[Person] | None,
    chrom: str,
    length: int,
    seed: int,
    n_unrelated: int = 0,
    population_size: int = 2_000,
    recombination_rate: float = 1e-5,
    mutation_rate: float = 2.5e-7,
    missing_rate: float = 0.0,
) -> SimulatedChromosome:
    """Simulate one chromosome for a pedigree (or ``n_unrelated`` people when ``people`` is None).

    The recombination rate is scaled with the length so each chromosome keeps about its real
    genetic length. Males carry one X: their maternal haplotype.
    """
    import msprime

    demography = msprime.Demography.isolated_model([population_size])
    if people is None:
        people = [Person(f"S{i:05d}", "F" if i % 2 else "M") for i in range(n_unrelated)]
        ts = msprime.sim_ancestry(
            samples=len(people),
            demography=demography,
            sequence_length=length,
            recombination_rate=recombination_rate,
            random_seed=seed,
        )
        order = [ts.individual(i).nodes for i in range(len(people))]
    else:
        builder = msprime.PedigreeBuilder(demography=demography)
        ids: dict[str, int] = {}
        for p in _by_generation(people):
            parents = [ids[p.father], ids[p.mother]] if p.father else [-1, -1]
            ids[p.id] = builder.add_individual(time=_depth(p, people), parents=parents, is_sample=True)
        pedigree = builder.finalise(sequence_length=length)
        ts = msprime.sim_ancestry(
            initial_state=pedigree,
            model="fixed_pedigree",
            recombination_rate=recombination_rate,
            random_seed=seed,
        )
        ts = msprime.sim_ancestry(
            initial_state=ts,
            demography=demography,
            recombination_rate=recombination_rate,
            random_seed=seed + 1,
        )
        # node 0 comes from parents[0] (father), node 1 from parents[1] (mother)
        order = [ts.individual(ids[p.id]).nodes for p in people]
    ts = msprime.sim_mutations(ts, rate=mutation_rate, random_seed=seed + 2)

    nodes = np.asarray(order).reshape(-1)
    haps, positions, refs, alts = [], [], [], []
    last = -1
    for var in ts.variants(samples=None):
        pos = int(var.site.position) + 1
        if pos == last:
            continue
        alleles = [a for a in var.alleles if a is not None]
        if len(alleles) < 2:
            continue
        last = pos
        positions.append(pos)
        refs.append(alleles[0])
        alts.append(",".join(alleles[1:]))
        haps.append(var.genotypes[nodes].astype(np.int16))
    haplotypes = np.asarray(haps, dtype=np.int16).reshape(len(positions), len(people), 2)
    ploidy = np.full(len(people), 2, dtype=np.int8)
    if chrom == "X":
        male = np.array([p.sex == "M" for p in people])
        haplotypes[:, male, 0] = haplotypes[:, male, 1]  # keep the maternal X in the first slot
        haplotypes[:, male, 1] = -1
        ploidy[male] = 1
    if missing_rate > 0:
        rng = np.random.default_rng(seed + 3)
        miss = rng.random(haplotypes.shape[:2]) < missing_rate
        haplotypes[miss, 0] = -1
        haplotypes[miss & (ploidy == 2)[None, :], 1] = -1
    return SimulatedChromosome(
        chrom, length, np.asarray(positions, dtype=np.int64), refs, alts, haplotypes, ploidy
    )


def _depth(p: Person, people: list[Person]) -> int:
    """Generations above the youngest: founders are older than their children."""
    by_id = {q.id: q for q in people}

    def height(x: Person) -> int:
        kids = [q for q in people if x.id in (q.father, q.mother)]
        return 0 if not kids else 1 + max(height(k) for k in kids)

    return height(by_id[p.id])


def _by_generation(people: list[Person]) -> list[Person]:
    return sorted(people, key=lambda p: -_depth(p, people))


def _gt_bytes(haplotypes: np.ndarray, ploidy: np.ndarray, phased: bool) -> np.ndarray:
    """Genotype columns as a byte matrix [sites, bytes]: ``a|b<TAB>`` or ``a<TAB>``."""
    n_sites, n_samples, _ = haplotypes.shape
    width = np.where(ploidy == 2, 4, 2)
    offsets = np.concatenate([[0], np.cumsum(width)])
    out = np.empty((n_sites, offsets[-1]), dtype=np.uint8)
    allele = np.where(haplotypes < 0, ord("."), haplotypes + ord("0")).astype(np.uint8)
    sep = ord("|") if phased else ord("/")
    for s in range(n_samples):
        o = offsets[s]
        out[:, o] = allele[:, s, 0]
        if ploidy[s] == 2:
            out[:, o + 1] = sep
            out[:, o + 2] = allele[:, s, 1]
        out[:, offsets[s + 1] - 1] = ord("\t")
    out[:, -1] = ord("\n")
    return out


def vcf_header(samples: list[str], contigs: dict[str, int], source: str = "karyospectrum.simulate") -> str:
    lines = [
        "##fileformat=VCFv4.2",
        f"##source={source}",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    return "\n".join(lines) + "\n"


def write_vcf(
    path: str | Path,
    samples: list[str],
    chromosomes: list[SimulatedChromosome],
    contig_prefix: str = "chr",
    phased: bool = True,
    only_sample: int | None = None,
) -> None:
    """Write a bgzipped, tabix-indexed VCF atomically.

    With ``only_sample``, write that one person's non-reference sites only, unphased: the
    shape of a consumer-genome VCF.
    """
    import pysam

    path = Path(path)
    contigs = {f"{contig_prefix}{c.chrom}": c.length for c in chromosomes}
    names = [samples[only_sample]] if only_sample is not None else samples
    with tempfile.TemporaryDirectory(dir=path.parent) as tmpdir:
        plain = Path(tmpdir) / "plain.vcf"
        with open(plain, "wb") as fh:
            fh.write(vcf_header(names, contigs).encode())
            for c in chromosomes:
                haps, ploidy = c.haplotypes, c.ploidy
                keep = np.ones(len(c.positions), dtype=bool)
                if only_sample is not None:
                    haps = haps[:, only_sample : only_sample + 1]
                    ploidy = ploidy[only_sample : only_sample + 1]
                    keep = (haps > 0).any(axis=(1, 2))
                gts = _gt_bytes(haps[keep], ploidy, phased)
                for i, j in enumerate(np.flatnonzero(keep)):
                    fixed = f"{contig_prefix}{c.chrom}\t{c.positions[j]}\t.\t{c.ref[j]}\t{c.alt[j]}\t.\tPASS\t.\tGT\t"
                    fh.write(fixed.encode() + gts[i].tobytes())
        with atomic_path(path, suffix=".gz") as gz:
            pysam.tabix_compress(str(plain), str(gz), force=True)
    gz = str(path)
    pysam.tabix_index(gz, preset="vcf", force=True)


def scaled_lengths(scale: float, chromosomes: list[str]) -> dict[str, int]:
    sizes = chrom_sizes()
    return {c: max(10_000, int(sizes[c] * scale)) for c in chromosomes}


def simulate_cohort(
    people: list[Person],
    chromosomes: list[str] | None = None,
    scale: float = 1e-3,
    seed: int = 42,
    **kwargs,
) -> list[SimulatedChromosome]:
    """Simulate every chromosome of a pedigree; recombination is scaled to keep genetic length."""
    chromosomes = chromosomes or AUTOSOMES + ["X"]
    lengths = scaled_lengths(scale, chromosomes)
    rate = kwargs.pop("recombination_rate", 1e-8 / scale)
    return [
        simulate_chromosome(people, c, lengths[c], seed + 10 * i, recombination_rate=rate, **kwargs)
        for i, c in enumerate(chromosomes)
    ]
