# Rules of the pix2pix painter: latents -> genome sketches (per cohort) -> sketch karyograms (per batch);
# sketches -> paintings in each style of pix2pix.styles (per cohort x style, the model loaded once)
# -> style karyograms (per batch x style) with the karyogram's layout; and rule train_pix2pix.
import json

PIX2PIX = config["pix2pix"]
PIX2PIX_MODELS = PIX2PIX["models"]
# Bundled styles live beside the workflow (like the generator's) when the working directory has no such folder.
if (
    PIX2PIX_MODELS != "results/models"
    and not Path(PIX2PIX_MODELS).is_dir()
    and (Path(workflow.basedir).parent / PIX2PIX_MODELS).is_dir()
):
    PIX2PIX_MODELS = str(Path(workflow.basedir).parent / PIX2PIX_MODELS)
PIX2PIX_STYLES = list(PIX2PIX["styles"])


# Lambdas, not defs: snakemake --lint flags functions beside rules.
_bundled_styles = lambda: sorted(
    p.name.removeprefix("pix2pix-").removesuffix(".safetensors")
    for p in Path(PIX2PIX_MODELS).glob("pix2pix-*.safetensors")
)
# A style must be bundled, unless the models folder is the one rule train_pix2pix writes.
if Path(PIX2PIX_MODELS) != Path("results/models"):
    for _style in PIX2PIX_STYLES:
        if _style not in _bundled_styles():
            raise ValueError(
                f"pix2pix.styles: unknown style {_style!r}; bundled styles in {PIX2PIX_MODELS}: "
                + (", ".join(_bundled_styles()) or "none")
            )
# The karyogram's own flags, so that a style karyogram has the karyogram's layout JSON.
_k = config["karyogram"]
karyogram_flags = lambda band_strength: (
    ["--chromosomes", *CHROMOSOMES, "--band-strength", str(band_strength)]
    + ([] if _k["title"] else ["--no-title"])
    + ([] if _k["outline"] else ["--no-outline"])
    + ["--fit", _k["fit"], "--chrom1-height", str(_k["chrom1_height"])]
    + ["--chromatid-width", str(_k["chromatid_width"]), "--dpi", str(_k["dpi"])]
)
# By the batch manifests (one file per batch for the DAG, as the karyograms).
sketch_targets = lambda: batch_targets("sketch_karyogram")
style_targets = lambda: [
    f for style in PIX2PIX_STYLES for f in batch_targets(f"style_karyogram/{style}")
]


wildcard_constraints:
    style="[A-Za-z0-9_-]+",


rule sketch:
    input:
        latents=expand("results/latents/{{cohort}}/{chrom}.npz", chrom=CHROMOSOMES),
    output:
        directory("results/sketches/{cohort}/tiles"),
    log:
        "logs/sketch/{cohort}.log",
    benchmark:
        "benchmarks/sketch/{cohort}.tsv"
    conda:
        "../../envs/styles.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        script=script("sketch"),
        size=PIX2PIX["sketch_size"],
        chrom1_height=config["karyogram"]["chrom1_height"],
        chromatid_width=config["karyogram"]["chromatid_width"],
    shell:
        "python {params.script:q} --latents {input.latents:q} --out {output:q} --size {params.size:q}"
        " --chrom1-height {params.chrom1_height:q} --chromatid-width {params.chromatid_width:q} --log {log:q}"


# One job per batch of samples (config batch.samples), as rule karyogram; no G-band overlay on a sketch.
for _batch, _members in BATCHES.items():

    rule:
        name:
            batch_rule("sketch_karyogram", _batch)
        input:
            tiles=f"results/sketches/{BATCH_COHORT[_batch]}/tiles",
        output:
            # first: the DAG resolves a batch by its manifest, matched against the outputs in order
            manifest=batch_manifest("sketch_karyogram", _batch),
            png=batch_report(
                batch_files(
                    _batch, f"results/sketches/{BATCH_COHORT[_batch]}/{{sample}}.png"
                ),
                _batch,
                caption="../report/styles_sketch.rst",
                category="Styles",
            ),
            pdf=batch_files(
                _batch, f"results/sketches/{BATCH_COHORT[_batch]}/{{sample}}.pdf"
            ),
            layout=batch_files(
                _batch,
                f"results/sketches/{BATCH_COHORT[_batch]}/{{sample}}.layout.json",
            ),
        log:
            f"logs/sketch_karyogram/{_batch}.log",
        benchmark:
            f"benchmarks/sketch_karyogram/{_batch}.tsv"
        conda:
            "../../envs/karyogram.yaml"
        threads: 1
        resources:
            mem_mb=600 + 2 * len(_members),
        params:
            script=script("karyogram"),
            samples=_members,
            sex=batch_sexes(_batch),
            flags=karyogram_flags(0.0),
        shell:
            "python {params.script:q} --tiles {input.tiles:q} --sample {params.samples:q} --sex {params.sex:q}"
            " {params.flags:q} --png {output.png:q} --pdf {output.pdf:q} --layout {output.layout:q}"
            " --batch-manifest {output.manifest:q} --log {log:q}"

    batch_step_settings("karyogram", batch_rule("sketch_karyogram", _batch))


