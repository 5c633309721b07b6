"""The train rule (workflow/rules/train.smk), and the models the experiments train."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from lifedl.io import file_sha256, write_json, write_tsv
from lifedl.steps.common import read_json, read_with_spec
from lifedl.train.provenance import PYFUNC_NEEDS, git_commit, git_dirty, package_versions


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What one training job trains and how it is tracked (its files are the arguments of :func:`train`)."""

    arch: str
    dataset: str
    hyper_parameters: Mapping[str, object] | None  # config params.<arch>: overrides of the registry's defaults
    seed: int
    tracking_uri: str
    threads: int = 1
    training: Mapping[str, object] | None = None  # config 'training' (accelerator, precision, checkpoints, ...)
    config_sha256: str = ""  # tagged on the run; not part of the fingerprint: a clustering change must not retrain
    tags: Mapping[str, str] | None = None
    run_name: str | None = None  # the MLflow run's name (default: the architecture)
    # log an embedding model as an MLflow pyfunc model; and register it (config mlflow.register_models: "auto" = on
    # a tracking server only, lifedl.train.tracking.should_register)
    pyfunc: bool = True
    register: str | bool = "auto"

    @classmethod
    def of_job(cls, job, **given) -> TrainSettings:
        """A Snakemake job's settings: its wildcards, params and config (``job``: the ``snakemake`` object of a
        script); ``given`` replaces any of them."""
        from lifedl.config import config_sha256
        from lifedl.train.tracking import resolve_tracking_uri

        settings = {
            "arch": getattr(job.wildcards, "arch", ""),
            "dataset": job.wildcards.dataset,
            "hyper_parameters": getattr(job.params, "hyper_parameters", None),
            "seed": getattr(job.params, "seed", 0),
            # not a param: the tracking URI must not change a job's params (a run moved to a server would retrain)
            "tracking_uri": resolve_tracking_uri(job.config["mlflow"]["tracking_uri"]),
            "threads": job.threads,
            "training": job.params.training,
            "config_sha256": config_sha256(job.config),
            "tags": {"snakemake_rule": job.rule},
            "register": job.config["mlflow"]["register_models"],
        }
        return cls(**{**settings, **given})

    def with_choices_of(self, run_json: str) -> TrainSettings:
        """The hyper-parameters another run of this architecture chose on the same validation rows (its
        run.json's 'chosen', written where a search ran), fixed instead of searched again: a replicate seed
        retrains the chosen model rather than repeating the search (8 fits each for the calibration family)."""
        chosen = read_json(run_json).get("chosen", {})
        if not chosen:
            return self
        return dataclasses.replace(self, hyper_parameters={**(self.hyper_parameters or {}), **chosen, "search": {}})

    def for_experiment(self, run_name: str, seed: int, hyper_parameters: Mapping[str, object] | None) -> TrainSettings:
        """One model of an experiment: its own run name, seed and hyper-parameters; no pyfunc model, not registered."""
        return dataclasses.replace(
            self, run_name=run_name, seed=seed, hyper_parameters=hyper_parameters, pyfunc=False, register=False
        )


