rule embed:
    wildcard_constraints:
        arch=arch_pattern("representation"),
    conda:
        "../../envs/train.yaml"
    input:
        h5ad="results/{dataset}/qc.h5ad",
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
    output:
        "results/{dataset}/embeddings/{arch}.h5ad",
    params:
        n_neighbors=config["embedding"]["n_neighbors"],
        resolutions=config["clustering"]["resolutions"],
        seed=config["seed"],
    log:
        "results/{dataset}/logs/embed_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/embed_{arch}.tsv"
    threads: rule_resources("embed")["threads"]
    resources:
        mem_mb=mem_mb("embed"),
        runtime=rule_resources("embed")["runtime"],
    script:
        "../scripts/embed.py"
