"""A kill -9 leaves neither debris nor holes (issue 12 §5).

A real `snakemake --cores 2 --forceall` run is killed (SIGKILL to its whole process group, as an OOM kill
or a cancelled cluster job does) at the genome, art, karyogram and classify stages. After
`snakemake --unlock` and a plain `snakemake --cores 2`, results/ must hold exactly the files of a clean
run, byte for byte: no missing output, no hidden temporary. The run is reduced (2 samples, 2 chromosomes).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from karyospectrum.io import atomic_path, sweep_temporaries
from test_workflow import workdir_copy

CONFIG = ["--config", "samples=config/kill_rerun.tsv", 'chromosomes=["22","X"]']
# the rule whose log appearing (written by the job's own script) means that stage is running
STAGES = {"genome": "parse_vcf", "art": "generate", "karyogram": "karyogram", "classify": "classify"}


def snakemake_cmd(*args):
    return [sys.executable, "-m", "snakemake", *args, *CONFIG]


def env():
    # the rules call `python`: make it this interpreter, as an activated venv would
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(work, *args):
    proc = subprocess.run(snakemake_cmd(*args), cwd=work, capture_output=True, text=True, env=env())
    assert proc.returncode == 0, (
        f"snakemake {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def tree(work: Path) -> dict[str, str]:
    """Every file under results/ (hidden ones too) -> sha256 of its bytes."""
    root = work / "results"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def kill_during(work: Path, rule: str, timeout: float = 300) -> None:
    """Start a --forceall run and SIGKILL its process group as soon as a `rule` job has started."""
    start = time.time()
    proc = subprocess.Popen(
        snakemake_cmd("--cores", "2", "--forceall"),
        cwd=work,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    logs = work / "logs" / rule
    try:
        while time.time() - start < timeout:
            if proc.poll() is not None:
                pytest.fail(f"the run ended (status {proc.returncode}) before a {rule} job started")
            if any(_newer(p, start) for p in (logs.rglob("*.log") if logs.exists() else [])):
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"no {rule} job started within {timeout} s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _newer(path: Path, start: float) -> bool:
    try:
        return path.stat().st_mtime >= start
    except FileNotFoundError:  # an old log that Snakemake removed as its job started
        return False


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    work = workdir_copy(tmp_path_factory.mktemp("kill"))
    lines = (work / "config/samples.tsv").read_text().splitlines()
    keep = [ln for ln in lines[1:] if ln.split("\t")[0] in ("FAM1_father", "FAM1_child1")]
    (work / "config/kill_rerun.tsv").write_text("\n".join([lines[0], *keep]) + "\n")
    run(work, "--cores", "2")
    return work, tree(work)


@pytest.mark.parametrize("stage", list(STAGES))
def test_rerun_after_kill_gives_the_clean_runs_files(clean_run, stage):
    work, clean = clean_run
    kill_during(work, STAGES[stage])
    run(work, "--unlock")
    run(work, "--cores", "2")
    after = tree(work)
    missing = sorted(set(clean) - set(after))
    extra = sorted(set(after) - set(clean))
    assert not missing and not extra, f"after a kill in the {stage} stage: missing {missing}, extra {extra}"
    changed = sorted(f for f in clean if clean[f] != after[f])
    assert not changed, f"after a kill in the {stage} stage these differ from the clean run: {changed}"


def test_a_killed_writers_temporary_is_swept_by_the_next_writer(tmp_path):
    out = tmp_path / "karyograms" / "S1.png"
    out.parent.mkdir()
    stale = out.parent / ".S1.png.k3x9q2ab.tmp.png"  # what atomic_path leaves when killed mid-write
    stale.write_bytes(b"half a png")
    neighbour = out.parent / ".S1.png.json.k3x9q2ab.tmp.json"  # output S1.png.json's temporary: not ours
    neighbour.write_text("{")
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"a whole png")
    assert out.read_bytes() == b"a whole png"
    assert not stale.exists() and neighbour.exists()
    assert sweep_temporaries(out.parent / "S1.png.json") == [neighbour]
    assert sorted(p.name for p in out.parent.iterdir()) == ["S1.png"]