def train(
    qc_h5ad: str,
    checkpoint: str,
    run_json: str,
    settings: TrainSettings,
    history: str | None = None,
    models: Sequence[str] = (),
) -> None:
    """Train one architecture on one dataset, tracked as one MLflow run; ``history``: where to write the
    per-epoch metrics as a table (one row per epoch), for readers without MLflow; ``models``: the checkpoints
    of the architectures whose models it uses (``Architecture.uses_models``), in that order.

    Intermediate checkpoints go to ``models/{arch}/checkpoints/<fingerprint>/``, the
    fingerprint covering input file, hyper-parameters and seed: a job killed mid-training
    resumes from its ``last.ckpt`` and continues its MLflow run, while a changed input or
    config starts afresh.
    """
    import torch

    from lifedl.data.sequences import alphabet_name, alphabet_of
    from lifedl.distributed import is_first_process
    from lifedl.errors import LifedlError
    from lifedl.models import get_architecture
    from lifedl.models.base import load_model, save_checkpoint
    from lifedl.models.registry import with_epochs
    from lifedl.train.context import TrainingContext, resolve_accelerator
    from lifedl.train.plans import fit_architecture
    from lifedl.train.resume import resume_point
    from lifedl.train.tracking import should_register, tracked_run

    arch, dataset, seed = settings.arch, settings.dataset, settings.seed
    processes = int((settings.training or {}).get("devices", 1))  # data-parallel: the job's threads shared out
    torch.set_num_threads(max(1, settings.threads // processes))
    architecture = get_architecture(arch)
    adata, spec = read_with_spec(qc_h5ad)
    alphabet = alphabet_name(alphabet_of(adata)) if spec.kind == "sequences" else ""
    params = architecture.resolve_params(
        settings.hyper_parameters, where=f"config/config.yaml params.{arch}", alphabet=alphabet
    )
    params = with_epochs(params, adata.n_obs)  # logged, fingerprinted and recorded as the number trained
    resolve_accelerator(str((settings.training or {}).get("accelerator", "auto")))  # no GPU where one is asked for
    registering = settings.pyfunc and should_register(settings.register, settings.tracking_uri)  # bad: stop now
    inputs = {Path(qc_h5ad).name: file_sha256(qc_h5ad)}
    used = dict(zip(architecture.uses_models, models, strict=True))
    inputs.update({f"{name}/{Path(path).name}": file_sha256(path) for name, path in used.items()})
    # The data set's roles travel inside qc.h5ad, so its checksum covers them.
    fingerprint = hashlib.sha256(json.dumps([arch, params, seed, inputs], sort_keys=True).encode()).hexdigest()
    work_dir = Path(checkpoint).parent / "checkpoints" / fingerprint[:16]

    def training_context(recorder) -> TrainingContext:
        return TrainingContext(
            seed=seed,
            work_dir=work_dir,
            recorder=recorder,
            label=f"{dataset}/{settings.run_name or arch}",
            source=qc_h5ad,
            models={name: load_model(path) for name, path in used.items()},
            **(settings.training or {}),
        )

    if not is_first_process():  # another process of a data-parallel training: it trains its share, writes nothing
        fit_architecture(adata, arch, params, training_context(None), spec)
        return
    work_dir.mkdir(parents=True, exist_ok=True)
    run_id_file = work_dir.with_name(f"{work_dir.name}.mlflow_run_id")
    provenance = {
        "seed": seed,
        "git_commit": git_commit(Path(__file__).parent),
        "git_dirty": git_dirty(Path(__file__).parent),
        "config_sha256": settings.config_sha256,
        "input_sha256": inputs,
        "versions": package_versions(),
    }
    previous_run = run_id_file.read_text().strip() if run_id_file.is_file() else None
    last_checkpoint, unreadable = resume_point(work_dir)
    if unreadable:
        print(f"warning: {unreadable}", file=sys.stderr, flush=True)
    # an interrupted run continues only where its checkpoint does; otherwise a new run names the one it replaces
    restart_reason = "" if last_checkpoint else unreadable or f"no {work_dir / 'last.ckpt'} to resume from"
    run_name = settings.run_name or arch
    tags = _run_tags(settings, provenance)
    with tracked_run(settings.tracking_uri, dataset, run_name, tags, previous_run, restart_reason) as run:
        run_id_file.write_text(run.run_id)
        run.log_params({**params, "seed": seed, "n_cells": adata.n_obs, "n_genes": adata.n_vars})
        run.log_params({f"input_sha256/{name}": digest for name, digest in inputs.items()})
        run.log_input(qc_h5ad, name=dataset, digest=inputs[Path(qc_h5ad).name])
        run.log_params({f"version/{name}": version for name, version in provenance["versions"].items()})
        model = fit_architecture(adata, arch, params, training_context(run), spec)
        run.log_metrics({f"final/{k}": v for k, v in model.final_metrics.items()})
        if history:  # from MLflow, so a resumed run's earlier epochs are in it too
            write_tsv(run.epoch_history(), history)
        save_checkpoint(model, checkpoint)
        try:
            run.log_artifact(checkpoint, "checkpoints")
        except LifedlError:  # no model.ckpt that looks finished beside a FAILED run
            Path(checkpoint).unlink(missing_ok=True)
            raise
        logged = _log_model(run, model, architecture, checkpoint, adata, settings, provenance, registering)
        record = {"arch": arch, "dataset": dataset, "params": params, "mlflow_run_id": run.run_id}
        if params.get("search"):  # what the search chose on the validation rows (replicates train with it)
            record["chosen"] = {name: model.params[name] for name in params["search"]}
        record |= {"mlflow_experiment": dataset, "mlflow_tracking_uri": settings.tracking_uri, **logged}
        write_json({**record, "final_metrics": model.final_metrics, **provenance}, run_json)


def _run_tags(settings: TrainSettings, provenance: Mapping[str, object]) -> dict[str, str]:
    """The MLflow run's tags: what ran where, from which commit and config (MLflow's own source tags included: the
    runs table shows them)."""
    return {
        "dataset": settings.dataset,
        "arch": settings.arch,
        "seed": str(settings.seed),
        "git_commit": provenance["git_commit"],
        "git_dirty": provenance["git_dirty"],
        "mlflow.source.git.commit": provenance["git_commit"],
        "mlflow.source.type": "JOB",
        "mlflow.source.name": f"snakemake rule {(settings.tags or {}).get('snakemake_rule', 'train')}",
        "config_sha256": settings.config_sha256,
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        **(settings.tags or {}),
    }


def _log_model(run, model, architecture, checkpoint, adata, settings, provenance, registering) -> dict[str, str]:
    """An embedding model as MLflow logs models (pyfunc: any MLflow client loads it and embeds cells), registered
    where configured: its registered name and version and its model URI ("" where none). The others (classifiers,
    generators, designers) have no pyfunc predict: their checkpoint artifact is the model (lifedl.load), and the
    pyfunc import and save (3 s a job) are spared; so do the models that cannot embed one new cell in lifedl's
    environment alone (Architecture.pyfunc_loadable)."""
    from lifedl.models.base import Embeds
    from lifedl.train.tracking import register_model, registered_model_name

    logged = {"registered_model": "", "registered_version": "", "mlflow_model_uri": ""}
    if settings.pyfunc and isinstance(model, Embeds) and architecture.pyfunc_loadable:
        from lifedl.train.pyfunc import log_pyfunc_model

        requirements = [f"{name}=={v}" for name, v in provenance["versions"].items() if name in PYFUNC_NEEDS]
        logged["mlflow_model_uri"] = log_pyfunc_model(run, model, checkpoint, adata, requirements)
        if registering:
            logged["registered_model"] = registered_model_name(settings.dataset, settings.arch)
            logged["registered_version"] = register_model(run, logged["registered_model"])
    return logged


def train_experiment_model(
    qc_h5ad: str, run_dir: str | os.PathLike, settings: TrainSettings, models: Sequence[str] = ()
) -> Path:
    """One model of an experiment (likelihoods, leave-one-type-out, augmentation, realism budget; ``settings``
    from :meth:`TrainSettings.for_experiment`): its ``model.ckpt``, ``run.json`` and ``history.tsv`` in
    ``run_dir``, which is returned; ``models``: the checkpoints of the models it uses, as :func:`train`'s."""
    run_dir = Path(run_dir)
    checkpoint, run_json, history = (str(run_dir / name) for name in ("model.ckpt", "run.json", "history.tsv"))
    train(qc_h5ad, checkpoint, run_json, settings, history, models)
    return run_dir


def learning_curve(
    qc_h5ad: str,
    pretrained: str,
    output: str,
    runs_output: str,
    figure: str,
    work_dir: str,
    settings: TrainSettings,
    fractions: Sequence[float],
    seeds: Sequence[int],
) -> None:
    """What pre-training is worth by the share of labels (:mod:`lifedl.tl.learning_curve`): per seed and fraction,
    ``settings.arch`` (transformer_finetuned, started from the encoder of the ``pretrained`` checkpoint) and the same
    network from random weights (its entry's first ``compared_with``, the transformer, with its settings) read the labels of that share of each class's
    training rows (the same rows for both: lifedl.data.splits.labelled_share), stop early on every validation row
    and are scored on the test rows by the score rule's scorer; ``runs_output`` one row per model, ``output`` the
    summary per fraction, ``figure`` the curve."""
    import pandas as pd

    from lifedl.data.sequences import alphabet_name, alphabet_of
    from lifedl.io import save_figure
    from lifedl.models import get_architecture
    from lifedl.models.base import load_model
    from lifedl.pl.sequences import learning_curve_figure
    from lifedl.steps.score import classify
    from lifedl.tl.learning_curve import curve_summary

    adata, spec = read_with_spec(qc_h5ad)
    network = get_architecture(settings.arch).resolve_params(
        settings.hyper_parameters, where=f"config params.{settings.arch}", alphabet=alphabet_name(alphabet_of(adata))
    )
    # the same network from random weights: the architecture the fine-tuned one is compared with (its entry's)
    scratch = get_architecture(settings.arch).compared_with[0]
    arms = {"scratch": (scratch, []), "pretrained": (settings.arch, [pretrained])}
    rows = []
    for seed in seeds:
        for fraction in fractions:
            for arm, (arch, models) in arms.items():
                run_dir = Path(work_dir) / f"seed{seed}" / f"labels_{fraction:g}" / arm
                name = f"{arch}_labels_{fraction:g}_seed{seed}"
                print(f"{settings.dataset}: {name} ({arm})", flush=True)
                params = {**network, "label_fraction": fraction}
                experiment = dataclasses.replace(settings, arch=arch).for_experiment(name, seed, params)
                train_experiment_model(qc_h5ad, run_dir, experiment, models=models)
                scores = str(run_dir / "scores.tsv")
                classify(qc_h5ad, str(run_dir / "model.ckpt"), scores, str(run_dir / "predictions.tsv"), arch, spec.id)
                final = read_json(str(run_dir / "run.json"))["final_metrics"]
                row = pd.read_csv(scores, sep="\t").iloc[0].to_dict()
                rows.append(
                    {"seed": seed, "fraction": fraction, "arm": arm, "n_labelled": final["n_train_cells"], **row}
                    | {"epochs_trained": final["epochs_trained"]}
                )
    runs = pd.DataFrame(rows)
    write_tsv(runs, runs_output)
    summary = curve_summary(runs)
    # the pre-training's own measure beside the curve: hidden letters on the validation rows, against frequencies
    hidden_letters = load_model(pretrained).final_metrics
    for name in (
        "val_masked_accuracy",
        "val_masked_cross_entropy",
        "val_unigram_accuracy",
        "val_unigram_cross_entropy",
    ):
        summary[f"pretraining_{name}"] = hidden_letters.get(name, float("nan"))
    write_tsv(summary, output)
    save_figure(learning_curve_figure(summary, runs), figure)
