#!/usr/bin/env python
"""Benchmark the genome half: parse_vcf + hash_latents vs bcftools, peak RSS, and the DAG size.

Simulates msprime VCFs (~50k variants x 2504 samples; ~200k variants x 100 samples), then times,
single-threaded and on the same file, side by side:
  parse_vcf + hash_latents  |  bcftools query -f '[%GT\\t]\\n'  |  bcftools view -Ou
and reports the peak RSS of our two steps. Last, `snakemake -n` on a 2504-sample sheet (one VCF,
22 chromosomes): wall time and job count.

--plain: the cost of a plain-text (uncompressed, unindexed) VCF of 2504 samples. prepare_vcf makes it
an indexed BGZF once (one pass over the text, then tabix over the copy); that time is set beside
parse_vcf's on the copy and beside `bgzip -c | tabix` (what a user would otherwise run by hand).

    python benchmarks/bench_genome.py [--quick] [--plain] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from karyospectrum.simulate import simulate_chromosome, write_vcf  # noqa: E402

ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_vcf(path: Path, n_samples: int, n_variants: int, seed: int) -> Path:
    if path.exists():
        return path
    # length and rate chosen so msprime yields a bit more than n_variants sites
    sim = simulate_chromosome(
        None,
        "1",
        length=2_000_000,
        seed=seed,
        n_unrelated=n_samples,
        population_size=10_000,
        recombination_rate=1e-8,
        mutation_rate=n_variants * 1.3 / (4 * 10_000 * 2_000_000 * _harmonic(2 * n_samples)),
    )
    keep = slice(0, n_variants)
    sim.positions, sim.ref, sim.alt = sim.positions[keep], sim.ref[keep], sim.alt[keep]
    sim.haplotypes = sim.haplotypes[keep]
    write_vcf(path, [f"S{i:05d}" for i in range(n_samples)], [sim])
    return path


def _harmonic(n: int) -> float:
    return sum(1.0 / i for i in range(1, n))


def timed(cmd: list[str] | str, shell: bool = False) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the child) for one command."""
    env = {**os.environ, **ONE_THREAD}
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *(["bash", "-c", cmd] if shell else cmd)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {cmd}\n{proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024


def bench_file(vcf: Path, work: Path, label: str) -> dict:
    geno, lat = work / f"{label}.geno.npz", work / f"{label}.lat.npz"
    py = sys.executable
    t_parse, rss_parse = timed(
        [
            py,
            str(REPO / "scripts/parse_vcf.py"),
            "--vcf",
            str(vcf),
            "--chrom",
            "1",
            "--samples",
            _samples(vcf),
            "--out",
            str(geno),
        ]
    )
    t_hash, rss_hash = timed(
        [py, str(REPO / "scripts/hash_latents.py"), "--genotypes", str(geno), "--out", str(lat)]
    )
    t_query, _ = timed(f"bcftools query -f '[%GT\\t]\\n' {vcf} > /dev/null", shell=True)
    t_view, _ = timed(f"bcftools view -Ou {vcf} > /dev/null", shell=True)
    ours = t_parse + t_hash
    return {
        "file": label,
        "ours_s": ours,
        "parse_s": t_parse,
        "hash_s": t_hash,
        "query_s": t_query,
        "view_s": t_view,
        "ratio_query": ours / t_query,
        "ratio_view": ours / t_view,
        "rss_mb": max(rss_parse, rss_hash),
    }


def _samples(vcf: Path) -> str:
    out = subprocess.run(["bcftools", "query", "-l", str(vcf)], capture_output=True, text=True, check=True)
    return ",".join(out.stdout.split())


def bench_dag(vcf: Path, work: Path, n_samples: int) -> tuple[float, int]:
    sheet = work / "sheet2504.tsv"
    sheet.write_text("sample\tcohort\tvcf\n" + "".join(f"S{i:05d}\tbig\t{vcf}\n" for i in range(n_samples)))
    chroms = ",".join(f'"{c}"' for c in range(1, 23))
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "genotypes",
            "latents",
            "-n",
            "--cores",
            "1",
            "--directory",
            str(work),
            "--snakefile",
            str(REPO / "workflow/Snakefile"),
            "--configfile",
            str(REPO / "config/config.yaml"),
            "--config",
            f"samples={sheet}",
            f"chromosomes=[{chroms}]",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed:\n{proc.stderr[-3000:]}")
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.M)
    return wall, int(total.group(1)) if total else -1


