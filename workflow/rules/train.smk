rule train:
    conda:
        "../../envs/train.yaml"
    input:
        "results/{dataset}/qc.h5ad",
    output:
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
        run_json="results/{dataset}/models/{arch}/run.json",
        history="results/{dataset}/models/{arch}/history.tsv",
    params:
        hyper_parameters=lambda wildcards: config["params"].get(wildcards.arch, {}),
        seed=config["seed"],
        training=config["training"],
    log:
        "results/{dataset}/logs/train_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_{arch}.tsv"
    threads: rule_resources("train")["threads"]
    resources:
        mem_mb=mem_mb("train"),
        runtime=rule_resources("train")["runtime"],
        gpu=rule_resources("train").get("gpu", 0),
    script:
        "../scripts/train.py"
