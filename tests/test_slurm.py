"""The SLURM profile against a real single-node SLURM with two fake GPUs (`.ci/slurm-up` starts one).

Skipped when no SLURM answers (a workstation); CI starts one before the tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from test_workflow import snakemake, workdir_copy


def slurm_idle() -> bool:
    if not shutil.which("sinfo") or not shutil.which("sbatch"):
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0 and "idle" in out.stdout


pytestmark = pytest.mark.skipif(not slurm_idle(), reason="no SLURM cluster answers here (run .ci/slurm-up)")

# site settings of the local test cluster, on top of the repository's profile
LOCAL = [
    "--workflow-profile",
    "workflow/profiles/slurm",
    "--default-resources",
    "slurm_partition=debug",
    "mem_mb=400",
    "runtime=10",
    "cpus_per_task=1",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--latency-wait",
    "5",
    "--jobs",
    "4",
    "--group-components",
    "genome=2",
    "reports=2",  # a 2-CPU node: at most 2 grouped jobs side by side
]
# ... and for the whole default target: one partition, a node with 8 GB (generate fits in 2 GB for the example)
LOCAL_ALL = [
    *LOCAL,
    "--set-resources",
    "generate:slurm_partition=debug",
    "generate:mem_mb=2000",
    "classify:slurm_partition=debug",
]


def test_profile_maps_gpu_rules_to_gpus(tmp_path):
    """A dry run through the profile: GPU rules carry gpu=1 and the GPU partition."""
    work = workdir_copy(tmp_path)
    proc = snakemake("-n", "--workflow-profile", "workflow/profiles/slurm", "--printshellcmds", cwd=work)
    assert "parse_vcf" in proc.stdout + proc.stderr


def test_latents_through_real_slurm(tmp_path):
    work = workdir_copy(tmp_path)
    # a smaller run: three chromosomes
    proc = snakemake("latents", *LOCAL, "--config", 'chromosomes=["20", "21", "X"]', cwd=work)
    for chrom in ("20", "21", "X"):
        assert (work / f"results/latents/example/{chrom}.npz").exists()
    # the jobs really went through SLURM
    assert re.search(r"SLURM run ID|SLURM jobid|submitted with SLURM", proc.stdout + proc.stderr, re.I), (
        proc.stderr[-2000:]
    )


def test_batched_default_target_through_real_slurm(tmp_path):
    """The default target (three chromosomes), its per-sample steps batched: 13 samples in batches of 7
    make 2 karyogram + 2 classify submissions, and every sample gets its usual files."""
    work = workdir_copy(tmp_path)
    (work / "batch.yaml").write_text("batch:\n  samples: 7\nchromosomes: ['20', '21', 'X']\n")
    config = ["--configfile", "config/config.yaml", "batch.yaml"]
    dry = snakemake("-n", *LOCAL_ALL, *config, cwd=work)
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", dry.stdout, re.M))
    assert [r for r in jobs if r.startswith("karyogram_")] == ["karyogram_example_0", "karyogram_example_1"]
    assert sum(r.startswith("classify_") for r in jobs) == 2 and "karyogram" not in jobs
    proc = snakemake(*LOCAL_ALL, *config, cwd=work)
    ids = [line.split("\t")[0] for line in (work / "config/samples.tsv").read_text().splitlines()[1:]]
    for sample in ids:
        for f in (f"karyograms/{sample}.png", f"karyograms/{sample}.layout.json", f"classify/{sample}.json"):
            assert (work / "results" / f).stat().st_size > 0, f
    assert (work / "results/classify/legibility.tsv").read_text().count("\n") == len(ids) + 1
    assert (work / "results/contact_sheets/example.png").exists()
    out = proc.stdout + proc.stderr
    submitted = re.findall(r"SLURM jobid (\d+)", out, re.I)
    assert len(submitted) <= 24, f"{len(submitted)} submissions: the small jobs should be grouped"
    # the classify batches asked SLURM for a GPU each
    shown = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
    gpu_jobs = [line for line in shown.splitlines() if "gpu" in line.lower() and "classify" in line]
    assert len(gpu_jobs) >= 2, shown[-3000:]


def test_gpu_job_gets_its_own_device(tmp_path):
    """A rule with gpu=1 is submitted with --gpus=1 and sees CUDA_VISIBLE_DEVICES from SLURM."""
    work = workdir_copy(tmp_path)
    (work / "workflow/rules/gpu_probe.smk").write_text(
        "rule gpu_probe:\n"
        "    output:\n        'results/gpu_probe/{i}.json',\n"
        "    resources:\n        gpu=1,\n"
        "    shell:\n"
        "        \"python -c \\\"import json, os; json.dump({{'cuda': os.environ.get('CUDA_VISIBLE_DEVICES'),"
        " 'job': os.environ.get('SLURM_JOB_ID')}}, open('{output}', 'w'))\\\"\"\n"
    )
    snakefile = work / "workflow/Snakefile"
    snakefile.write_text(snakefile.read_text() + '\ninclude: "rules/gpu_probe.smk"\n')
    snakemake("results/gpu_probe/0.json", "results/gpu_probe/1.json", *LOCAL, cwd=work)
    seen = [json.loads((work / f"results/gpu_probe/{i}.json").read_text()) for i in (0, 1)]
    assert all(s["job"] for s in seen)
    assert all(s["cuda"] in ("0", "1") for s in seen), seen
