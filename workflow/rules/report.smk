rule figures:
    conda:
        "../../envs/report.yaml"
    input:
        clustered=lambda wildcards: expand(
            "results/{dataset}/clusters/{arch}.h5ad", dataset=wildcards.dataset, arch=archs_of(wildcards.dataset, "representation")
        ),
        run_jsons=lambda wildcards: expand(
            "results/{dataset}/models/{arch}/run.json", dataset=wildcards.dataset, arch=archs_of(wildcards.dataset)
        ),
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
        archs=lambda wildcards: archs_of(wildcards.dataset, "representation"),
        trained=lambda wildcards: archs_of(wildcards.dataset),
        labels=dataset_field("labels"),
        default_resolution=config["clustering"]["default_resolution"],
    log:
        "results/{dataset}/logs/figures.log",
    benchmark:
        "results/{dataset}/benchmarks/figures.tsv",
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
        report_inputs(report_plan()),
    output:
        "results/report.html",
    params:
        plan=report_plan(),
        tracking_uri=TRACKING_URI,
    log:
        "results/logs/report.log",
    benchmark:
        "results/logs/benchmarks/report.tsv",
    localrule: True
    script:
        "../scripts/report.py"


rule likelihoods:
    conda:
        "../../envs/train.yaml"
    input:
        "results/{dataset}/qc.h5ad",
    output:
        report("results/{dataset}/likelihoods.tsv", caption="../report/likelihoods.rst", category="{dataset}"),
    params:
        vae_params=lambda wildcards: config["params"].get("vae", {}),
        max_epochs=config["likelihood_comparison"]["max_epochs"],
        seed=config["seed"],
        tracking_uri=TRACKING_URI,
        training=config["training"],
        batch=dataset_field("batch"),
    log:
        "results/{dataset}/logs/likelihoods.log",
    benchmark:
        "results/{dataset}/benchmarks/likelihoods.tsv"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    script:
        "../scripts/likelihoods.py"


rule figure_seed004_panel:
    conda:
        "../../envs/report.yaml"
    input:
        pca="results/{dataset}/clusters/pca.h5ad",
        ae="results/{dataset}/clusters/ae.h5ad",
        vae="results/{dataset}/clusters/vae.h5ad",
    output:
        report("results/{dataset}/figures/seed004_panel.png", caption="../report/seed004_panel.rst", category="{dataset}", subcategory="Embeddings"),
    params:
        kind="seed004_panel",
        labels=dataset_field("labels"),
        seed=config["seed"],
    log:
        "results/{dataset}/logs/figure_seed004_panel.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_seed004_panel.tsv",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/paper_figure.py"


rule figure_ldvae_loadings:
    conda:
        "../../envs/report.yaml"
    input:
        embedding="results/{dataset}/embeddings/ldvae.h5ad",
    output:
        report("results/{dataset}/figures/ldvae_loadings.png", caption="../report/ldvae_loadings.rst", category="{dataset}", subcategory="Models"),
    params:
        kind="ldvae_loadings",
        labels=dataset_field("labels"),
        seed=config["seed"],
    log:
        "results/{dataset}/logs/figure_ldvae_loadings.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_ldvae_loadings.tsv",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/paper_figure.py"


rule figure_vega_programs:
    conda:
        "../../envs/report.yaml"
    input:
        embedding="results/{dataset}/embeddings/vega.h5ad",
    output:
        report("results/{dataset}/figures/vega_programs.png", caption="../report/vega_programs.rst", category="{dataset}", subcategory="Models"),
    params:
        kind="vega_programs",
        labels=dataset_field("labels"),
        seed=config["seed"],
    log:
        "results/{dataset}/logs/figure_vega_programs.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_vega_programs.tsv",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/paper_figure.py"


rule figure_vae_interpolation:
    conda:
        "../../envs/report.yaml"
    input:
        checkpoint="results/{dataset}/models/vae/model.ckpt",
        clustered="results/{dataset}/clusters/vae.h5ad",
    output:
        report("results/{dataset}/figures/vae_interpolation.png", caption="../report/vae_interpolation.rst", category="{dataset}", subcategory="Models"),
    params:
        kind="vae_interpolation",
        labels=dataset_field("labels"),
        seed=config["seed"],
    log:
        "results/{dataset}/logs/figure_vae_interpolation.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_vae_interpolation.tsv",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/paper_figure.py"


rule figure_dgd:
    conda:
        "../../envs/report.yaml"
    input:
        clustered="results/{dataset}/clusters/dgd.h5ad",
    output:
        report("results/{dataset}/figures/{kind}.png", caption="../report/dgd.rst", category="{dataset}", subcategory="Models"),
    wildcard_constraints:
        kind="dgd_latent|dgd_subclusters",
    params:
        kind=lambda wildcards: wildcards.kind,
        labels=dataset_field("labels"),
        seed=config["seed"],
    log:
        "results/{dataset}/logs/figure_{kind}.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_{kind}.tsv",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/paper_figure.py"


rule figure_generation:
    conda:
        "../../envs/report.yaml"
    input:
        qc_h5ad="results/{dataset}/qc.h5ad",
        dgd="results/{dataset}/models/dgd/model.ckpt",
        vae="results/{dataset}/models/vae/model.ckpt",
    output:
        report("results/{dataset}/figures/generation.png", caption="../report/generation.rst", category="{dataset}", subcategory="Models"),
    params:
        kind="generation",
        labels=dataset_field("labels"),
        seed=config["seed"],
    log:
        "results/{dataset}/logs/figure_generation.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_generation.tsv",
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/paper_figure.py"
