# The sample sheet, config validation and input functions; no rules here.
import functools
import re
import sys
from pathlib import Path

import pandas as pd
import yaml
from jsonschema import Draft202012Validator
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SCRIPTS = str(Path(workflow.basedir).parent / "scripts")
sys.path.insert(0, SCRIPTS)
from karyospectrum.batches import lost_batch_files
from karyospectrum.errors import InputError
from karyospectrum.keys import key_id, read_key
from karyospectrum.samplesheet import read_sample_sheet


def _config_error():
    """The first schema error of the config as one line (snakemake's own message dumps the schema)."""
    schema = yaml.safe_load(
        Path(workflow.basedir, "schemas/config.schema.yaml").read_text()
    )
    error = next(iter(Draft202012Validator(schema).iter_errors(config)))
    where = ".".join(str(p) for p in error.path) or "top level"
    if error.validator == "additionalProperties":
        known = ", ".join(error.schema.get("properties", {}))
        return f"config: {where}: {error.message.split(' (')[-1].rstrip(')')}; known keys: {known}"
    return f"config: {where}: {error.message.splitlines()[0]}"


try:
    validate(config, schema="../schemas/config.schema.yaml")
except WorkflowError:
    raise WorkflowError(_config_error()) from None

try:
    samples = read_sample_sheet(config["samples"])
    # the key is read here only to fingerprint it (params); hash_latents reads it itself, never from argv
    LATENT_KEY_ID = key_id(read_key(config["latent"]["key_file"] or None))
except InputError as err:
    raise WorkflowError(str(err)) from None
_cohort_vcfs = samples.groupby("cohort")["vcf"].unique()
COHORTS = sorted(_cohort_vcfs.index)
CHROMOSOMES = [str(c).removeprefix("chr") for c in config["chromosomes"]]


wildcard_constraints:
    cohort="|".join(map(re.escape, COHORTS)) or "NONE",
    chrom="|".join(map(re.escape, CHROMOSOMES)),
    sample="[^/]+",


# --- VCF inputs: each cohort's file is checked once here (magic bytes, header contigs, index presence).
# An indexed BGZF VCF or BCF is read where it is; any other (plain text, gzip, no index) is made an
# indexed BGZF under results/vcf/ by rule prepare_vcf, once. The user's folder is never written to.
from karyospectrum.genotypes import in_place, index_path

try:
    _VCF_IN_PLACE = {c: in_place(v[0], CHROMOSOMES) for c, v in _cohort_vcfs.items()}
except InputError as err:
    raise WorkflowError(f"{err} (sample sheet {config['samples']})") from None


def cohort_source_vcf(wildcards):
    """The cohort's VCF as the sample sheet names it."""
    return _cohort_vcfs[wildcards.cohort][0]


def cohort_vcf(wildcards):
    """The indexed BGZF/BCF that parse_vcf reads: the user's own file, or prepare_vcf's copy."""
    if _VCF_IN_PLACE[wildcards.cohort]:
        return cohort_source_vcf(wildcards)
    return f"results/vcf/{wildcards.cohort}.vcf.gz"


def cohort_vcf_index(wildcards):
    if _VCF_IN_PLACE[wildcards.cohort]:
        return str(index_path(Path(cohort_source_vcf(wildcards))))
    return f"results/vcf/{wildcards.cohort}.vcf.gz.tbi"


def genotype_targets():
    """Prepared VCFs and genotype files: targets too, so that one a killed job removed is made again."""
    prepared = [c for c in COHORTS if not _VCF_IN_PLACE[c]]
    return expand("results/vcf/{cohort}.vcf.gz", cohort=prepared) + expand(
        "results/genotypes/{cohort}/{chrom}.npz", cohort=COHORTS, chrom=CHROMOSOMES
    )


def latent_key_file():
    """The key file hash_latents reads the secret key from (an input, so a new key file reruns it)."""
    return config["latent"]["key_file"] or []


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
COHORT_SIZE = samples["cohort"].value_counts().to_dict()


def batch_report(files, batch, **report_options):
    """A batch's per-sample pictures, flagged for `snakemake --report` when its cohort is small enough
    (config karyogram.report_samples); a larger cohort is in the report by its contact sheet.
    """
    if COHORT_SIZE[BATCH_COHORT[batch]] > config["karyogram"]["report_samples"]:
        return files
    return report(files, **report_options)


def batch_rule(step, batch):
    """The name of one batch's rule, e.g. karyogram_example_0 (rule names are identifiers)."""
    return f"{step}_" + re.sub(r"\W", "_", batch)


def batch_files(batch, pattern):
    """Per-sample files of a batch, e.g. batch_files(b, "results/karyograms/{sample}.png")."""
    # str.format, as expand() would with one wildcard ({{style}} stays a wildcard), at a tenth of its cost
    return [pattern.format(sample=s) for s in BATCHES[batch]]


def batch_manifest(step, batch):
    """The TSV a batch job writes last (sample + its files): what the cohort-wide steps take as input, so
    that the DAG resolves one file per batch instead of every sample's files."""
    return f"results/batches/{step}/{batch}.tsv"


def batch_manifests(step, cohort=None):
    """Every batch's manifest of a step (of one cohort, when given)."""
    return [
        batch_manifest(step, b)
        for b in BATCHES
        if cohort is None or BATCH_COHORT[b] == cohort
    ]


@functools.cache
def lost_files(step):
    """Files a finished batch of the step lists but that are gone: targets, so that their batch runs again
    (the DAG otherwise sees a batch by its manifest only). Read once per parse."""
    return lost_batch_files(batch_manifests(step))


def batch_targets(step):
    """A step's batch manifests plus any file a finished batch lists but that has gone missing: as targets,
    they make exactly the batches that lost a file run again."""
    return batch_manifests(step) + list(lost_files(step))


def batch_sexes(batch):
    """The sample sheet's optional `sex` per sample of a batch; "auto" (an empty cell): infer from the tiles
    present. (A word, not "": the shell's :q drops empty items of a list.)"""
    if "sex" not in samples.columns:
        return ["auto"] * len(BATCHES[batch])
    return [samples.loc[s, "sex"] or "auto" for s in BATCHES[batch]]


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
    # The contact sheets need every karyogram batch (by its manifest); listing each sample's files would
    # only slow the DAG. Files a finished batch lists but that are gone are targets: their batch runs again.
    return expand("results/contact_sheets/{cohort}.png", cohort=COHORTS) + list(
        lost_files("karyogram")
    )


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
        # the legibility table needs every sample's classify files
        targets += ["results/classify/legibility.tsv"]
    targets += expand(
        "results/classify/inputs/{input}.{ext}",
        input=CLASSIFY_INPUTS,
        ext=["tsv", "karyogram.png"],
    )
    return targets


def all_targets():
    # Karyograms, contact sheets, the report plots and the art's legibility; they pull in every stage.
    # The intermediates are targets too: Snakemake deletes a job's outputs when the job starts, and after
    # a kill it would not remake a missing intermediate whose downstream files still exist.
    intermediates = genotype_targets() + genome_targets() + art_targets()
    # (and each sample's classify files, which feed only the legibility table: by their batch manifests,
    # which make a batch job that lost any of its files run again)
    if config["classifier"]["art"]:
        intermediates += batch_targets("classify")
    return (
        intermediates + karyogram_targets() + report_targets() + recognition_targets()
    )


def script(name):
    """Path of a step script, for a rule's params (the shell then names only rule fields)."""
    return f"{SCRIPTS}/{name}.py"
