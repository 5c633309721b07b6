rule evaluate:
    input:
        embedding="results/{dataset}/embeddings/{arch}.h5ad",
        run_json="results/{dataset}/models/{arch}/run.json",
    output:
        "results/{dataset}/metrics/{arch}.tsv",
    log:
        "results/{dataset}/logs/evaluate_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("representation"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    params:
        resolutions=config["clustering"]["resolutions"],
        default_resolution=config["clustering"]["default_resolution"],
        seed=config["seed"],
    script:
        "../scripts/evaluate.py"


rule classify:
    input:
        qc_h5ad="results/{dataset}/qc.h5ad",
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
    output:
        metrics="results/{dataset}/metrics/{arch}.tsv",
        predictions="results/{dataset}/predictions/{arch}.tsv",
    log:
        "results/{dataset}/logs/classify_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/classify_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("classifier"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    script:
        "../scripts/classify.py"


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
