# Rules of the recognition stage: classify the art karyograms (legibility) and the image inputs in config.


# One job per batch of samples (config batch.samples): the classifier is loaded once and the device's
# batches are filled with crops from every sample of the batch. A profile's set-threads / set-resources for
# `classify` apply to every batch rule. Its inputs are the karyogram batch's manifest, not each sample's
# files: one file per batch for the DAG to resolve (the rule sizes memory and runtime from its batch size).
for _batch, _members in BATCHES.items() if config["classifier"]["art"] else []:

    rule:
        name:
            batch_rule("classify", _batch)
        input:
            karyograms=batch_manifest("karyogram", _batch),
            checkpoint=CLASSIFIER,
        output:
            # first: the DAG resolves a batch by its manifest, matched against the outputs in order
            manifest=batch_manifest("classify", _batch),
            summary=batch_files(_batch, "results/classify/{sample}.json"),
            tsv=batch_files(_batch, "results/classify/{sample}.tsv"),
        log:
            f"logs/classify/{_batch}.log",
        benchmark:
            f"benchmarks/classify/{_batch}.tsv"
        conda:
            "../../envs/recognition.yaml"
        threads: 2
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt, n=len(_members): (2000 + 4 * n) * attempt,
            runtime=lambda wc, attempt, n=len(_members): (5 + n // 20) * attempt,
        params:
            script=script("classify"),
            # written by the karyogram batch job, which lists them in its manifest
            png=batch_files(_batch, "results/karyograms/{sample}.png"),
            layout=batch_files(_batch, "results/karyograms/{sample}.layout.json"),
            samples=_members,
            device=config["classifier"]["device"],
        shell:
            "python {params.script:q} --checkpoint {input.checkpoint:q} --layout {params.layout:q}"
            " --image {params.png:q} --out {output.tsv:q} --summary {output.summary:q}"
            " --sample {params.samples:q} --batch-manifest {output.manifest:q}"
            " --device {params.device:q} --threads {threads:q} --log {log:q}"

    batch_step_settings("classify", batch_rule("classify", _batch))


rule legibility:
    input:
        # the classify batch manifests, which list every sample's summary
        batch_manifests("classify"),
    output:
        report(
            "results/classify/legibility.tsv",
            caption="../report/recognition_legibility.rst",
            category="Recognition",
        ),
    log:
        "logs/legibility/legibility.log",
    benchmark:
        "benchmarks/legibility/legibility.tsv"
    conda:
        "../../envs/recognition.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        script=script("classify"),
    shell:
        "python {params.script:q} --legibility {input:q} --out {output:q} --log {log:q}"


rule classify_input:
    input:
        data=lambda wc: CLASSIFY_INPUTS[wc.input],
        checkpoint=CLASSIFIER,
    output:
        tsv=report(
            "results/classify/inputs/{input}.tsv",
            caption="../report/recognition_input.rst",
            category="Recognition",
            labels={"input": "{input}", "figure": "table"},
        ),
        karyogram=report(
            "results/classify/inputs/{input}.karyogram.png",
            caption="../report/recognition_karyogram.rst",
            category="Recognition",
            labels={"input": "{input}", "figure": "sorted karyogram"},
        ),
        summary="results/classify/inputs/{input}.json",
    log:
        "logs/classify_input/{input}.log",
    benchmark:
        "benchmarks/classify_input/{input}.tsv"
    conda:
        "../../envs/recognition.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        script=script("classify"),
        flags=classify_input_flags,
        device=config["classifier"]["device"],
    shell:
        "python {params.script:q} --checkpoint {input.checkpoint:q} {params.flags:q} --out {output.tsv:q}"
        " --karyogram {output.karyogram:q} --summary {output.summary:q} --title {wildcards.input:q}"
        " --device {params.device:q} --threads {threads:q} --log {log:q}"
