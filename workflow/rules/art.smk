# Rules of the art stage: latents -> tiles (one PNG per sample x chromosome x present copy).
import shlex

from karyospectrum.karyogram import tile_geometry
from karyospectrum.painting import style_checkpoint

# The tiles folder of every cohort (a lambda, not a def: snakemake --lint flags functions beside rules).
art_targets = lambda: expand("results/tiles/{cohort}", cohort=COHORTS)


# generator.style picks a bundled resources/models/generator-{style}.safetensors (beside the workflow);
# generator.checkpoint, when set (relative to the working directory), wins.
BUNDLED_MODELS = Path(workflow.basedir).parent / "resources" / "models"
try:
    GENERATOR_CHECKPOINT = style_checkpoint(
        config["generator"]["style"],
        config["generator"]["checkpoint"],
        BUNDLED_MODELS,
    )
except InputError as err:
    raise WorkflowError(f"config: generator.style: {err}") from None
# Tiles are painted at the karyogram's silhouette sizes (scaled up for a poster: karyogram.paper, dpi).
TILE_GEOMETRY = tile_geometry(
    config["karyogram"]["chrom1_height"],
    config["karyogram"]["chromatid_width"],
    config["karyogram"]["dpi"],
    config["karyogram"]["paper"],
)


rule generate:
    input:
        latents=expand("results/latents/{{cohort}}/{chrom}.npz", chrom=CHROMOSOMES),
        checkpoint=GENERATOR_CHECKPOINT,
        card=str(Path(GENERATOR_CHECKPOINT).with_suffix(".json")),
    output:
        directory("results/tiles/{cohort}"),
    log:
        "logs/generate/{cohort}.log",
    benchmark:
        "benchmarks/generate/{cohort}.tsv"
    conda:
        "../../envs/art.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        script=script("generate"),
        batch_size=config["generator"]["batch_size"],
        device=config["generator"]["device"],
        autocast=[] if config["generator"]["autocast"] else ["--no-autocast"],
        compress=config["generator"]["png_compress_level"],
        chrom1_height=TILE_GEOMETRY[0],
        chromatid_width=TILE_GEOMETRY[1],
    shell:
        "python {params.script:q} --latents {input.latents:q} --checkpoint {input.checkpoint:q}"
        " --out {output:q} --batch-size {params.batch_size:q} --device {params.device:q} {params.autocast:q}"
        " --compress-level {params.compress:q} --chrom1-height {params.chrom1_height:q}"
        " --chromatid-width {params.chromatid_width:q} --threads {threads:q} --log {log:q}"


rule tiles:
    input:
        art_targets(),


# One art style's dataset: random crops + augmentations cached on disk, with a held-out split for FID.
# The source folder is filled beforehand by scripts/fetch_art_sources.sh (the workflow never downloads).
rule style_dataset:
    input:
        source=lambda wc: (
            []
            if config["styles"][wc.style]["source"] == "procedural"
            else config["styles"][wc.style]["source"]
        ),
    output:
        directory("results/datasets/{style}"),
    log:
        "logs/style_dataset/{style}.log",
    benchmark:
        "benchmarks/style_dataset/{style}.tsv"
    wildcard_constraints:
        style="|".join(map(re.escape, config["styles"])),
    conda:
        "../../envs/art.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        script=script("style_dataset"),
        source=lambda wc: config["styles"][wc.style]["source"],
        license=lambda wc: config["styles"][wc.style]["license"],
        options=shlex.join(
            f"--{k.replace('_', '-')}={v}" for k, v in config["style_dataset"].items()
        ),
    shell:
        "python {params.script:q} --style {wildcards.style:q} --source {params.source:q}"
        " --license {params.license:q} {params.options} --out {output:q}"
        " --threads {threads} --log {log:q}"
