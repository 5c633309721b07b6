# Validated config, the datasets sheet, and helpers shared by the rules.
import os

# Jobs import lifedl from this checkout, also inside per-stage conda envs (--sdm conda) and on cluster nodes.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [f"{workflow.basedir}/src", os.environ.get("PYTHONPATH")]))
from lifedl.config import load_datasets_sheet, selected_datasets, validate_config
from lifedl.models import get_architecture
from lifedl.train.tracking import resolve_tracking_uri

validate_config(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
SHEET_PATH = config["datasets_sheet"]
SHEET = load_datasets_sheet(SHEET_PATH, f"{workflow.basedir}/workflow/schemas/datasets.schema.yaml")
DATASETS = selected_datasets(config, SHEET, SHEET_PATH)
# PCA is the baseline: always run, always first.
ARCHS = ["pca"] + [arch for arch in config["architectures"] if arch != "pca"]
for _arch in ARCHS:
    get_architecture(_arch).resolve_params(config["params"].get(_arch), where=f"config 'params.{_arch}'")
TRACKING_URI = resolve_tracking_uri(config["mlflow"]["tracking_uri"], "results")


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    arch="|".join(ARCHS),


def rule_resources(rule_name):
    """threads and resources of a rule from config 'resources' (falling back to 'default')."""
    merged = {"threads": 1, "mem_mb": 4000, "runtime": 30}
    merged.update(config["resources"].get("default", {}))
    merged.update(config["resources"].get(rule_name, {}))
    return merged


def mem_mb(rule_name):
    """Memory request that grows with each retry (attempt 1, 2, ...), for jobs killed for memory."""
    base = rule_resources(rule_name)["mem_mb"]
    return lambda wildcards, attempt: base * attempt


def dataset_field(field):
    return lambda wildcards: SHEET.loc[wildcards.dataset, field]


def paper_figures(dataset):
    """The paper figures that apply to a dataset, given the configured architectures and its labels."""
    has_labels = bool(SHEET.loc[dataset, "labels"])
    wanted = {
        "seed004_panel": {"pca", "ae", "vae"} <= set(ARCHS) and has_labels,
        "ldvae_loadings": "ldvae" in ARCHS,
        "vega_programs": "vega" in ARCHS and has_labels,
        "vae_interpolation": "vae" in ARCHS and has_labels,
    }
    return [f"results/{dataset}/figures/{name}.png" for name, keep in wanted.items() if keep]


def likelihood_tables():
    if "vae" not in ARCHS or not config["likelihood_comparison"]["enabled"]:
        return []
    return expand("results/{dataset}/likelihoods.tsv", dataset=DATASETS)
