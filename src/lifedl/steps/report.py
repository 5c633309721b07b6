"""The rules of workflow/rules/report.smk: figures, the HTML report (its figures logged to the runs) and scVAE's
likelihood comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import pandas as pd

from lifedl.io import save_figure, write_tsv
from lifedl.steps.common import log_table_to_run, read_json, read_with_spec
from lifedl.steps.train import TrainSettings, train_experiment_model


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


def report(datasets: Mapping[str, Mapping[str, object]], tracking_uri: str, output: str) -> None:
    """The HTML report; each data set's figures also go to its MLflow runs (:func:`log_figures`)."""
    from lifedl.data.spec import read_uns
    from lifedl.report import write_report

    for parts in datasets.values():
        parts["qc"] = dict(read_uns(parts.pop("qc_h5ad")).get("qc", {}))
    write_report(datasets, tracking_uri, output)
    log_figures(datasets)


def figure_archs(figure: str, archs: Sequence[str]) -> list[str]:
    """The architectures whose runs a figure belongs to: those of ``archs`` whose entries name it
    (:func:`lifedl.figures.named_by`); a task's own figure (``{arch}_{name}``) its architecture's (the longest such
    name: cnn_mc_dropout_x is cnn_mc_dropout's, not cnn's); else all (UMAPs, QC, training curves)."""
    from lifedl.figures import FIGURES, GENERAL_FIGURES, named_by

    name = Path(figure).stem
    if name in FIGURES and name not in GENERAL_FIGURES:
        return named_by(name, archs)
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


def likelihood_comparison(
    qc_h5ad: str,
    output: str,
    runs_output: str,
    work_dir: str,
    settings: TrainSettings,
    max_epochs: int,
    seeds: Sequence[int],
) -> None:
    """scVAE's comparison: the same VAE (``settings.arch``: ``lifedl.models.LIKELIHOOD_COMPARISON_ARCH``) with each
    likelihood, trained once per seed on the data set's split, scored on its test cells by the IWAE bound (``VAEModel.test_scores``). ``runs_output``: one row per likelihood and seed;
    ``output``: mean and sd over seeds (:func:`lifedl.tl.likelihoods.likelihood_summary`), with the likelihood
    the cells were drawn from where the data set is a simulation.

    Each is an MLflow run named ``vae_<likelihood>`` (``vae_<likelihood>_seed<N>`` beyond the first seed; not
    registered as a model)."""
    from lifedl.data.simulate import true_likelihood
    from lifedl.data.spec import read_uns
    from lifedl.data.splits import TEST, split_of
    from lifedl.models.base import load_model
    from lifedl.nn.likelihoods import LIKELIHOODS
    from lifedl.tl.likelihoods import RUN_COLUMNS, likelihood_summary

    simulation = read_uns(qc_h5ad).get("simulation")
    truth = true_likelihood(dict(simulation)) if simulation is not None else ""
    cells = ad.read_h5ad(qc_h5ad)
    test = split_of(cells, qc_h5ad) == TEST
    arch, rows = settings.arch, []
    for position, seed in enumerate(seeds):
        for likelihood in LIKELIHOODS:
            name = f"{arch}_{likelihood}" + (f"_seed{seed}" if position else "")
            params = {**(settings.hyper_parameters or {}), "likelihood": likelihood, "max_epochs": max_epochs}
            run_dir = train_experiment_model(
                qc_h5ad, Path(work_dir) / name, settings.for_experiment(name, seed, params)
            )
            run = read_json(run_dir / "run.json")
            scores = load_model(run_dir / "model.ckpt").test_scores(cells[test], cells[~test], seed)
            log_table_to_run(str(run_dir / "run.json"), pd.DataFrame([{"arch": name, **scores}]), "arch")
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
