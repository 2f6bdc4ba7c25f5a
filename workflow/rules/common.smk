# The sample sheet, config validation and input functions; no rules here.
import re
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

samples = pd.read_csv(config["samples"], sep="\t", dtype=str, comment="#").fillna("")
validate(samples, schema="../schemas/samples.schema.yaml", set_default=True)
if "vcf_sample" not in samples.columns:
    samples["vcf_sample"] = ""
samples["vcf_sample"] = samples["vcf_sample"].where(
    samples["vcf_sample"] != "", samples["sample"]
)
if samples["sample"].duplicated().any():
    raise ValueError(
        f"{config['samples']}: duplicate sample ids: "
        + ", ".join(sorted(samples.loc[samples["sample"].duplicated(), "sample"]))
    )
samples = samples.set_index("sample", drop=False)

# Samples sharing a VCF form a cohort: jobs run per cohort x chromosome, never per sample x chromosome.
_cohort_vcfs = samples.groupby("cohort")["vcf"].unique()
for _cohort, _vcfs in _cohort_vcfs.items():
    if len(_vcfs) != 1:
        raise ValueError(
            f"{config['samples']}: cohort {_cohort!r} lists {len(_vcfs)} VCFs; a cohort shares one VCF"
        )
COHORTS = sorted(_cohort_vcfs.index)
CHROMOSOMES = [str(c).removeprefix("chr") for c in config["chromosomes"]]


wildcard_constraints:
    cohort="|".join(map(str, COHORTS)) or "NONE",
    chrom="|".join(CHROMOSOMES),
    sample="[^/]+",


def cohort_vcf(wildcards):
    return _cohort_vcfs[wildcards.cohort][0]


def cohort_samples(cohort):
    return list(samples.loc[samples["cohort"] == cohort, "sample"])


def latent_af_table():
    """The allele-frequency table hash_latents centres with, when latent.centering is af_table."""
    if config["latent"]["centering"] == "af_table":
        return config["latent"]["af_table"]
    return []


def genome_targets():
    return expand(
        "results/latents/{cohort}/{chrom}.npz", cohort=COHORTS, chrom=CHROMOSOMES
    )


# --- karyogram stage (rules/karyogram.smk) ---
KARYOGRAM_AUTOSOMES = [c for c in CHROMOSOMES if c not in ("X", "Y")]


# Batches: the per-sample steps (karyogram, classify) run one job per batch of samples. A batch is a run of
# config batch.samples consecutive samples of one cohort, in sample-sheet order, so that an edit to one
# sample's row redoes only its own batch (adding or removing a sample shifts only the batches after it).
def _batches(size):
    out = {}
    for cohort in COHORTS:
        members = list(samples.loc[samples["cohort"] == cohort, "sample"])
        for start in range(0, len(members), size):
            out[f"{cohort}.{start // size}"] = members[start : start + size]
    return out


BATCHES = _batches(config["batch"]["samples"])
BATCH_COHORT = {b: b.rsplit(".", 1)[0] for b in BATCHES}


def batch_rule(step, batch):
    """The name of one batch's rule, e.g. karyogram_example_0 (rule names are identifiers)."""
    return f"{step}_" + re.sub(r"\W", "_", batch)


def batch_files(batch, pattern):
    """Per-sample files of a batch, e.g. batch_files(b, "results/karyograms/{sample}.png")."""
    return expand(pattern, sample=BATCHES[batch])


def batch_sexes(batch):
    """The sample sheet's optional `sex` per sample of a batch; "" means: infer from the tiles present."""
    if "sex" not in samples.columns:
        return [""] * len(BATCHES[batch])
    return [samples.loc[s, "sex"] or "" for s in BATCHES[batch]]


def batch_step_settings(step, rule_name):
    """Give a batch rule its step's set-threads / set-resources (profiles name steps, e.g. `classify`, not
    batch rules); resource expressions there see `input`, whose named lists hold one file per sample.
    """
    from snakemake.resources import Resource

    batch_job_rule, settings = workflow.get_rule(rule_name), workflow.resource_settings
    threads = settings.overwrite_threads.get(step)
    if threads is not None:
        batch_job_rule.resources["_cores"] = (
            threads if isinstance(threads, Resource) else Resource("_cores", threads)
        )
    batch_job_rule.resources.update(settings.overwrite_resources.get(step, {}))


def pedigree_cohorts():
    """Cohorts holding both samples of at least one pair of the pedigree truth (config karyogram.pedigree_truth)."""
    truth = config["karyogram"]["pedigree_truth"]
    if not truth or not Path(truth).is_file():
        return []
    pairs = pd.read_csv(truth, sep="\t", dtype=str, usecols=["sample_a", "sample_b"])
    cohort_of = samples["cohort"].to_dict()
    return sorted(
        {
            cohort_of[a]
            for a, b in zip(pairs["sample_a"], pairs["sample_b"])
            if a in cohort_of and b in cohort_of and cohort_of[a] == cohort_of[b]
        }
    )


def karyogram_targets():
    # The contact sheets need every sample's karyogram; listing those again would only slow the DAG.
    return expand("results/contact_sheets/{cohort}.png", cohort=COHORTS)


def report_targets():
    return expand(
        "results/report/{cohort}/variant_counts.png", cohort=COHORTS
    ) + expand("results/report/{cohort}/kinship.png", cohort=pedigree_cohorts())


# --- recognition: the classifier, and the image inputs listed in config ---
CLASSIFIER = config["classifier"]["checkpoint"]


def _input_name(path):
    """results/classify/inputs/<name>: the input's file or folder name, made path-safe."""
    p = Path(str(path).rstrip("/"))
    stem = p.name if p.is_dir() or not p.suffix else p.stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "input"


CLASSIFY_INPUTS = {_input_name(p): str(p) for p in config["classifier"]["inputs"]}
if len(CLASSIFY_INPUTS) != len(config["classifier"]["inputs"]):
    raise ValueError("classifier.inputs: two inputs share a file or folder name")


def classify_input_flags(wildcards):
    """classify.py's input flags for one entry of classifier.inputs: a list, each item quoted by the shell's :q."""
    path = CLASSIFY_INPUTS[wildcards.input]
    group = config["classifier"]["group_by"]
    if Path(path).is_dir():
        return ["--folder", path] + (["--as-cell"] if group == "" else [])
    if path.lower().endswith(".csv"):
        return ["--manifest", path] + (["--group-by", group] if group else [])
    return ["--image", path, "--spread"]


def recognition_targets():
    targets = []
    if config["classifier"]["art"]:
        targets += ["results/classify/legibility.tsv"]  # it needs every sample's classify files
    targets += expand(
        "results/classify/inputs/{input}.{ext}",
        input=CLASSIFY_INPUTS,
        ext=["tsv", "karyogram.png"],
    )
    return targets


def all_targets():
    # Karyograms, contact sheets, the report plots and the art's legibility; they pull in every stage.
    return karyogram_targets() + report_targets() + recognition_targets()


SCRIPTS = str(Path(workflow.basedir).parent / "scripts")


def script(name):
    """Path of a step script, for a rule's params (the shell then names only rule fields)."""
    return f"{SCRIPTS}/{name}.py"
