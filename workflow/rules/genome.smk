# Genome half: VCF -> (an indexed BGZF, when it is not one) -> genotypes (per cohort x chromosome) -> latents.


rule prepare_vcf:
    input:
        cohort_source_vcf,
    output:
        vcf="results/vcf/{cohort}.vcf.gz",
        tbi="results/vcf/{cohort}.vcf.gz.tbi",
    log:
        "logs/prepare_vcf/{cohort}.log",
    benchmark:
        "benchmarks/prepare_vcf/{cohort}.tsv"
    conda:
        "../../envs/genome.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        script=script("prepare_vcf"),
        chromosomes=CHROMOSOMES,
    shell:
        "python {params.script:q} --vcf {input:q} --out {output.vcf:q} --index {output.tbi:q}"
        " --chromosomes {params.chromosomes:q} --log {log:q}"


rule parse_vcf:
    input:
        vcf=cohort_vcf,
        index=cohort_vcf_index,
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
        source=cohort_source_vcf,
        chromosomes=CHROMOSOMES,
        pass_only=["--pass-only"] if config["vcf"]["pass_only"] else [],
        multiallelic=config["vcf"]["multiallelic"],
        chunk_size=config["vcf"]["chunk_size"],
    shell:
        "python {params.script:q} --vcf {input.vcf:q} --source {params.source:q} --sheet {input.sheet:q}"
        " --cohort {wildcards.cohort:q} --chrom {wildcards.chrom:q} --chromosomes {params.chromosomes:q}"
        " --out {output:q} --multiallelic {params.multiallelic:q} --chunk-size {params.chunk_size:q}"
        " {params.pass_only:q} --log {log:q}"


rule hash_latents:
    input:
        genotypes="results/genotypes/{cohort}/{chrom}.npz",
        af_table=latent_af_table(),
        key_file=latent_key_file(),
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
        # the key's salted fingerprint, so that another key reruns the job; the key itself is never a param
        key_id=LATENT_KEY_ID,
        key_file=lambda wildcards, input: (
            ["--key-file", input.key_file] if input.key_file else []
        ),
        centering=config["latent"]["centering"],
        af_table=lambda wildcards, input: (
            ["--af-table", input.af_table] if input.af_table else []
        ),
        alpha=config["latent"]["alpha"],
        min_af=config["latent"]["min_af"],
    shell:
        "python {params.script:q} --genotypes {input.genotypes:q} --out {output:q} --dim {params.dim:q}"
        " {params.key_file:q} --centering {params.centering:q} {params.af_table:q}"
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
