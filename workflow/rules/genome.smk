# Genome half: VCF -> genotypes (per cohort x chromosome) -> latents.


rule parse_vcf:
    input:
        vcf=cohort_vcf,
        sheet=config["samples"],
    output:
        "results/genotypes/{cohort}/{chrom}.npz",
    log:
        "logs/parse_vcf/{cohort}/{chrom}.log",
    benchmark:
        "benchmarks/parse_vcf/{cohort}/{chrom}.tsv"
    conda:
        "../../envs/genome.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        script=script("parse_vcf"),
        pass_only=["--pass-only"] if config["vcf"]["pass_only"] else [],
        multiallelic=config["vcf"]["multiallelic"],
        chunk_size=config["vcf"]["chunk_size"],
    shell:
        "python {params.script:q} --vcf {input.vcf:q} --sheet {input.sheet:q} --cohort {wildcards.cohort:q}"
        " --chrom {wildcards.chrom:q} --out {output:q} --multiallelic {params.multiallelic:q}"
        " --chunk-size {params.chunk_size:q} {params.pass_only:q} --log {log:q}"


rule hash_latents:
    input:
        genotypes="results/genotypes/{cohort}/{chrom}.npz",
        af_table=latent_af_table(),
    output:
        "results/latents/{cohort}/{chrom}.npz",
    log:
        "logs/hash_latents/{cohort}/{chrom}.log",
    benchmark:
        "benchmarks/hash_latents/{cohort}/{chrom}.tsv"
    conda:
        "../../envs/genome.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        script=script("hash_latents"),
        dim=config["latent"]["dim"],
        key=config["latent"]["key"],
        centering=config["latent"]["centering"],
        af_table=lambda wildcards, input: (
            ["--af-table", input.af_table] if input.af_table else []
        ),
        alpha=config["latent"]["alpha"],
        min_af=config["latent"]["min_af"],
    shell:
        "python {params.script:q} --genotypes {input.genotypes:q} --out {output:q} --dim {params.dim:q}"
        " --key {params.key:q} --centering {params.centering:q} {params.af_table:q}"
        " --alpha {params.alpha:q} --min-af {params.min_af:q} --log {log:q}"


rule genotypes:
    input:
        expand(
            "results/genotypes/{cohort}/{chrom}.npz", cohort=COHORTS, chrom=CHROMOSOMES
        ),


rule latents:
    input:
        genome_targets(),


rule af_table:
    input:
        expand("results/genotypes/{{cohort}}/{chrom}.npz", chrom=CHROMOSOMES),
    output:
        "results/af/{cohort}.tsv",
    log:
        "logs/af_table/{cohort}.log",
    benchmark:
        "benchmarks/af_table/{cohort}.tsv"
    conda:
        "../../envs/genome.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        script=script("af_table"),
    shell:
        "python {params.script:q} --genotypes {input:q} --out {output:q} --log {log:q}"
