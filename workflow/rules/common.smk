# Validated config, the datasets sheet, and helpers shared by the rules.
import os

# Jobs import lifedl from this checkout, also inside per-stage conda envs (--sdm conda) and on cluster nodes.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [f"{workflow.basedir}/src", os.environ.get("PYTHONPATH")]))
from lifedl.config import dataset_architectures, load_datasets_sheet, selected_datasets, validate_config
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
# Per data set: config's architectures that its sheet row can feed (and lists, if it lists any).
DATASET_ARCHS = {dataset: dataset_architectures(ARCHS, SHEET.loc[dataset], SHEET_PATH) for dataset in DATASETS}


def archs_of(dataset, kind=None):
    """Architectures run on a data set; kind: representation, generator or perturbation (see lifedl.models)."""
    return [arch for arch in DATASET_ARCHS[dataset] if kind is None or get_architecture(arch).kind == kind]


def arch_pattern(kind):
    """Wildcard pattern of the configured architectures of one kind (never empty, so always a valid regex)."""
    names = [arch for arch in ARCHS if get_architecture(arch).kind == kind]
    return "|".join(names) if names else "(?!)"


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


DOWNLOAD_FIELDS = ["id", "source", "checksum", "format", "labels", "batch", "condition", "programs", "programs_checksum"]


def dataset_field(field):
    return lambda wildcards: SHEET.loc[wildcards.dataset, field]


FIGURE_CAPTIONS = {
    "umap": "UMAP of each embedding, coloured by label and by Leiden cluster",
    "training_curves": "Per-epoch training and validation loss parts (from MLflow)",
    "qc_metrics": "QC metrics before filtering, with thresholds",
    "qc_hvg": "Highly variable genes (seurat_v3 on counts)",
    "seed004_panel": "Seed 004: PCA, AE, VAE, tSNE on PCA, tSNE on AE, UMAP on PCA - the same cells by label",
    "ldvae_loadings": "LDVAE: top-loading genes per latent factor",
    "vega_programs": "VEGA: mean gene-program activity per cell type",
    "vae_interpolation": "VAE latent interpolation between two cell types' centroids, decoded",
    "dgd_latent": "DGD: latent space by mixture component and by cell type (seed 000's PBMC figure)",
    "dgd_subclusters": "DGD: sub-clustering of the largest mixture component, with its marker genes",
    "generation": "Cells generated from the latent spaces of DGD and the VAE, next to real cells",
    "realism_umap": "{arch}: UMAP of real and generated cells together",
    "gene_means": "{arch}: per-gene means and variances, real vs generated",
    "response": "{arch}: predicted vs real mean expression of the held-out type's stimulated cells",
}


def paper_figures(dataset):
    """The paper figures that apply to a dataset, given its architectures and its labels."""
    archs = set(archs_of(dataset))
    has_labels = bool(SHEET.loc[dataset, "labels"])
    wanted = {
        "seed004_panel": {"pca", "ae", "vae"} <= archs and has_labels,
        "ldvae_loadings": "ldvae" in archs,
        "vega_programs": "vega" in archs and has_labels,
        "vae_interpolation": "vae" in archs and has_labels,
        "dgd_latent": "dgd" in archs and has_labels,
        "dgd_subclusters": "dgd" in archs,
        "generation": {"dgd", "vae"} <= archs,
    }
    return [f"results/{dataset}/figures/{name}.png" for name, keep in wanted.items() if keep]


def model_figures(dataset):
    """Figures written by the generator and perturbation rules, named {arch}_{figure}."""
    names = [f"{arch}_{figure}" for arch in archs_of(dataset, "generator") for figure in ("realism_umap", "gene_means")]
    names += [f"{arch}_response" for arch in archs_of(dataset, "perturbation")]
    return [f"results/{dataset}/figures/{name}.png" for name in names]


def likelihood_datasets():
    chosen = config["likelihood_comparison"]["datasets"] or DATASETS
    if not config["likelihood_comparison"]["enabled"]:
        return []
    return [dataset for dataset in DATASETS if dataset in chosen and "vae" in archs_of(dataset)]


def report_plan():
    """Per data set, the files the report shows: metrics tables, run records, figures with captions, tables."""
    plan = {}
    for dataset in DATASETS:
        figures = [f"results/{dataset}/figures/{name}.png" for name in ("umap", "training_curves", "qc_metrics", "qc_hvg")]
        figures += paper_figures(dataset) + model_figures(dataset)
        captions = []
        for path in figures:
            name = path.rsplit("/", 1)[1].removesuffix(".png")
            arch, _, figure = name.partition("_")
            caption = FIGURE_CAPTIONS.get(name) or FIGURE_CAPTIONS[figure].format(arch=arch)
            captions.append((path, caption))
        tables = [
            (f"{arch}: realism of generated cells, beside two halves of the real cells (the floor)", f"results/{dataset}/metrics/{arch}.tsv")
            for arch in archs_of(dataset, "generator")
        ]
        tables += [
            (f"{arch}: predicted response of the held-out cell type, beside two baselines", f"results/{dataset}/metrics/{arch}.tsv")
            for arch in archs_of(dataset, "perturbation")
        ]
        if dataset in likelihood_datasets():
            tables.append(("Held-out log-likelihood per likelihood (same VAE, same validation cells)", f"results/{dataset}/likelihoods.tsv"))
        plan[dataset] = {
            "metrics": [f"results/{dataset}/metrics/{arch}.tsv" for arch in archs_of(dataset, "representation")],
            "run_jsons": [f"results/{dataset}/models/{arch}/run.json" for arch in archs_of(dataset)],
            "qc_h5ad": f"results/{dataset}/qc.h5ad",
            "figures": captions,
            "tables": tables,
        }
    return plan


def report_inputs(plan):
    files = []
    for parts in plan.values():
        files += parts["metrics"] + parts["run_jsons"] + [parts["qc_h5ad"]]
        files += [path for path, _ in parts["figures"]] + [path for _, path in parts["tables"]]
    return files
