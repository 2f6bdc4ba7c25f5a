# Rules of the train stage.


# Classifier on real chromosome crops (config train_classifier.data); not in the default target.
# The bundled resources/models/classifier.* is a copy of this rule's output.
rule train_classifier:
    input:
        manifest=lambda wc: f"{config['train_classifier']['data']}/manifest.csv",
        heldout=lambda wc: [f"{d}/manifest.csv" for d in config["train_classifier"]["heldout"]],
    output:
        weights="results/models/classifier.safetensors",
        card="results/models/classifier.json",
        metrics="results/models/classifier.metrics.jsonl",
        confusion=report(
            "results/models/classifier.confusion.png",
            caption="../report/recognition_confusion.rst",
            category="Recognition",
        ),
        per_class="results/models/classifier.per_class.tsv",
    log:
        "logs/train_classifier/classifier.log",
    benchmark:
        "benchmarks/train_classifier/classifier.tsv"
    params:
        preset=config["train_classifier"]["preset"],
        arch=config["train_classifier"]["arch"],
        group=config["train_classifier"]["group_column"],
        val_frac=config["train_classifier"]["val_frac"],
        test_frac=config["train_classifier"]["test_frac"],
        seed=config["train_classifier"]["seed"],
        heldout=lambda wc, input: " ".join(f"--heldout {h}" for h in input.heldout),
        extra=config["train_classifier"]["extra_args"],
    conda:
        "../../envs/recognition.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    shell:
        "python {SCRIPTS}/train_classifier.py --manifest {input.manifest} --group-column {params.group}"
        " --val-frac {params.val_frac} --test-frac {params.test_frac} --seed {params.seed}"
        " --preset {params.preset} --arch {params.arch} {params.heldout} {params.extra}"
        " --out {output.weights} --metrics {output.metrics} --confusion {output.confusion}"
        " --per-class {output.per_class} --threads {threads} --no-progress --log {log}"
