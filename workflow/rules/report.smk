rule figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/{dataset}/figures/{figure}.png",
            caption="../report/figure.rst",
            category="{dataset}",
            subcategory="Figures",
        ),
    log:
        "results/{dataset}/logs/figure_{figure}.log",
    benchmark:
        "results/{dataset}/benchmarks/figure_{figure}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: rule_resources("figures")["threads"]
    resources:
        mem_mb=mem_mb("figures"),
        runtime=rule_resources("figures")["runtime"],
    params:
        options={"seed": config["seed"], "default_resolution": config["clustering"]["default_resolution"]},
    script:
        "../scripts/figure.py"


rule report:
    input:
        report_inputs(report_plan()),
    output:
        "results/report.html",
    log:
        "results/logs/report.log",
    benchmark:
        "results/logs/benchmarks/report.tsv"
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        plan=report_plan(),
    script:
        "../scripts/report.py"


rule likelihoods:
    input:
        "results/{dataset}/qc.h5ad",
    output:
        summary=report("results/{dataset}/likelihoods.tsv", caption="../report/likelihoods.rst", category="{dataset}"),
        runs="results/{dataset}/likelihood_runs.tsv",
    log:
        "results/{dataset}/logs/likelihoods.log",
    benchmark:
        "results/{dataset}/benchmarks/likelihoods.tsv"
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, LIKELIHOOD_COMPARISON_ARCH),
        max_epochs=config["likelihood_comparison"]["max_epochs"],
        seeds=list(dict.fromkeys([config["seed"], *config["likelihood_comparison"]["seeds"]])),
        training=one_process_training(),
    script:
        "../scripts/likelihoods.py"
