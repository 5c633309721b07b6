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
    threads: rule_resources("train")["threads"]
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
