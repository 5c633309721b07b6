rule qc:
    input:
        "results/{dataset}/raw.h5ad",
    output:
        h5ad="results/{dataset}/qc.h5ad",
        metrics_figure=report(
            "results/{dataset}/figures/qc_metrics.png",
            caption="../report/qc_metrics.rst",
            category="{dataset}",
            subcategory="QC",
        ),
        features_figure=report(
            "results/{dataset}/figures/qc_features.png",
            caption="../report/qc_features.rst",
            category="{dataset}",
            subcategory="QC",
        ),
    log:
        "results/{dataset}/logs/qc.log",
    benchmark:
        "results/{dataset}/benchmarks/qc.tsv"
    conda:
        "../../envs/data.yaml"
    threads: rule_resources("qc")["threads"]
    resources:
        mem_mb=mem_mb("qc"),
        runtime=rule_resources("qc")["runtime"],
    params:
        qc=lambda wildcards: dataset_qc(config, wildcards.dataset),  # 'qc' with the data set's own overrides
        split=config["split"],
    script:
        "../scripts/qc.py"
