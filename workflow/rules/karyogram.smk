# Rules of the karyogram stage: tiles -> karyograms per sample, contact sheet per cohort, report plots.


# One job per batch of samples (config batch.samples; see BATCHES in common.smk): it opens the cohort's tile
# manifest once and writes each sample's usual karyogram files. Resources grow with the batch; a profile's
# set-threads / set-resources for `karyogram` apply to every batch rule.
for _batch, _members in BATCHES.items():

    rule:
        name:
            batch_rule("karyogram", _batch)
        input:
            tiles=f"results/tiles/{BATCH_COHORT[_batch]}",
        output:
            # first: the DAG resolves a batch by its manifest, matched against the outputs in order
            manifest=batch_manifest("karyogram", _batch),
            png=batch_report(
                batch_files(_batch, "results/karyograms/{sample}.png"),
                _batch,
                caption="../report/karyogram_sample.rst",
                category="Karyograms",
            ),
            layout=batch_files(_batch, "results/karyograms/{sample}.layout.json"),
            pdf=batch_files(_batch, "results/karyograms/{sample}.pdf"),
        log:
            f"logs/karyogram/{_batch}.log",
        benchmark:
            f"benchmarks/karyogram/{_batch}.tsv"
        conda:
            "../../envs/karyogram.yaml"
        threads: 1
        resources:
            mem_mb=lambda wc, attempt, n=len(_members): (600 + 2 * n) * attempt,
            runtime=lambda wc, attempt, n=len(_members): (5 + n // 30) * attempt,
        params:
            script=script("karyogram"),
            samples=_members,
            sex=batch_sexes(_batch),
            chromosomes=CHROMOSOMES,
            band_strength=config["karyogram"]["band_strength"],
            title=[] if config["karyogram"]["title"] else ["--no-title"],
            outline=[] if config["karyogram"]["outline"] else ["--no-outline"],
            fit=config["karyogram"]["fit"],
            chrom1_height=config["karyogram"]["chrom1_height"],
            chromatid_width=config["karyogram"]["chromatid_width"],
            dpi=config["karyogram"]["dpi"],
            paper=config["karyogram"]["paper"],
        shell:
            "python {params.script:q} --tiles {input.tiles:q} --sample {params.samples:q} --sex {params.sex:q}"
            " --chromosomes {params.chromosomes:q} --band-strength {params.band_strength:q} {params.title:q}"
            " {params.outline:q} --fit {params.fit:q} --chrom1-height {params.chrom1_height:q}"
            " --chromatid-width {params.chromatid_width:q} --dpi {params.dpi:q} --paper={params.paper:q}"
            " --png {output.png:q}"
            " --pdf {output.pdf:q} --layout {output.layout:q} --batch-manifest {output.manifest:q} --log {log:q}"

    batch_step_settings("karyogram", batch_rule("karyogram", _batch))


rule contact_sheet:
    input:
        # the cohort's karyogram batch manifests, which list every sample's karyogram
        lambda wc: batch_manifests("karyogram", wc.cohort),
    output:
        report(
            "results/contact_sheets/{cohort}.png",
            caption="../report/karyogram_contact_sheet.rst",
            category="Karyograms",
            labels={"sample": "cohort {cohort}"},
        ),
    log:
        "logs/contact_sheet/{cohort}.log",
    benchmark:
        "benchmarks/contact_sheet/{cohort}.tsv"
    conda:
        "../../envs/karyogram.yaml"
    threads: 2
    resources:
        mem_mb=1000,
    params:
        script=script("contact_sheet"),
        columns=config["karyogram"]["contact_sheet_columns"],
        thumb_width=config["karyogram"]["contact_sheet_thumb_width"],
    shell:
        "python {params.script:q} --karyograms {input:q} --out {output:q} --columns {params.columns:q}"
        " --thumb-width {params.thumb_width:q} --threads {threads:q} --log {log:q}"


rule kinship_report:
    input:
        truth=config["karyogram"]["pedigree_truth"] or "NO_PEDIGREE_TRUTH",
        latents=expand(
            "results/latents/{{cohort}}/{chrom}.npz", chrom=KARYOGRAM_AUTOSOMES
        ),
        tiles="results/tiles/{cohort}",
    output:
        png=report(
            "results/report/{cohort}/kinship.png",
            caption="../report/karyogram_kinship.rst",
            category="Kinship",
            labels={"cohort": "{cohort}"},
        ),
        tsv="results/report/{cohort}/kinship.tsv",
    log:
        "logs/kinship_report/{cohort}.log",
    benchmark:
        "benchmarks/kinship_report/{cohort}.tsv"
    conda:
        "../../envs/karyogram.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        script=script("kinship_report"),
    shell:
        "python {params.script:q} --truth {input.truth:q} --latents {input.latents:q}"
        " --tiles {input.tiles:q} --png {output.png:q} --tsv {output.tsv:q} --log {log:q}"


rule variant_counts:
    input:
        expand("results/genotypes/{{cohort}}/{chrom}.npz", chrom=CHROMOSOMES),
    output:
        png=report(
            "results/report/{cohort}/variant_counts.png",
            caption="../report/karyogram_variant_counts.rst",
            category="Variants",
            labels={"cohort": "{cohort}"},
        ),
        tsv="results/report/{cohort}/variant_counts.tsv",
    log:
        "logs/variant_counts/{cohort}.log",
    benchmark:
        "benchmarks/variant_counts/{cohort}.tsv"
    conda:
        "../../envs/karyogram.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        script=script("variant_counts"),
    shell:
        "python {params.script:q} --genotypes {input:q} --png {output.png:q} --tsv {output.tsv:q} --log {log:q}"


rule karyograms:
    input:
        karyogram_targets(),


rule report_plots:
    input:
        report_targets(),
