rule figures:
    conda:
        "../../envs/report.yaml"
    input:
        clustered=expand("results/{{dataset}}/clusters/{arch}.h5ad", arch=ARCHS),
        run_jsons=expand("results/{{dataset}}/models/{arch}/run.json", arch=ARCHS),
    output:
        umap=report(
            "results/{dataset}/figures/umap.png",
            caption="../report/umap.rst",
            category="{dataset}",
            subcategory="Embeddings",
        ),
        curves=report(
            "results/{dataset}/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="{dataset}",
            subcategory="Training",
        ),
    params:
        archs=ARCHS,
        labels=dataset_field("labels"),
        default_resolution=config["clustering"]["default_resolution"],
    log:
        "results/{dataset}/logs/figures.log",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/figures.py"


rule report:
    conda:
        "../../envs/report.yaml"
    input:
        metrics=expand("results/{dataset}/metrics/{arch}.tsv", dataset=DATASETS, arch=ARCHS),
        run_jsons=expand("results/{dataset}/models/{arch}/run.json", dataset=DATASETS, arch=ARCHS),
        qc=expand("results/{dataset}/qc.h5ad", dataset=DATASETS),
        figures=expand(
            "results/{dataset}/figures/{name}.png",
            dataset=DATASETS,
            name=["umap", "training_curves", "qc_metrics", "qc_hvg"],
        ),
    output:
        "results/report.html",
    params:
        datasets=DATASETS,
        archs=ARCHS,
        tracking_uri=TRACKING_URI,
    log:
        "results/logs/report.log",
    localrule: True
    script:
        "../scripts/report.py"
