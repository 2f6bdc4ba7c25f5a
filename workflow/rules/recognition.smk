# Rules of the recognition stage: classify the art karyograms (legibility) and the image inputs in config.
import re

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
    path = CLASSIFY_INPUTS[wildcards.input]
    if Path(path).is_dir():
        return (
            f"--folder {path} --as-cell"
            if config["classifier"]["group_by"] == ""
            else f"--folder {path}"
        )
    if path.lower().endswith(".csv"):
        group = config["classifier"]["group_by"]
        return f"--manifest {path}" + (f" --group-by {group}" if group else "")
    return f"--image {path} --spread"


def recognition_targets():
    targets = []
    if config["classifier"]["art"]:
        targets += expand("results/classify/{sample}.tsv", sample=samples.index)
        targets += ["results/classify/legibility.tsv"]
    targets += expand(
        "results/classify/inputs/{input}.{ext}",
        input=CLASSIFY_INPUTS,
        ext=["tsv", "karyogram.png"],
    )
    return targets


rule classify:
    input:
        png="results/karyograms/{sample}.png",
        layout="results/karyograms/{sample}.layout.json",
        checkpoint=CLASSIFIER,
    output:
        tsv="results/classify/{sample}.tsv",
        summary="results/classify/{sample}.json",
    log:
        "logs/classify/{sample}.log",
    benchmark:
        "benchmarks/classify/{sample}.tsv"
    wildcard_constraints:
        sample="|".join(re.escape(s) for s in samples.index) or "NO_SAMPLES",
    conda:
        "../../envs/recognition.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=3000,
    params:
        device=config["classifier"]["device"],
    shell:
        "python {SCRIPTS}/classify.py --checkpoint {input.checkpoint} --layout {input.layout} --image {input.png}"
        " --out {output.tsv} --summary {output.summary} --device {params.device} --threads {threads} --log {log}"


rule legibility:
    input:
        expand("results/classify/{sample}.json", sample=samples.index),
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
    shell:
        "python {SCRIPTS}/classify.py --legibility {input} --out {output} --log {log}"


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
        flags=classify_input_flags,
        device=config["classifier"]["device"],
    shell:
        "python {SCRIPTS}/classify.py --checkpoint {input.checkpoint} {params.flags} --out {output.tsv}"
        " --karyogram {output.karyogram} --summary {output.summary} --title {wildcards.input}"
        " --device {params.device} --threads {threads} --log {log}"
