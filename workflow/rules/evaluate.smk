rule evaluate:
    wildcard_constraints:
        arch=arch_pattern("representation"),
    conda:
        "../../envs/train.yaml"
    input:
        clustered="results/{dataset}/clusters/{arch}.h5ad",
        run_json="results/{dataset}/models/{arch}/run.json",
    output:
        "results/{dataset}/metrics/{arch}.tsv",
    params:
        labels=dataset_field("labels"),
        batch=dataset_field("batch"),
        resolutions=config["clustering"]["resolutions"],
        default_resolution=config["clustering"]["default_resolution"],
        seed=config["seed"],
    log:
        "results/{dataset}/logs/evaluate_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate_{arch}.tsv"
    threads: rule_resources("evaluate")["threads"]
    resources:
        mem_mb=mem_mb("evaluate"),
        runtime=rule_resources("evaluate")["runtime"],
    script:
        "../scripts/evaluate.py"


rule collect_metrics:
    conda:
        "../../envs/report.yaml"
    input:
        lambda wildcards: expand(
            "results/{dataset}/metrics/{arch}.tsv", dataset=wildcards.dataset, arch=archs_of(wildcards.dataset, "representation")
        ),
    output:
        report("results/{dataset}/metrics.tsv", caption="../report/metrics.rst", category="{dataset}"),
    log:
        "results/{dataset}/logs/collect_metrics.log",
    benchmark:
        "results/{dataset}/benchmarks/collect_metrics.tsv",
    localrule: True
    script:
        "../scripts/collect_metrics.py"
