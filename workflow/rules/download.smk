rule download:
    output:
        "results/{dataset}/raw.h5ad",
    log:
        "results/{dataset}/logs/download.log",
    benchmark:
        "results/{dataset}/benchmarks/download.tsv"
    conda:
        "../../envs/data.yaml"
    threads: rule_resources("download")["threads"]
    resources:
        mem_mb=mem_mb("download"),
        runtime=rule_resources("download")["runtime"],
    params:
        # only the fields that shape raw.h5ad: editing a description or an architecture list re-downloads nothing
        # (nor does raising config 'download' limits: the script reads them from the config, not as a param)
        row=lambda wildcards: {field: SHEET[wildcards.dataset][field] for field in DOWNLOAD_FIELDS},
        sheet=SHEET_PATH,
        cache_dir=config["cache_dir"],
    script:
        "../scripts/download.py"
