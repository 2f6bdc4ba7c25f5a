#!/usr/bin/env python
"""Scale: a 1000 Genomes-sized cohort (2,504 unrelated people, msprime, 22 autosomes + X at reduced length)
through the default target on N cores, stage by stage.

    python benchmarks/bench_scale.py [--samples 2504] [--cores 2] [--batch 100] [--scale 1e-3] [--workdir DIR]

Prints: the simulation time; `snakemake -n` time and job count; the wall time of each stage (genome: parse +
hash; art: generate; karyograms: karyogram batches + contact sheet; recognition and reports: classify batches,
legibility, variant counts); per stage the job seconds and CPU seconds from Snakemake's benchmark files;
karyogram + classify amortised per sample; the peak RSS of any job; and the total. The cohort is cached in
the work directory (`--workdir`, default benchmarks/.scale-<samples>), so a rerun skips the simulation;
`--fresh` deletes results/ first (the default: always from clean).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
SNAKEFILE = REPO / "workflow" / "Snakefile"
STAGES = [  # (stage, snakemake target, rules timed in it)
    ("genome (parse_vcf + hash_latents)", "latents", ("parse_vcf", "hash_latents")),
    ("art (generate)", "tiles", ("generate",)),
    ("karyograms (karyogram + contact_sheet)", "karyograms", ("karyogram", "contact_sheet")),
    (
        "recognition + reports (classify, legibility, variant_counts)",
        None,
        ("classify", "legibility", "variant_counts"),
    ),
]


def simulate(work: Path, n: int, scale: float, seed: int, recombination: float) -> float:
    """The cohort VCF (phased, chr-prefixed, males haploid on X) and its sample sheet; cached."""
    from karyospectrum import AUTOSOMES
    from karyospectrum.simulate import scaled_lengths, simulate_chromosome, write_vcf

    vcf, sheet = work / "cohort.vcf.gz", work / "samples.tsv"
    if vcf.exists() and sheet.exists():
        return 0.0
    t0 = time.perf_counter()
    chroms = AUTOSOMES + ["X"]
    lengths = scaled_lengths(scale, chroms)
    sims = [
        simulate_chromosome(
            None, c, lengths[c], seed + 10 * i, n_unrelated=n, recombination_rate=1e-8 / scale
        )
        for i, c in enumerate(chroms)
    ]
    ids = [f"S{i:05d}" for i in range(n)]
    write_vcf(vcf, ids, sims)
    sheet.write_text("sample\tcohort\tvcf\n" + "".join(f"{s}\tkg\t{vcf}\n" for s in ids))
    print(
        f"simulated {n} people, {sum(len(s.positions) for s in sims)} sites in {time.perf_counter() - t0:.0f} s"
    )
    return time.perf_counter() - t0


def bench_rows(work: Path) -> pd.DataFrame:
    rows = []
    for tsv in sorted((work / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(work / "benchmarks").parts[0]
        b = pd.read_csv(tsv, sep="\t")
        cpu = float(b["cpu_time"].iloc[0]) if "cpu_time" in b else float("nan")
        rows.append(
            {"rule": rule, "s": float(b["s"].iloc[0]), "cpu_s": cpu, "rss_mb": float(b["max_rss"].iloc[0])}
        )
    return pd.DataFrame(rows, columns=["rule", "s", "cpu_s", "rss_mb"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=2504)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--batch", type=int, default=None, help="batch.samples (default: config/config.yaml's)")
    p.add_argument("--scale", type=float, default=1e-3, help="chromosome length vs hg38")
    p.add_argument("--seed", type=int, default=2504)
    p.add_argument(
        "--recombination",
        type=float,
        default=1e-7,
        help="per bp and generation (the cost of msprime, not of ours)",
    )
    p.add_argument("--workdir", default=None, help="default: benchmarks/.scale-<samples>")
    p.add_argument("--keep-results", action="store_true", help="do not delete results/ before the run")
    p.add_argument("--dry-run-only", action="store_true", help="simulate and time `snakemake -n` only")
    args = p.parse_args()

    work = Path(args.workdir or REPO / "benchmarks" / f".scale-{args.samples}").resolve()
    work.mkdir(parents=True, exist_ok=True)
    for name in ("config", "resources"):
        if not (work / name).exists():
            (work / name).symlink_to(REPO / name)
    sim_s = simulate(work, args.samples, args.scale, args.seed, args.recombination)
    extra = work / "bench.yaml"
    overrides = f"samples: {work / 'samples.tsv'}\nkaryogram:\n  pedigree_truth: ''\n"
    if args.batch:
        overrides += f"batch:\n  samples: {args.batch}\n"
    extra.write_text(overrides)
    if not args.keep_results:
        for d in ("results", "benchmarks", "logs", ".snakemake"):
            shutil.rmtree(work / d, ignore_errors=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    base = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(work)]
    base += ["--configfile", str(REPO / "config" / "config.yaml"), str(extra)]

    t0 = time.perf_counter()
    dry = subprocess.run([*base, "-n", "--cores", str(args.cores)], env=env, capture_output=True, text=True)
    dry_s = time.perf_counter() - t0
    jobs = re.search(r"^total\s+(\d+)", dry.stdout + dry.stderr, re.M)
    print(f"snakemake -n: {dry_s:.1f} s, {jobs.group(1) if jobs else '?'} jobs ({args.samples} samples)")
    if dry.returncode != 0 or args.dry_run_only:
        print(dry.stderr[-3000:], file=sys.stderr) if dry.returncode else None
        return dry.returncode

    walls, total0 = {}, time.perf_counter()
    for stage, target, _ in STAGES:
        t = time.perf_counter()
        run = subprocess.run(
            [*base, "--cores", str(args.cores), *([target] if target else [])],
            env=env,
            capture_output=True,
            text=True,
        )
        walls[stage] = time.perf_counter() - t
        print(f"  {stage}: {walls[stage]:.0f} s wall", flush=True)
        if run.returncode != 0:
            print(run.stderr[-4000:], file=sys.stderr)
            print(f"failed at {stage}; working directory: {work}", file=sys.stderr)
            return 1
    total = time.perf_counter() - total0

    b = bench_rows(work)
    b["step"] = b["rule"]
    n = args.samples
    print(
        f"\nthe default target, {n} samples, {args.cores} cores: {total:.0f} s wall ({total / 60:.1f} min), {len(b)} jobs"
    )
    print(f"(simulation: {sim_s:.0f} s, not counted)" if sim_s else "(cohort reused from the work directory)")
    rows = []
    for stage, _, rules in STAGES:
        sel = b[b["step"].isin(rules)]
        rows.append(
            {
                "stage": stage,
                "wall_s": round(walls[stage], 1),
                "jobs": len(sel),
                "job_s": round(sel["s"].sum(), 1),
                "cpu_s": round(sel["cpu_s"].sum(), 1),
                "wall_s_per_1000": round(walls[stage] / n * 1000, 1),
                "max_rss_mb": round(sel["rss_mb"].max(), 0) if len(sel) else 0,
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    per = b.groupby("step").agg(
        jobs=("s", "size"), job_s=("s", "sum"), cpu_s=("cpu_s", "sum"), max_rss_mb=("rss_mb", "max")
    )
    print("\nper rule:\n" + per.round(1).to_string())
    kc = b[b["step"].isin(["karyogram", "classify"])]
    print(
        f"\nkaryogram + classify per sample: {kc['s'].sum() / n:.3f} job-s, {kc['cpu_s'].sum() / n:.3f} CPU-s, "
        f"amortised on {args.cores} cores {kc['s'].sum() / n / args.cores:.3f} s (goal <= 0.5 s)"
    )
    print(f"peak RSS of any job: {b['rss_mb'].max():.0f} MB (goal < 2000 MB)")
    print(
        f"whole default target: {total / 60:.1f} min (goal < 30 min); load average now {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
