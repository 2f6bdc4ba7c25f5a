"""Hostile sample sheets and configs: nothing they hold runs as code, and the secret key never leaks."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from karyospectrum.genotypes import GenotypeFile

PAYLOAD = "$(id>PWNED)"


def snakemake(work: Path, *args, env=None):
    env = {
        **os.environ,
        **(env or {}),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=work, capture_output=True, text=True, env=env
    )
    proc.out = proc.stdout + proc.stderr  # snakemake's errors go to stdout or stderr, by version
    return proc


@pytest.fixture
def work(tmp_path):
    work = tmp_path / "work"
    for d in ("workflow", "scripts", "config", "envs"):
        shutil.copytree(REPO / d, work / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (work / "resources/example").mkdir(parents=True)
    for f in ("cohort.vcf.gz", "cohort.vcf.gz.tbi", "pedigree_truth.tsv"):
        shutil.copy(REPO / "resources/example" / f, work / "resources/example" / f)
    (work / "resources/models").symlink_to(REPO / "resources/models")
    return work


def plant_vcf(work: Path, name: str) -> str:
    """The example VCF (and index) under a hostile file name, in a folder of its own."""
    (work / "inj").mkdir(exist_ok=True)
    for ext in ("", ".tbi"):
        shutil.copy(work / f"resources/example/cohort.vcf.gz{ext}", work / "inj" / f"{name}{ext}")
    return f"inj/{name}"


def no_code_ran(work: Path):
    assert not list(work.rglob("PWNED*")), "a shell payload ran"


def test_vcf_path_from_the_sheet_is_not_run(work):
    # the attack of issue 14, as reported: the payload is a file name; the decoy is what an unquoted shell would read
    vcf = plant_vcf(work, f"x{PAYLOAD}.vcf.gz")
    (work / "inj.tsv").write_text(f"sample\tcohort\tvcf\nFAM1_father\tinj\t{vcf}\n")
    proc = snakemake(work, "latents", "--cores", "2", "--config", "samples=inj.tsv", 'chromosomes=["21"]')
    assert proc.returncode == 0, proc.out[-2000:]
    no_code_ran(work)
    assert not (work / "inj/x.vcf.gz").exists()  # the job read the declared file, not a decoy
    with GenotypeFile(work / "results/genotypes/inj/21.npz") as g:
        assert list(g.samples) == ["FAM1_father"] and g.n_variants > 0


@pytest.mark.parametrize("name", ['it\'s a "file" (1).vcf.gz', "semi;colon & `tick` $HOME.vcf.gz"])
def test_odd_but_honest_paths_work(work, name):
    vcf = plant_vcf(work, name)
    (work / "odd.tsv").write_text(f"sample\tcohort\tvcf\nFAM1_mother\todd\t{vcf}\n")
    proc = snakemake(work, "latents", "--cores", "1", "--config", "samples=odd.tsv", 'chromosomes=["22"]')
    assert proc.returncode == 0, proc.out[-2000:]
    assert (work / "results/latents/odd/22.npz").exists()


@pytest.mark.parametrize(
    "row, message",
    [
        (f"FAM1_father\tc{PAYLOAD}\tVCF", "cohort"),
        ("x;id>PWNED\tc\tVCF", "sample"),
        ("a b\tc\tVCF", "sample"),
        ("../up\tc\tVCF", "sample"),
        ("FAM1_father\t..\tVCF", "cohort"),
        ("FAM1_father\tc\tVCF\tFAM1_father\tXX;id", "sex"),
    ],
)
def test_unsafe_names_in_the_sheet_are_refused_in_one_line(work, row, message):
    (work / "bad.tsv").write_text(
        "sample\tcohort\tvcf\tvcf_sample\tsex\n"
        + row.replace("VCF", "resources/example/cohort.vcf.gz")
        + "\n"
    )
    proc = snakemake(work, "-n", "--config", "samples=bad.tsv")
    assert proc.returncode != 0
    lines = [ln for ln in proc.out.splitlines() if "bad.tsv" in ln]
    assert len(lines) == 1 and message in lines[0], proc.out
    assert "Traceback" not in proc.out
    no_code_ran(work)


@pytest.mark.parametrize("chrom", ["1/2", "21 22", "21;id>PWNED", f"21{PAYLOAD}"])
def test_unsafe_chromosome_names_are_refused(work, chrom):
    proc = snakemake(work, "-n", "--config", f"chromosomes={[chrom]!r}")
    assert proc.returncode != 0 and "config: chromosomes" in proc.out, proc.out
    no_code_ran(work)


@pytest.mark.parametrize(
    "override, rule_script, payload",
    [
        ("generator={'device': 'auto;id>PWNED'}", "generate.py", "auto;id>PWNED"),
        ("classifier={'device': 'cpu'}", "classify.py", "cpu"),
        (
            "train_classifier={'data': 'crops', 'heldout': [], 'init': '', 'extra_args': '--epochs 3 ;id>PWNED'}",
            "train_classifier.py",
            ";id>PWNED",
        ),
        (
            "train_generator={'overrides': {'epochs': '$(id>PWNED)'}}",
            "train_generator.py",
            'epochs="$(id>PWNED)"',
        ),
        (
            "train_generator={'init': 'g$(id>PWNED).safetensors'}",
            "train_generator.py",
            "g$(id>PWNED).safetensors",
        ),
        ("karyogram={'pedigree_truth': 'x$(id>PWNED).tsv'}", "karyogram.py", "x$(id>PWNED).tsv"),
    ],
)
def test_config_values_reach_commands_as_single_arguments(work, override, rule_script, payload):
    targets = []
    if "train_classifier" in override:
        (work / "crops").mkdir()
        (work / "crops/manifest.csv").write_text("path,chrom,cell_id\n")
        targets = ["results/models/classifier.json"]
    elif "train_generator" in override:
        targets = ["results/models/generator-abstract.json"]  # a procedural style: no source files needed
        (work / "g$(id>PWNED).safetensors").write_bytes(b"")  # the declared init weights exist
    proc = snakemake(work, "-n", "-p", "--forceall", *targets, "--config", override)
    commands = [
        ln.split("Shell command: ", 1)[1] for ln in proc.stdout.splitlines() if "Shell command: " in ln
    ]
    if "pedigree" in override:  # a missing truth file only drops the kinship plot
        assert proc.returncode == 0, proc.out[-2000:]
        assert not any(payload in c for c in commands)
        return
    assert proc.returncode == 0, proc.out[-2000:]
    mine = [c for c in commands if rule_script in c]
    assert mine, commands
    for command in mine:
        argv = shlex.split(command)
        # a shell sees the payload as one argument (or not at all), never as separate words or commands
        assert payload in argv or payload not in command, command
    no_code_ran(work)


def test_mistyped_config_keys_are_refused(work):
    for override in ("bogus_key=1", "latent={'Key': 'my-secret'}", "karyogram={'colour': 'red'}"):
        proc = snakemake(work, "-n", "--config", override)
        assert proc.returncode != 0, override
        assert "was unexpected; known keys:" in proc.out, proc.out
        assert "my-secret" not in proc.out


def test_the_secret_key_never_leaks(work):
    secret = "s3cret-" + secrets.token_hex(12)
    (work / "my.key").write_text(secret + "\n")
    proc = snakemake(
        work,
        "latents",
        "--cores",
        "2",
        "--config",
        "latent={'key_file': 'my.key'}",
        'chromosomes=["21", "22"]',
    )
    assert proc.returncode == 0, proc.out[-2000:]
    z = np.load(work / "results/latents/example/21.npz")
    assert str(z["key_id"]).startswith("scrypt:")
    assert secret not in proc.out
    for folder in (".snakemake", "logs", "results", "benchmarks"):
        for f in (work / folder).rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes(), f
    # the same key by environment variable gives the same latents, and another key reruns and changes them
    proc = snakemake(
        work, "latents", "--cores", "2", "--config", 'chromosomes=["21"]', env={"KARYOSPECTRUM_KEY": secret}
    )
    assert proc.returncode == 0, proc.out[-2000:]
    z2 = np.load(work / "results/latents/example/21.npz")
    assert np.array_equal(z["latents"], z2["latents"]) and str(z["key_id"]) == str(z2["key_id"])


def test_key_fingerprint_is_salted_and_slow():
    from karyospectrum.keys import DEFAULT_KEY, key_id, read_key

    fp = key_id("a-weak-key")
    assert fp.startswith("scrypt:") and "a-weak-key" not in fp and fp != key_id("a-weak-kez")
    assert read_key(None, environ={}) == DEFAULT_KEY
    assert read_key(None, environ={"KARYOSPECTRUM_KEY": "k"}) == "k"
