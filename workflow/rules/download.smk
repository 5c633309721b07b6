rule download:
    conda:
        "../../envs/data.yaml"
    output:
        "results/{dataset}/raw.h5ad",
    params:
        row=lambda wildcards: SHEET.loc[wildcards.dataset].to_dict(),
        sheet=SHEET_PATH,
        cache_dir=config["cache_dir"],
    log:
        "results/{dataset}/logs/download.log",
    benchmark:
        "results/{dataset}/benchmarks/download.tsv"
    threads: rule_resources("download")["threads"]
    resources:
        mem_mb=mem_mb("download"),
        runtime=rule_resources("download")["runtime"],
    script:
        "../scripts/download.py"