def bench_plain(vcf_gz: Path, work: Path) -> None:
    """prepare_vcf on a plain-text VCF vs parse_vcf on its copy, and vs bgzip + tabix by hand."""
    import gzip
    import shutil as sh

    plain = work / (vcf_gz.name.removesuffix(".gz"))
    if not plain.exists():
        with gzip.open(vcf_gz, "rb") as src, open(plain, "wb") as dst:
            sh.copyfileobj(src, dst, 1 << 20)
    mb = plain.stat().st_size / 1e6
    py = sys.executable
    out = work / "prepared.vcf.gz"
    t_prep, rss_prep = timed(
        [py, str(REPO / "scripts/prepare_vcf.py"), "--vcf", str(plain), "--out", str(out)]
    )
    t_parse, _ = timed(
        [
            py,
            str(REPO / "scripts/parse_vcf.py"),
            "--vcf",
            str(out),
            "--chrom",
            "1",
            "--samples",
            _samples(vcf_gz),
            "--out",
            str(work / "plain.geno.npz"),
        ]
    )
    by_hand = None
    if shutil.which("bgzip") and shutil.which("tabix"):
        gz = work / "by_hand.vcf.gz"
        by_hand, _ = timed(f"bgzip -c {plain} > {gz} && tabix -f -p vcf {gz}", shell=True)
    print(f"plain-text VCF, {mb:.0f} MB ({vcf_gz.name.removesuffix('.vcf.gz')}):")
    print(
        f"  prepare_vcf (text -> indexed BGZF, once): {t_prep:7.2f} s  ({mb / t_prep:.0f} MB/s, peak RSS {rss_prep:.0f} MB,"
        f" copy {out.stat().st_size / 1e6:.0f} MB)"
    )
    print(
        f"  parse_vcf on the copy (one chromosome):   {t_parse:7.2f} s  -> prepare adds {100 * t_prep / t_parse:.0f}%"
    )
    if by_hand is not None:
        print(f"  bgzip -c | tabix by hand (for scale):     {by_hand:7.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small files (a smoke run)")
    ap.add_argument("--workdir", help="keep simulated VCFs here between runs")
    ap.add_argument("--plain", action="store_true", help="only the plain-text VCF case (2504 samples)")
    ap.add_argument("--variants", type=int, default=50_000, help="variants of the 2504-sample file")
    args = ap.parse_args()
    if not shutil.which("bcftools"):
        raise SystemExit("bcftools is needed (Debian: apt-get install bcftools)")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_genome_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.plain:
        n_v = args.variants if not args.quick else 2_000
        bench_plain(make_vcf(work / f"sim_2504x{n_v}.vcf.gz", 2504, n_v, seed=11), work)
        return
    sizes = [(2504, 50_000), (100, 200_000)] if not args.quick else [(200, 5_000), (20, 20_000)]
    rows = []
    for i, (n_s, n_v) in enumerate(sizes):
        vcf = make_vcf(work / f"sim_{n_s}x{n_v}.vcf.gz", n_s, n_v, seed=11 + i)
        rows.append(bench_file(vcf, work, f"{n_v // 1000}k variants x {n_s} samples"))
    print(
        f"{'file':32s} {'ours (s)':>9s} {'parse':>7s} {'hash':>7s} {'bcftools query':>15s} {'bcftools view -Ou':>18s} "
        f"{'ours/query':>10s} {'ours/view':>10s} {'peak RSS':>9s}"
    )
    for r in rows:
        print(
            f"{r['file']:32s} {r['ours_s']:9.2f} {r['parse_s']:7.2f} {r['hash_s']:7.2f} {r['query_s']:15.2f} "
            f"{r['view_s']:18.2f} {r['ratio_query']:10.2f} {r['ratio_view']:10.2f} {r['rss_mb']:7.0f} MB"
        )
    n_dag = sizes[0][0]
    wall, jobs = bench_dag(work / f"sim_{sizes[0][0]}x{sizes[0][1]}.vcf.gz", work, n_dag)
    print(f"snakemake -n, {n_dag} samples x 22 chromosomes (one VCF): {wall:.1f} s, {jobs} jobs")
    print(f"(this python's own peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
