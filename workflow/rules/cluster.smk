rule cluster:
    wildcard_constraints:
        arch=arch_pattern("representation"),
    conda:
        "../../envs/data.yaml"
    input:
        "results/{dataset}/embeddings/{arch}.h5ad",
    output:
        "results/{dataset}/clusters/{arch}.h5ad",
    params:
        resolutions=config["clustering"]["resolutions"],
        seed=config["seed"],
    log:
        "results/{dataset}/logs/cluster_{arch}.log",
    benchmark:
        "results/{dataset}/benchmarks/cluster_{arch}.tsv"
    threads: rule_resources("cluster")["threads"]
    resources:
        mem_mb=mem_mb("cluster"),
        runtime=rule_resources("cluster")["runtime"],
    script:
        "../scripts/cluster.py"
