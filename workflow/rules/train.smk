rule train:
    input:
        qc="results/{dataset}/qc.h5ad",
        models=used_models,
    output:
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
        run_json="results/{dataset}/models/{arch}/run.json",
        history="results/{dataset}/models/{arch}/history.tsv",
    log:
        "results/{dataset}/logs/train_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_{arch}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: training_threads()
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch),
        seed=config["seed"],
        training=config["training"],
    script:
        "../scripts/train.py"


rule learning_curve:
    input:
        qc="results/{dataset}/qc.h5ad",
        models=used_models,
    output:
        summary=report(
            "results/{dataset}/learning_curve/{arch}.tsv", caption="../report/learning_curve.rst", category="{dataset}"
        ),
        runs="results/{dataset}/learning_curve/{arch}_runs.tsv",
        figure=report(
            "results/{dataset}/figures/{arch}_learning_curve.png",
            caption="../report/learning_curve.rst",
            category="{dataset}",
        ),
    log:
        "results/{dataset}/logs/learning_curve_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/learning_curve_{arch}.tsv"
    wildcard_constraints:
        arch=finetuned_pattern(),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    params:
        hyper_parameters=lambda wildcards: dataset_params(config, wildcards.dataset, wildcards.arch),
        fractions=config["learning_curve"]["fractions"],
        seeds=list(dict.fromkeys([config["seed"], *config["learning_curve"]["seeds"]])),
        training=one_process_training(),
    script:
        "../scripts/learning_curve.py"
