"""The rules of workflow/rules/generative.smk: generated cells and their realism, scGen's perturbation and
leave-one-type-out, scGAN's augmentation and realism budget."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.data.splits import held_out_rows
from lifedl.io import save_figure, write_h5ad, write_tsv
from lifedl.steps.common import log_table_to_run, read_json, read_with_spec
from lifedl.steps.train import TrainSettings, train_experiment_model


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
    table = realism_table(real_scaled, generated, seed, name=model.arch)  # its own name, not always the GAN's
    write_h5ad(generated, generated_output)
    write_tsv(table, metrics_output)
    save_figure(realism_umap_figure(real_scaled, generated, seed), umap_output)
    save_figure(gene_means_figure(real_scaled, generated), means_output)
    log_table_to_run(run_json, table, table.columns[0])


def sample_realism(qc_h5ad: str, generator: str, samplers: Mapping[str, str], output: str, seed: int) -> None:
    """Seed 002's "GANs give better samples, VAEs better latents", measured: cells drawn from each count model
    (``samplers``: arch -> checkpoint; z from its prior, counts at the real cells' depths) and from the GAN
    (``generator``'s checkpoint), all on the GAN's scale, in one realism table beside the real-vs-real floor; the
    real cells are the data set's test cells, which none of the models trained on."""

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
    log_table_to_run(run_json, table, table.columns[0])


def leave_one_type_out(
    qc_h5ad: str,
    output: str,
    runs_output: str,
    work_dir: str,
    settings: TrainSettings,
    seeds: Sequence[int],
) -> None:
    """scGen's figure 2 for every cell type in turn: the perturbation model trained with that type's stimulated
    cells held out, once per seed, its prediction scored beside both baselines. The sheet's 'heldout' type is
    the validation type (the hyper-parameters were chosen on it) and is left out of the table, so the table's
    numbers come from types no choice was made on. ``runs_output``: one row per type, seed and method;
    ``output``: mean and sd over them (:func:`lifedl.tl.perturbation.held_out_summary`)."""

    from lifedl.data.spec import UNS_KEY
    from lifedl.errors import LifedlError
    from lifedl.models.base import load_model
    from lifedl.tl.perturbation import held_out_summary, r2_table, response_means

    arch, dataset = settings.arch, settings.dataset
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
            experiment = settings.for_experiment(name, seed, settings.hyper_parameters)
            run_dir = train_experiment_model(str(type_dir / "qc.h5ad"), type_dir / f"seed{seed}", experiment)
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
    settings: TrainSettings,
    rare_type: str,
    n_rare: int,
    seeds: Sequence[int],
    used_hyper_parameters: Mapping[str, Mapping[str, object]] | None = None,
) -> None:
    """scGAN's augmentation experiment (:mod:`lifedl.tl.augmentation`): per seed, ``rare_type`` keeps ``n_rare``
    of its training cells, a conditional generator (``arch``, tracked in MLflow: the cscGAN, or latent diffusion
    with the models it uses trained first on the same cells, ``used_hyper_parameters`` by name) trains on what is
    left and generates as many cells of that type as were taken away, and the rare type's test F1 is measured with
    and without them, beside random oversampling and all training cells. The test cells are the data set's
    (``split``)."""

    from lifedl.errors import LifedlError
    from lifedl.models import get_architecture
    from lifedl.models.base import load_model
    from lifedl.tl.augmentation import arm_summary, augmentation_arms, downsample_type

    arch, dataset = settings.arch, settings.dataset
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
        used = []
        for model_name in get_architecture(arch).uses_models:  # e.g. latent diffusion's VAE, on the same cells
            used_dir = run_dir / model_name
            used_settings = dataclasses.replace(settings, arch=model_name).for_experiment(
                f"{model_name}_for_{name}", seed, (used_hyper_parameters or {}).get(model_name)
            )
            used.append(
                str(train_experiment_model(str(run_dir / "train.h5ad"), used_dir, used_settings) / "model.ckpt")
            )
        params = {**(settings.hyper_parameters or {}), "conditional": True}
        experiment = settings.for_experiment(name, seed, params)
        train_experiment_model(str(run_dir / "train.h5ad"), run_dir, experiment, models=used)
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
    settings: TrainSettings,
    max_epochs: int,
    every: int,
) -> None:
    """scGAN's realism against a longer budget than the default run's: the generator trained for ``max_epochs``
    with the RF AUROC measured every ``every`` epochs; one row per measurement, with the critic and generator
    updates done by then."""
    params = {**(settings.hyper_parameters or {}), "max_epochs": max_epochs, "realism_every": every}
    experiment = settings.for_experiment(f"{settings.arch}_budget_{max_epochs}", settings.seed, params)
    run_dir = train_experiment_model(qc_h5ad, Path(work_dir), experiment)
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
