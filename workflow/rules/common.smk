# Validated config, the datasets sheet, and helpers shared by the rules.
import sys
from pathlib import Path

# (the Snakefile put this checkout's src/ on sys.path)
from lifedl.config import (
    check_dataset_keys,
    dataset_architectures,
    dataset_params,
    dataset_qc,
    export_pythonpath,
    load_datasets_sheet,
    selected_datasets,
    validate_config,
)

export_pythonpath(f"{workflow.basedir}/src")
from lifedl.errors import LifedlError
from lifedl.figures import FIGURES, figure_input_paths, figures_for
from lifedl.models import LIKELIHOOD_COMPARISON_ARCH, get_architecture
from lifedl.tl.tasks import TASKS

validate_config(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
SHEET_PATH = config["datasets_sheet"]
SHEET = load_datasets_sheet(SHEET_PATH, f"{workflow.basedir}/workflow/schemas/datasets.schema.yaml")
DATASETS = selected_datasets(config, SHEET, SHEET_PATH)
check_dataset_keys(config, SHEET, SHEET_PATH, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
# Per data set: config's architectures that read its kind and that its sheet row can feed (and lists, if it
# lists any), each family's baseline (PCA, k-mers) first.
DATASET_ARCHS = {
    dataset: dataset_architectures(config["architectures"], SHEET[dataset], SHEET_PATH) for dataset in DATASETS
}
ARCHS = list(dict.fromkeys(arch for archs in DATASET_ARCHS.values() for arch in archs))
for _arch in dict.fromkeys([*config["architectures"], *ARCHS]):  # every one named, run or not
    get_architecture(_arch).resolve_params(config["params"].get(_arch), where=f"config 'params.{_arch}'")
for _dataset, _overrides in config["params_per_dataset"].items():
    for _arch in _overrides:
        get_architecture(_arch).resolve_params(
            dataset_params(config, _dataset, _arch), where=f"config 'params_per_dataset.{_dataset}.{_arch}'"
        )


def archs_of(dataset, task=None):
    """Architectures run on a data set; task: one of lifedl.tl.tasks.TASKS (None: all)."""
    return [arch for arch in DATASET_ARCHS[dataset] if task is None or get_architecture(arch).task == task]


def archs_with(dataset, capability):
    """Architectures run on a data set that declare a capability (lifedl.models.CAPABILITIES)."""
    return [arch for arch in archs_of(dataset) if get_architecture(arch).can(capability)]


def scored_archs(dataset):
    """Architectures with a row in the data set's metrics.tsv, task by task (the replicate seeds train these
    again): representations, classifiers, regressors, designers (lifedl.tl.tasks: scored)."""
    return [arch for task in TASKS.values() if task.scored for arch in archs_of(dataset, task.name)]


def used_models(wildcards):
    """The trained models an architecture uses, of its own seed: the CNN oracle of dqn_oracle, the network that
    conv2d_temperature scales (a replicate seed uses that seed's replicate)."""
    used = get_architecture(wildcards.arch).uses_models

    def path(name):
        # a scored model has a replicate per seed; a pre-training (transformer_mlm) is trained once and serves all
        if "seed" in wildcards.keys() and TASKS[get_architecture(name).task].scored:
            return f"results/{wildcards.dataset}/replicates/{name}/seed{wildcards.seed}/model.ckpt"
        return f"results/{wildcards.dataset}/models/{name}/model.ckpt"

    return [path(name) for name in used]


def arch_pattern(*tasks, capability=None):
    """Wildcard pattern of the architectures of these tasks (all, if none named) or with this capability (never
    empty, so always a valid regex)."""
    names = [
        arch
        for arch in ARCHS
        if (not tasks or get_architecture(arch).task in tasks)
        and (capability is None or get_architecture(arch).can(capability))
    ]
    return "|".join(names) if names else "(?!)"


# the tasks the score rule scores on held-out rows (the replicate rule scores their extra seeds the same way)
SCORED_ON_ROWS = [task.name for task in TASKS.values() if task.scored_on_rows]


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    arch=arch_pattern(),
    figure="|".join(FIGURES),


def rule_resources(rule_name):
    """threads and resources of a rule from config 'resources' (falling back to 'default')."""
    merged = {"threads": 1, "mem_mb": 4000, "runtime": 30}
    merged.update(config["resources"].get("default", {}))
    merged.update(config["resources"].get(rule_name, {}))
    return merged


def training_threads():
    """A training job's threads: resources.train.threads for each of its training.devices processes (data-parallel
    training starts one process per device inside the job, so a SLURM job is one task with all of them)."""
    return rule_resources("train")["threads"] * int(config["training"].get("devices", 1))


def one_process_training():
    """The training settings of the rules that train several models and score them (replicates, experiments): one
    process each (only the train rule trains data-parallel; another process would write their tables too)."""
    return {**config["training"], "devices": 1}


def mem_mb(rule_name):
    """Memory request that grows with each retry (attempt 1, 2, ...), for jobs killed for memory."""
    base = rule_resources(rule_name)["mem_mb"]
    return lambda wildcards, attempt: base * attempt


# Only the fields that shape raw.h5ad (the spec stored in it): editing a description or an architecture list
# re-downloads nothing.
DOWNLOAD_FIELDS = [
    "id",
    "source",
    "kind",
    "checksum",
    "format",
    "labels",
    "batch",
    "condition",
    "control",
    "heldout",
    "split",
    "programs",
    "programs_checksum",
]


def archs_by_task(dataset):
    """A data set's architectures per task, and all of them under 'all' (what lifedl.figures reads)."""
    return {task: archs_of(dataset, task) for task in TASKS} | {"all": archs_of(dataset)}


def dataset_figures(dataset):
    """Names of the figures (lifedl.figures) a data set gets, from its architectures and labels."""
    simulated = SHEET[dataset]["source"].startswith("simulated:")
    return figures_for(archs_by_task(dataset), bool(SHEET[dataset]["labels"]), simulated)


def figure_inputs(wildcards):
    paths = figure_input_paths(wildcards.figure, archs_by_task(wildcards.dataset))
    return {
        role: path if path.startswith("results/") else f"results/{wildcards.dataset}/{path}"
        for role, path in paths.items()
    }


def caption(name):
    """A figure's or table's caption: the text of workflow/report/<name>.rst."""
    return (Path(workflow.basedir) / "workflow" / "report" / f"{name}.rst").read_text().strip()


def likelihood_datasets():
    chosen = config["likelihood_comparison"]["datasets"] or DATASETS
    if not config["likelihood_comparison"]["enabled"]:
        return []
    return [dataset for dataset in DATASETS if dataset in chosen and LIKELIHOOD_COMPARISON_ARCH in archs_of(dataset)]


def replicate_datasets():
    """Data sets whose scored architectures are trained again with config 'replicates: seeds'."""
    chosen = config["replicates"]["datasets"] or DATASETS
    if not config["replicates"]["seeds"]:
        return []
    return [dataset for dataset in DATASETS if dataset in chosen and scored_archs(dataset)]


def seed_metric_files(dataset):
    """(metrics file, seed) of every scored architecture and seed: the main model's, then the replicates' (none
    for the architectures config 'replicates.skip' names for this data set; a deterministic one's main scores
    stand for every seed)."""
    extra = [seed for seed in dict.fromkeys(config["replicates"]["seeds"]) if seed != config["seed"]]
    skipped = config["replicates"]["skip"].get(dataset, [])
    files = []
    for arch in scored_archs(dataset):
        main = f"results/{dataset}/metrics/{arch}.tsv"
        files.append((main, config["seed"]))
        if get_architecture(arch).deterministic:  # every seed would fit it the same: the main seed's scores
            files += [(main, seed) for seed in extra]
        elif arch not in skipped:
            files += [(f"results/{dataset}/replicates/{arch}/seed{seed}/metrics.tsv", seed) for seed in extra]
    return files


def leave_one_type_out_seeds(dataset):
    """`seed`, then config 'leave_one_type_out.seeds' (or the data set's own in 'seeds_per_dataset')."""
    section = config["leave_one_type_out"]
    return list(dict.fromkeys([config["seed"], *section["seeds_per_dataset"].get(dataset, section["seeds"])]))


# A misspelt name under 'replicates.skip' would replicate silently; checked here, when the workflow is parsed (an
# input function's error would only drop the jobs that need it).
for _dataset, _skipped in config["replicates"]["skip"].items():
    if _dataset in replicate_datasets() and (_unknown := sorted(set(_skipped) - set(scored_archs(_dataset)))):
        raise LifedlError(
            f"config 'replicates.skip.{_dataset}' names {_unknown}, not scored architectures of {_dataset} "
            f"(scored: {scored_archs(_dataset)}); fix the names in the config file."
        )


def realism_budget_datasets():
    """Data sets whose generators are trained longer (config 'realism_budget'; empty 'datasets': all)."""
    if not config["realism_budget"]["enabled"]:
        return []
    chosen = config["realism_budget"]["datasets"] or DATASETS
    return [dataset for dataset in DATASETS if dataset in chosen]


def gans(dataset):
    """The generators run on a data set that train adversarially (plan 'gan'): scGAN's realism budget is theirs."""
    return [arch for arch in archs_of(dataset, "generator") if get_architecture(arch).plan == "gan"]


def realism_generator(dataset):
    """The GAN whose realism the count models' prior samples are measured beside (None: no realism table)."""
    samplers = [arch for arch in archs_with(dataset, "prior_samples") if arch not in gans(dataset)]
    return gans(dataset)[0] if gans(dataset) and samplers else None


def finetuned(dataset):
    """The classifiers run on a data set that start from a pre-trained model (transformer_finetuned): their
    learning curve is drawn where config 'learning_curve' is enabled."""
    return [
        arch
        for arch in archs_of(dataset, "classifier")
        if any(get_architecture(used).task == "pretraining" for used in get_architecture(arch).uses_models)
    ]


def finetuned_pattern():
    """Wildcard pattern of the fine-tuned classifiers of every data set (never empty, so always a valid regex)."""
    names = list(dict.fromkeys(arch for dataset in DATASETS for arch in finetuned(dataset)))
    return "|".join(names) if names else "(?!)"


def loadings_archs(dataset):
    """The linear decoders run on a data set, after their baselines (PCA's components); none where no linear
    decoder runs."""
    decoders = archs_with(dataset, "loadings")
    baselines = [get_architecture(arch).baseline for arch in decoders]
    return [arch for arch in dict.fromkeys(baselines) if arch in archs_of(dataset)] + decoders


def loadings_factors(dataset):
    """Factors tested per model: the linear decoders' latent size (the smallest, where several run), so PCA's
    leading components face as many tests."""
    return min(
        get_architecture(arch).resolve_params(dataset_params(config, dataset, arch))["n_latent"]
        for arch in archs_with(dataset, "loadings")
    )


def motif_datasets():
    """Sequence data sets whose CNN filters are matched to the motif database: real ones always (a simulation's
    planted motifs are matched directly), simulations when motif_database.simulated is true."""
    wanted = config["motif_database"]["simulated"]
    return [
        dataset
        for dataset in DATASETS
        if archs_with(dataset, "motif_filters") and (wanted or not SHEET[dataset]["source"].startswith("simulated:"))
    ]


def report_plan():
    """Per data set, the files the report shows: metrics tables, run records, figures with captions, tables."""
    plan = {}
    for dataset in DATASETS:
        figures = [(f"results/{dataset}/figures/{name}.png", caption(name)) for name in ("qc_metrics", "qc_features")]
        figures += [(f"results/{dataset}/figures/{name}.png", caption(name)) for name in dataset_figures(dataset)]
        tables = []
        for task in [task for task in TASKS.values() if task.figures]:
            for arch in archs_of(dataset, task.name):
                text = caption(task.caption).replace("{{ snakemake.wildcards.arch }}", arch)
                figures += [(f"results/{dataset}/figures/{arch}_{name}.png", text) for name in task.figures]
                tables.append((f"{arch}: {task.table}", f"results/{dataset}/metrics/{arch}.tsv"))
        if config["leave_one_type_out"]["enabled"]:
            for arch in archs_of(dataset, "perturbation"):
                title = f"{arch}: every cell type held out in turn (the validation type left out), beside the baselines"
                tables.append((title, f"results/{dataset}/loto/{arch}.tsv"))
        if dataset in realism_budget_datasets():
            for arch in gans(dataset):
                title = f"{arch}: realism against a longer training budget (RF AUROC every few epochs)"
                tables.append((title, f"results/{dataset}/realism_budget/{arch}.tsv"))
        if config["augmentation"]["enabled"] and dataset in config["augmentation"]["rare_types"]:
            for arch in archs_of(dataset, "generator"):
                title = f"{arch}: a rare cell type's F1 with generated cells, beside oversampling and all cells"
                tables.append((title, f"results/{dataset}/augmentation/{arch}.tsv"))
        if config["learning_curve"]["enabled"]:
            for arch in finetuned(dataset):
                text = caption("learning_curve")
                figures.append((f"results/{dataset}/figures/{arch}_learning_curve.png", text))
                title = f"{arch}: test scores by the share of training labels, pre-trained against from scratch"
                tables.append((title, f"results/{dataset}/learning_curve/{arch}.tsv"))
        if dataset in likelihood_datasets():
            title = (
                "Held-out ELBO and log-likelihood per likelihood over seeds (same VAE, same held-out cells per seed)"
            )
            tables.append((title, f"results/{dataset}/likelihoods.tsv"))
        if SHEET[dataset]["labels"]:
            for arch in archs_with(dataset, "gene_programs"):
                title = f"{arch}: the cell type where each program is most and least active (z across cell types)"
                tables.append((title, f"results/{dataset}/programs/{arch}.tsv"))
        if len(archs_of(dataset, "representation")) > 1:
            title = "Agreement between the models' clusterings (ARI of their Leiden clusters on the test cells)"
            tables.append((title, f"results/{dataset}/agreement.tsv"))
        if loadings_archs(dataset):
            title = "Factors whose top-loading genes form a gene program (hypergeometric test, Bonferroni)"
            tables.append((title, f"results/{dataset}/enrichment.tsv"))
        if realism_generator(dataset):
            title = f"Realism of cells sampled from {', '.join(archs_with(dataset, 'prior_samples'))} beside the GAN's"
            tables.append((title, f"results/{dataset}/realism.tsv"))
        if dataset in motif_datasets():
            for arch in archs_with(dataset, "motif_filters"):
                title = (
                    f"{arch}: first-layer filters named by their best-matching {config['motif_database']['release']}"
                )
                tables.append((title, f"results/{dataset}/motifs/{arch}.tsv"))
        if dataset in replicate_datasets():
            title = "Over seeds: mean and sd of each scored architecture's measures (same cells or test rows)"
            tables.append((title, f"results/{dataset}/seeds.tsv"))
            title = "Over seeds: each model against each baseline, paired differences with bootstrap 95 % intervals"
            tables.append((title, f"results/{dataset}/comparisons.tsv"))
        scored = scored_archs(dataset)
        plan[dataset] = {
            "metrics": [f"results/{dataset}/metrics/{arch}.tsv" for arch in scored],
            "run_jsons": [f"results/{dataset}/models/{arch}/run.json" for arch in archs_of(dataset)],
            "qc_h5ad": f"results/{dataset}/qc.h5ad",
            "figures": figures,
            "tables": tables,
        }
    return plan


def report_inputs(plan):
    files = []
    for parts in plan.values():
        files += parts["metrics"] + parts["run_jsons"] + [parts["qc_h5ad"]]
        files += [path.replace("run.json", "history.tsv") for path in parts["run_jsons"]]  # how training ended
        files += [path for path, _ in parts["figures"]] + [path for _, path in parts["tables"]]
    return files