rule paint_styles:
    input:
        sketches="results/sketches/{cohort}/tiles",
        weights=f"{PIX2PIX_MODELS}/pix2pix-{{style}}.safetensors",
        card=f"{PIX2PIX_MODELS}/pix2pix-{{style}}.json",
    output:
        directory("results/style_tiles/{style}/{cohort}"),
    log:
        "logs/paint_styles/{style}/{cohort}.log",
    benchmark:
        "benchmarks/paint_styles/{style}/{cohort}.tsv"
    conda:
        "../../envs/styles.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=3000,
    params:
        script=script("paint_styles"),
        models=lambda wc, input: str(Path(input.weights).parent),
        batch_size=PIX2PIX["batch_size"],
        device=PIX2PIX["device"],
    shell:
        "python {params.script:q} --style {wildcards.style:q} --models {params.models:q}"
        " --sketches {input.sketches:q} --out {output:q} --batch-size {params.batch_size:q}"
        " --device {params.device:q} --threads {threads:q} --log {log:q}"


for _batch, _members in BATCHES.items():

    rule:
        name:
            batch_rule("style_karyogram", _batch)
        input:
            tiles=f"results/style_tiles/{{style}}/{BATCH_COHORT[_batch]}",
        output:
            manifest=batch_manifest("style_karyogram/{style}", _batch),
            png=batch_report(
                batch_files(_batch, "results/styles/{{style}}/{sample}.png"),
                _batch,
                caption="../report/styles_painting.rst",
                category="Styles",
                subcategory="{style}",
            ),
            pdf=batch_files(_batch, "results/styles/{{style}}/{sample}.pdf"),
            layout=batch_files(_batch, "results/styles/{{style}}/{sample}.layout.json"),
        log:
            f"logs/style_karyogram/{{style}}/{_batch}.log",
        benchmark:
            f"benchmarks/style_karyogram/{{style}}/{_batch}.tsv"
        conda:
            "../../envs/karyogram.yaml"
        threads: 1
        resources:
            mem_mb=600 + 2 * len(_members),
        params:
            script=script("karyogram"),
            samples=_members,
            sex=batch_sexes(_batch),
            flags=karyogram_flags(config["karyogram"]["band_strength"]),
        shell:
            "python {params.script:q} --tiles {input.tiles:q} --sample {params.samples:q} --sex {params.sex:q}"
            " {params.flags:q} --png {output.png:q} --pdf {output.pdf:q} --layout {output.layout:q}"
            " --batch-manifest {output.manifest:q} --log {log:q}"

    batch_step_settings("karyogram", batch_rule("style_karyogram", _batch))


rule sketches:
    input:
        sketch_targets(),


rule styles:
    input:
        sketch_targets() + style_targets(),


# One pix2pix style from rule style_dataset's crops (never in the default target). Copy the result to
# resources/models/ to bundle it, or set pix2pix.models: results/models.
rule train_pix2pix:
    input:
        data="results/datasets/{style}",
    output:
        weights="results/models/pix2pix-{style}.safetensors",
        card="results/models/pix2pix-{style}.json",
        metrics="results/models/pix2pix-{style}.train/metrics.jsonl",
        heldout=report(
            "results/models/pix2pix-{style}.train/heldout.png",
            caption="../report/styles_train_pix2pix.rst",
            category="Models",
        ),
    log:
        "logs/train_pix2pix/{style}.log",
    benchmark:
        "benchmarks/train_pix2pix/{style}.tsv"
    conda:
        "../../envs/styles.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
    params:
        script=script("train_pix2pix"),
        preset=PIX2PIX["preset"],
        overrides=[
            a
            for k, v in PIX2PIX["overrides"].items()
            for a in ("--set", f"{k}={json.dumps(v)}")
        ],
    shell:
        "python {params.script:q} --style {wildcards.style:q} --data {input.data:q} --preset {params.preset:q}"
        " {params.overrides:q} --out {output.weights:q} --threads {threads:q} --log {log:q}"
