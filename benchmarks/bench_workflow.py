#!/usr/bin/env python
"""Time the default target (`snakemake --cores N`) on the bundled example from a clean results directory.

Runs in a fresh temporary working directory (config/ and resources/ linked from the repository), so
nothing is reused; prints the wall time, the per-rule time from Snakemake's benchmark files, and the
number of karyograms made. Goal: < 2 minutes on 2 CPU cores.

    python benchmarks/bench_workflow.py --cores 2 [--report] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"


def write_picture(src: Path, dst: str, width: int) -> None:
    """The README's picture: one karyogram of this run, shrunk (and palette-quantized if still > 500 KB)."""
    from PIL import Image

    img = Image.open(src).convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, format="PNG", optimize=True)
    if Path(dst).stat().st_size > 500_000:
        img.quantize(256, method=Image.Quantize.MEDIANCUT).save(dst, format="PNG", optimize=True)
    print(f"picture: {dst} ({Path(dst).stat().st_size // 1024} KB, from {src.name})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--report", action="store_true", help="also time `snakemake --report report.html`")
    p.add_argument("--keep", action="store_true", help="keep the working directory (printed)")
    p.add_argument("--target", nargs="*", default=[], help="targets (default: the default target)")
    p.add_argument("--config", nargs="*", default=[], help="KEY=VALUE pairs passed to snakemake --config")
    p.add_argument("--picture", default=None, help="also write this sample's karyogram, shrunk, here")
    p.add_argument("--picture-sample", default="FAM1_child1", help="the sample for --picture")
    p.add_argument("--picture-width", type=int, default=800, help="pixels wide for --picture")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="karyospectrum-bench-"))
    for name in ("config", "resources"):
        (work / name).symlink_to(REPO / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    base = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(work)]
    config = ["--config", *args.config] if args.config else []
    t0 = time.perf_counter()
    run = subprocess.run(
        [*base, "--cores", str(args.cores), *args.target, *config], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        print(run.stderr[-4000:], file=sys.stderr)
        print(f"snakemake failed (exit {run.returncode}); working directory kept: {work}", file=sys.stderr)
        return 1
    rows = []
    for tsv in sorted((work / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(work / "benchmarks").parts[0]
        bench = pd.read_csv(tsv, sep="\t")
        rows.append(
            {"rule": rule, "s": float(bench["s"].iloc[0]), "max_rss_mb": float(bench["max_rss"].iloc[0])}
        )
    per_rule = (
        pd.DataFrame(rows)
        .groupby("rule")
        .agg(
            jobs=("s", "size"), total_s=("s", "sum"), max_job_s=("s", "max"), max_rss_mb=("max_rss_mb", "max")
        )
    )
    n_kg = len(list((work / "results" / "karyograms").glob("*.layout.json")))
    print(
        f"snakemake --cores {args.cores}: {wall:.1f} s wall, {n_kg} karyograms, {int(per_rule['jobs'].sum())} jobs"
    )
    print(per_rule.sort_values("total_s", ascending=False).round(1).to_string())
    if args.report:
        t0 = time.perf_counter()
        rep = subprocess.run(
            [*base, "--report", str(work / "report.html")], env=env, capture_output=True, text=True
        )
        status = "ok" if rep.returncode == 0 else f"failed: {rep.stderr[-500:]}"
        print(f"snakemake --report: {time.perf_counter() - t0:.1f} s ({status})")
    if args.picture:
        write_picture(
            work / "results" / "karyograms" / f"{args.picture_sample}.png", args.picture, args.picture_width
        )
    if args.keep:
        print(f"working directory: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
