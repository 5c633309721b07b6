rule figure:
    conda:
        "../../envs/report.yaml"
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/{dataset}/figures/{figure}.png",
            caption="../report/figure.rst",
            category="{dataset}",
            subcategory="Figures",
        ),
    params:
        options={"seed": config["seed"], "default_resolution": config["clustering"]["default_resolution"]},
    log:
        "results/{dataset}/logs/figure_{figure}.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_{figure}.tsv"
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    script:
        "../scripts/figure.py"


rule report:
    conda:
        "../../envs/report.yaml"
    input:
        report_inputs(report_plan()),
    output:
        "results/report.html",
    params:
        plan=report_plan(),
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
        vae_params=lambda wildcards: config["params"].get(LIKELIHOOD_COMPARISON_ARCH, {}),
        max_epochs=config["likelihood_comparison"]["max_epochs"],
        seed=config["seed"],
        training=config["training"],
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
