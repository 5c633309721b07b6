# lifedl: download -> qc -> train{arch} -> embed{arch} (embedding, neighbours, UMAP, Leiden, scores) -> figures -> report
# (generators: train -> generate; perturbation models: train -> perturbation)
# Configuration: config/config.yaml (schema: workflow/schemas/config.schema.yaml).

import os
import sys

# Jobs import lifedl from this checkout, also inside per-stage conda envs (--sdm conda) and on cluster nodes;
# so does this parse, which needs nothing beyond Snakemake itself (the registry and config helpers import only
# the standard library and yaml): `snakemake -n --sdm conda` works where only Snakemake is installed.
sys.path.insert(0, f"{workflow.basedir}/src")
from lifedl.config import read_yaml

if os.path.isfile("config/config.yaml"):  # a broken file is named, with its line, before Snakemake reads it
    read_yaml("config/config.yaml")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/generative.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report.html",
        expand("results/{dataset}/metrics.tsv", dataset=[dataset for dataset in DATASETS if scored_archs(dataset)]),


onsuccess:
    from lifedl.train.tracking import resolve_tracking_uri

    print(
        "\nlifedl: report results/report.html (per data set: results/<dataset>/metrics.tsv and figures/); "
        f"MLflow store {resolve_tracking_uri(config['mlflow']['tracking_uri'])} (browse it: make mlflow-ui)"
    )
