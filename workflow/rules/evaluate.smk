# Every task scored on held-out rows (lifedl.tl.tasks: classifiers, regressors, designers): what the model
# predicts or designs, its measures and its task's curve table.
rule score:
    input:
        qc_h5ad="results/{dataset}/qc.h5ad",
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
    output:
        metrics="results/{dataset}/metrics/{arch}.tsv",
        predictions="results/{dataset}/predictions/{arch}.tsv",
        curves="results/{dataset}/curves/{arch}.tsv",
    log:
        "results/{dataset}/logs/score_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/score_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern(*SCORED_ON_ROWS),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    script:
        "../scripts/score.py"


rule collect_metrics:
    input:
        metrics=lambda wildcards: expand(
            "results/{dataset}/metrics/{arch}.tsv", dataset=wildcards.dataset, arch=scored_archs(wildcards.dataset)
        ),
        runs=lambda wildcards: expand(
            "results/{dataset}/models/{arch}/run.json", dataset=wildcards.dataset, arch=scored_archs(wildcards.dataset)
        ),
    output:
        report("results/{dataset}/metrics.tsv", caption="../report/metrics.rst", category="{dataset}"),
    log:
        "results/{dataset}/logs/collect_metrics.log",
    benchmark:
        "results/{dataset}/benchmarks/collect_metrics.tsv"
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/collect_metrics.py"


rule replicate:
    input:
        qc="results/{dataset}/qc.h5ad",
        models=used_models,
        chosen="results/{dataset}/models/{arch}/run.json",  # the hyper-parameters its search chose, reused
    output:
        checkpoint="results/{dataset}/replicates/{arch}/seed{seed}/model.ckpt",
        run_json="results/{dataset}/replicates/{arch}/seed{seed}/run.json",
        history="results/{dataset}/replicates/{arch}/seed{seed}/history.tsv",
        metrics="results/{dataset}/replicates/{arch}/seed{seed}/metrics.tsv",
        predictions="results/{dataset}/replicates/{arch}/seed{seed}/predictions.tsv",
    log:
        "results/{dataset}/logs/replicate_{arch}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/replicate_{arch}_seed{seed}.tsv"
    wildcard_constraints:
        arch=arch_pattern(*SCORED_ON_ROWS),
        seed=r"\d+",
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch),
        training=one_process_training(),
    script:
        "../scripts/replicate.py"


rule replicate_representation:
    input:
        qc="results/{dataset}/qc.h5ad",
        models=used_models,  # the models it uses, of its own seed (snf: the pca's and the ae's)
    output:
        checkpoint="results/{dataset}/replicates/{arch}/seed{seed}/model.ckpt",
        run_json="results/{dataset}/replicates/{arch}/seed{seed}/run.json",
        history="results/{dataset}/replicates/{arch}/seed{seed}/history.tsv",
        metrics="results/{dataset}/replicates/{arch}/seed{seed}/metrics.tsv",
    log:
        "results/{dataset}/logs/replicate_representation_{arch}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/replicate_representation_{arch}_seed{seed}.tsv"
    wildcard_constraints:
        arch=arch_pattern("representation"),
        seed=r"\d+",
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch),
        training=one_process_training(),
        n_neighbors=config["embedding"]["n_neighbors"],
        resolutions=config["clustering"]["resolutions"],
        default_resolution=config["clustering"]["default_resolution"],
    script:
        "../scripts/replicate.py"


rule seeds:
    input:
        metrics=lambda wildcards: [path for path, _ in seed_metric_files(wildcards.dataset)],
    output:
        summary=report("results/{dataset}/seeds.tsv", caption="../report/seeds.rst", category="{dataset}"),
        comparisons=report(
            "results/{dataset}/comparisons.tsv", caption="../report/comparisons.rst", category="{dataset}"
        ),
    log:
        "results/{dataset}/logs/seeds.log",
    benchmark:
        "results/{dataset}/benchmarks/seeds.tsv"
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        seeds=lambda wildcards: [seed for _, seed in seed_metric_files(wildcards.dataset)],
    script:
        "../scripts/seeds.py"


rule motif_database:
    output:
        "results/motif_database.tsv",
    log:
        "results/logs/motif_database.log",
    benchmark:
        "results/logs/benchmarks/motif_database.tsv"
    conda:
        "../../envs/train.yaml"
    params:
        source=config["motif_database"]["source"],
        checksum=config["motif_database"]["checksum"],
        tax_group=config["motif_database"]["tax_group"],
    script:
        "../scripts/motif_database.py"


rule filter_motifs:
    input:
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
        database="results/motif_database.tsv",
    output:
        "results/{dataset}/motifs/{arch}.tsv",
    log:
        "results/{dataset}/logs/filter_motifs_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/filter_motifs_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern(capability="motif_filters"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    script:
        "../scripts/filter_motifs.py"


rule enrichment:
    input:
        lambda wildcards: [
            f"results/{wildcards.dataset}/embeddings/{arch}.h5ad" for arch in loadings_archs(wildcards.dataset)
        ],
    output:
        summary=report("results/{dataset}/enrichment.tsv", caption="../report/enrichment.rst", category="{dataset}"),
        factors="results/{dataset}/enrichment_factors.tsv",
    log:
        "results/{dataset}/logs/enrichment.log",
    benchmark:
        "results/{dataset}/benchmarks/enrichment.tsv"
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        archs=lambda wildcards: loadings_archs(wildcards.dataset),
        n_factors=lambda wildcards: loadings_factors(wildcards.dataset),
    script:
        "../scripts/enrichment.py"


rule program_peaks:
    input:
        "results/{dataset}/embeddings/{arch}.h5ad",
    output:
        report("results/{dataset}/programs/{arch}.tsv", caption="../report/program_peaks.rst", category="{dataset}"),
    log:
        "results/{dataset}/logs/program_peaks_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/program_peaks_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern(capability="gene_programs"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/program_peaks.py"


rule agreement:
    input:
        lambda wildcards: [
            f"results/{wildcards.dataset}/embeddings/{arch}.h5ad"
            for arch in archs_of(wildcards.dataset, "representation")
        ],
    output:
        report("results/{dataset}/agreement.tsv", caption="../report/agreement.rst", category="{dataset}"),
    log:
        "results/{dataset}/logs/agreement.log",
    benchmark:
        "results/{dataset}/benchmarks/agreement.tsv"
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        archs=lambda wildcards: archs_of(wildcards.dataset, "representation"),
        resolution=config["clustering"]["default_resolution"],
    script:
        "../scripts/agreement.py"
