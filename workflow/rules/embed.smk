# Embedding, neighbour graph, UMAP, Leiden and the embedding's scores, in one job per architecture.
rule embed:
    input:
        h5ad="results/{dataset}/qc.h5ad",
        checkpoint="results/{dataset}/models/{arch}/model.ckpt",
    output:
        embedding="results/{dataset}/embeddings/{arch}.h5ad",
        metrics="results/{dataset}/metrics/{arch}.tsv",
    log:
        "results/{dataset}/logs/embed_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/embed_{arch}.tsv"
    wildcard_constraints:
        arch=arch_pattern("representation"),
    conda:
        "../../envs/train.yaml"
    threads: rule_resources("embed")["threads"]
    resources:
        mem_mb=mem_mb("embed"),
        runtime=rule_resources("embed")["runtime"],
    params:
        n_neighbors=config["embedding"]["n_neighbors"],
        resolutions=config["clustering"]["resolutions"],
        default_resolution=config["clustering"]["default_resolution"],
        seed=config["seed"],
    script:
        "../scripts/embed.py"
