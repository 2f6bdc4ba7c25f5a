# Rules of the train stage.
import json
import shlex


# Classifier on real chromosome crops (config train_classifier.data); not in the default target.
# The bundled resources/models/classifier.* is a copy of this rule's output.
rule train_classifier:
    input:
        manifest=str(Path(config["train_classifier"]["data"], "manifest.csv")),
        heldout=[
            str(Path(d, "manifest.csv")) for d in config["train_classifier"]["heldout"]
        ],
        init=(
            [config["train_classifier"]["init"]]
            if config["train_classifier"]["init"]
            else []
        ),
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
    conda:
        "../../envs/recognition.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        script=script("train_classifier"),
        preset=config["train_classifier"]["preset"],
        arch=config["train_classifier"]["arch"],
        group=config["train_classifier"]["group_column"],
        val_frac=config["train_classifier"]["val_frac"],
        test_frac=config["train_classifier"]["test_frac"],
        seed=config["train_classifier"]["seed"],
        heldout=lambda wc, input: [a for h in input.heldout for a in ("--heldout", h)],
        init=lambda wc, input: [a for w in input.init for a in ("--init", w)],
        budget=(
            ["--max-minutes", str(config["train_classifier"]["max_minutes"])]
            if config["train_classifier"]["max_minutes"]
            else []
        ),
        extra=shlex.split(config["train_classifier"]["extra_args"]),
    shell:
        "python {params.script:q} --manifest {input.manifest:q} --group-column {params.group:q}"
        " --val-frac {params.val_frac:q} --test-frac {params.test_frac:q} --seed {params.seed:q}"
        " --preset {params.preset:q} --arch {params.arch:q} {params.heldout:q} {params.init:q}"
        " {params.budget:q} {params.extra:q} --resume"
        " --out {output.weights:q} --metrics {output.metrics:q} --confusion {output.confusion:q}"
        " --per-class {output.per_class:q} --threads {threads:q} --no-progress --log {log:q}"


# --- generator: one per art style (DCGAN / WGAN-GP objectives; presets in gan_training.py) ---
# The bundled resources/models/generator-{style}.* are copies of this rule's outputs.
rule train_generator:
    input:
        data="results/datasets/{style}",
        init=lambda wc: (
            [config["train_generator"]["init"].format(style=wc.style)]
            if config["train_generator"]["init"]
            else []
        ),
    output:
        weights="results/models/generator-{style}.safetensors",
        card="results/models/generator-{style}.json",
        metrics="results/models/generator-{style}.train/metrics.jsonl",
        plot=report(
            "results/models/generator-{style}.train/losses.png",
            caption="../report/art_train_generator.rst",
            category="Models",
        ),
        samples=directory("results/models/generator-{style}.train/samples"),
    log:
        "logs/train_generator/{style}.log",
    benchmark:
        "benchmarks/train_generator/{style}.tsv"
    wildcard_constraints:
        style="|".join(map(re.escape, config["styles"])),
    conda:
        "../../envs/art.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        script=script("train_generator"),
        preset=config["train_generator"]["preset"],
        max_minutes=config["train_generator"]["max_minutes"],
        init=lambda wc, input: [a for w in input.init for a in ("--init-from", w)],
        overrides=[
            a
            for k, v in config["train_generator"]["overrides"].items()
            for a in ("--set", f"{k}={json.dumps(v)}")
        ],
    shell:
        "python {params.script:q} --preset {params.preset:q} --data {input.data:q}"
        " --max-minutes {params.max_minutes:q} {params.init:q} {params.overrides:q}"
        " --out {output.weights:q} --threads {threads:q} --no-progress --log {log:q}"
