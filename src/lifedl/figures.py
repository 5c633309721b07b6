"""The figures the workflow draws: one registry, one wildcarded rule (``results/{dataset}/figures/{name}.png``).

A figure declares its inputs as paths under ``results/{dataset}/`` (a function of the data set's
architectures, so a figure may span them; a path starting ``results/`` is shared by all data sets), the architectures it needs, whether it needs the
data set's labels, and how to draw it. ``lifedl.steps.figure`` loads the inputs by suffix
(``.h5ad`` -> AnnData, ``.ckpt`` -> the trained model, ``.json`` -> the run record) and calls
``draw(inputs, spec, options)``; ``options`` holds ``seed`` and ``default_resolution``. Captions are
``workflow/report/<name>.rst``. Architectures name their own figures in the registry
(``lifedl.models.Architecture.figures``); ``umap`` and ``training_curves`` apply to every data set
that has architectures of the task they show.

Reading this module imports nothing heavy: Snakemake reads it when parsing the workflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lifedl.errors import LifedlError

Inputs = Callable[[Mapping[str, Sequence[str]]], dict[str, str]]  # architectures by task -> {role: path}


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str
    inputs: Inputs
    draw: Callable[[Mapping[str, Any], Any, Mapping[str, Any]], Any]
    archs: tuple[str, ...] = ()  # architectures that must run on the data set
    task: str = ""  # a task with at least one architecture on the data set ("" = none needed)
    needs_labels: bool = False
    simulated: bool | None = None  # True: simulations only (planted truth); False: real data only; None: both


def _umap(inputs, spec, options):
    import numpy as np

    from lifedl.pl.figures import umap_grid
    from lifedl.tl.cluster import leiden_key

    resolution = options["default_resolution"]
    for adata in inputs.values():  # depth beside the clusters: do they follow it?
        if "total_counts" in adata.obs:
            adata.obs["log10_depth"] = np.log10(adata.obs["total_counts"].astype(float).clip(lower=1))
    colour_keys = {
        arch: ([(spec.labels, f"label ({spec.labels})")] if spec.labels else [])
        + [(leiden_key(arch, resolution), f"Leiden {resolution:g}")]
        + ([("log10_depth", "log10 UMIs per cell")] if "log10_depth" in adata.obs else [])
        for arch, adata in inputs.items()
    }
    return umap_grid(dict(inputs), colour_keys)


def _parity(inputs, spec, options):
    from lifedl.pl.figures import parity_figure

    return parity_figure(dict(inputs), spec.labels)


def _training_curves(inputs, spec, options):
    from lifedl.pl.figures import training_curves

    return training_curves({arch: history for arch, history in inputs.items() if len(history)})


def _embedding_panel(inputs, spec, options):
    from lifedl.pl.papers import embedding_panel

    return embedding_panel(dict(inputs), spec.labels, options["seed"], tuple(inputs))


def _joint_umap(inputs, spec, options):
    from lifedl.pl.multiomics import joint_umap_figure

    return joint_umap_figure(dict(inputs), spec.labels)


def _protein_prediction(inputs, spec, options):
    from lifedl.data.splits import TEST, is_split
    from lifedl.pl.multiomics import protein_prediction_figure

    adata = inputs["embedding"]
    return protein_prediction_figure(adata, "multivae", is_split(adata, TEST, spec.where))


def _ldvae_loadings(inputs, spec, options):
    from lifedl.pl.papers import loadings_figure

    return loadings_figure(inputs["embedding"], "ldvae")


def _vega_programs(inputs, spec, options):
    from lifedl.pl.papers import program_heatmap

    return program_heatmap(inputs["embedding"], spec.labels)


def _vae_interpolation(inputs, spec, options):
    from lifedl.pl.papers import latent_interpolation

    return latent_interpolation(inputs["model"], inputs["embedding"], spec.labels)


def _dgd_latent(inputs, spec, options):
    from lifedl.pl.dgd import dgd_latent_figure

    return dgd_latent_figure(inputs["embedding"], spec.labels)


def _dgd_subclusters(inputs, spec, options):
    from lifedl.pl.dgd import dgd_subcluster_figure

    return dgd_subcluster_figure(inputs["embedding"], options["seed"])


def _generation(inputs, spec, options):
    from lifedl.pl.dgd import generation_figure
    from lifedl.pp.counts import counts_matrix, library_sizes

    real = inputs["qc"]
    depths = library_sizes(counts_matrix(real))  # generated cells get the real cells' depths
    samples = {arch: inputs[arch].sample(real.n_obs, depths, options["seed"]) for arch in ("dgd", "vae")}
    return generation_figure(real, samples)


def _scgan_realism_curve(inputs, spec, options):
    from lifedl.pl.scgan import realism_curve_figure

    return realism_curve_figure(inputs["history"], inputs["table"])


def _cnn_motif(inputs, spec, options):
    from lifedl.pl.sequences import motif_filter_figure

    filters = inputs["cnn"].first_layer_filters()
    if filters is None:
        raise LifedlError(
            "cnn_motif: this cnn reads a k-mer embedding (embedding_dim > 0), so its filters are not letter "
            "motifs; set params.cnn.embedding_dim to 0 (the cnn_embed architecture is the embedding variant)."
        )
    motif = inputs["qc"].uns["motif"]
    return motif_filter_figure(filters, motif["pwm"], str(motif["name"]))


def _filter_logos(inputs, spec, options):
    from lifedl.data.jaspar import motifs_from_table
    from lifedl.pl.sequences import filter_match_figure

    motifs = {motif.matrix_id: motif for motif in motifs_from_table(inputs["database"])}
    return filter_match_figure(inputs["cnn"].first_layer_filters(), inputs["matches"], motifs)


def _kmer_embedding(inputs, spec, options):
    from lifedl.pl.sequences import kmer_embedding_figure

    model = inputs["cnn_embed"]
    return kmer_embedding_figure(model.kmer_embedding(), model.params["embedding_k"])


def _gradient_norms(inputs, spec, options):
    from lifedl.pl.sequences import gradient_norm_figure

    archs = [role for role in inputs if not role.endswith(":run")]
    clips = {arch: float(inputs[f"{arch}:run"]["params"].get("gradient_clip", 0)) for arch in archs}
    return gradient_norm_figure({arch: inputs[arch] for arch in archs}, clips)


def _attention_maps(inputs, spec, options):
    import numpy as np

    from lifedl.data.splits import TEST, is_split
    from lifedl.pl.sequences import attention_figure

    adata, model = inputs["qc"], inputs["transformer"]
    test = adata[is_split(adata, TEST, spec.where)]
    # Up to three held-out examples, those with a planted motif first (simulations record where it lies).
    starts = test.obs["motif_start"].to_numpy() if "motif_start" in test.obs else np.full(test.n_obs, -1)
    order = np.argsort(starts < 0, kind="stable")[:3]
    examples = test[order]
    maps = model.attention_maps(examples)
    embedded = model.params["embedding_dim"] > 0
    k, stride = (model.params["embedding_k"], model.params["token_stride"]) if embedded else (1, 1)
    width = len(str(adata.uns["motif"]["consensus"])) if "motif" in adata.uns else 0
    # Tokens overlapping the motif's letters s .. s + width - 1: token t covers letters t stride .. t stride + k - 1.
    spans = [
        (max(0, -(-(s - k + 1) // stride)), (s + width - 1) // stride) if s >= 0 and width else None
        for s in starts[order]
    ]
    labels = examples.obs[spec.labels].astype(str) if spec.labels else [""] * len(order)
    return attention_figure(maps, spans, [f"{name} ({label})" for name, label in zip(examples.obs_names, labels)])


def _calibration(inputs, spec, options):
    import numpy as np

    from lifedl.data.splits import TEST, is_split
    from lifedl.pl.uncertainty import calibration_figure

    adata = inputs["qc"]
    test = adata[is_split(adata, TEST, spec.where) & ~spec.is_unseen_class(adata)]
    truth = test.obs[spec.labels].astype(str).to_numpy()
    draw_accuracies, accuracies = {}, {}  # seed 004's histogram: each posterior draw's test accuracy
    archs = [role.removesuffix(":model") for role in inputs if role.endswith(":model")]
    for arch in archs:
        model = inputs[f"{arch}:model"]
        draws = model.probability_draws(test, options["seed"])
        classes = np.asarray(model.classes)
        if len(draws) > 1:
            draw_accuracies[arch] = (classes[draws.argmax(axis=2)] == truth).mean(axis=1)
        label = f"{arch} (mean of draws)" if len(draws) > 1 else arch
        accuracies[label] = float((classes[draws.mean(axis=0).argmax(axis=1)] == truth).mean())
    unit = "sequences" if spec.kind == "sequences" else "cells"
    return calibration_figure({arch: inputs[arch] for arch in archs}, spec.heldout, draw_accuracies, accuracies, unit)


def _design_curves(inputs, spec, options):
    from lifedl.data.sequences import encode
    from lifedl.pl.sequences import design_figure

    model = inputs["model"]
    designed = model.pwm_score.aligned_frequencies(encode(list(inputs["designs"]["sequence"])))
    oracle = "" if model.oracle is None else f"{model.oracle.arch} '{model.params['oracle_class']}'"
    return design_figure(inputs["history"], inputs["curves"], designed, model.pwm, model.motif_name, oracle)


def _designer(arch: str) -> Inputs:
    """A designer's model, training history, curves and designs."""
    return _fixed(
        {
            "model": f"models/{arch}/model.ckpt",
            "history": f"models/{arch}/history.tsv",
            "curves": f"curves/{arch}.tsv",
            "designs": f"predictions/{arch}.tsv",
        }
    )


def _logging_gradients(archs: Sequence[str]) -> list[str]:
    """The architectures whose training logs gradient norms (capability 'gradient_norms')."""
    from lifedl.models import get_architecture

    return [arch for arch in archs if get_architecture(arch).can("gradient_norms")]


def _drawing_probabilities(data_kind: str) -> list[str]:
    """The architectures of a data kind that predict class probabilities as draws (capability
    'probability_draws'; the deterministic baselines, one draw each, among them), in registry order."""
    from lifedl.models import ARCHITECTURES

    return [
        name for name, arch in ARCHITECTURES.items() if arch.data_kind == data_kind and arch.can("probability_draws")
    ]


def _calibration_inputs(data_kind: str) -> Inputs:
    """The qc file, and the test predictions and model of each architecture of a data kind that draws
    probabilities and runs."""

    def inputs(archs):
        chosen = [arch for arch in _drawing_probabilities(data_kind) if arch in archs["all"]]
        return {
            "qc": "qc.h5ad",
            **{arch: f"predictions/{arch}.tsv" for arch in chosen},
            **{f"{arch}:model": f"models/{arch}/model.ckpt" for arch in chosen},
        }

    return inputs


def _fixed(paths: dict[str, str]) -> Inputs:
    return lambda archs: dict(paths)


def _labelled_embeddings(name: str, archs: tuple[str, ...], draw) -> Figure:
    """A figure of these architectures' embeddings (inputs keyed by architecture, in this order), coloured by label."""
    return Figure(
        name, _fixed({arch: f"embeddings/{arch}.h5ad" for arch in archs}), draw, archs=archs, needs_labels=True
    )


FIGURES: dict[str, Figure] = {
    figure.name: figure
    for figure in (
        Figure(
            "umap",
            lambda archs: {arch: f"embeddings/{arch}.h5ad" for arch in archs["representation"]},
            _umap,
            task="representation",
        ),
        Figure(
            "parity",
            lambda archs: {arch: f"predictions/{arch}.tsv" for arch in archs["regressor"]},
            _parity,
            task="regressor",
        ),
        Figure(
            "training_curves",
            lambda archs: {arch: f"models/{arch}/history.tsv" for arch in archs["all"]},
            _training_curves,
        ),
        _labelled_embeddings("embedding_panel", ("pca", "ae", "vae"), _embedding_panel),
        _labelled_embeddings("embedding_panel_deep", ("pca", "deep_ae", "vae"), _embedding_panel),
        _labelled_embeddings("embedding_panel_joint", ("pca_concat", "concat_ae", "multivae"), _embedding_panel),
        _labelled_embeddings("citeseq_umap", ("multivae", "wnn"), _joint_umap),
        Figure(
            "protein_prediction",
            _fixed({"embedding": "embeddings/multivae.h5ad"}),
            _protein_prediction,
            archs=("multivae",),
        ),
        Figure("ldvae_loadings", _fixed({"embedding": "embeddings/ldvae.h5ad"}), _ldvae_loadings, archs=("ldvae",)),
        Figure(
            "vega_programs",
            _fixed({"embedding": "embeddings/vega.h5ad"}),
            _vega_programs,
            archs=("vega",),
            needs_labels=True,
        ),
        Figure(
            "vae_interpolation",
            _fixed({"model": "models/vae/model.ckpt", "embedding": "embeddings/vae.h5ad"}),
            _vae_interpolation,
            archs=("vae",),
            needs_labels=True,
        ),
        Figure(
            "dgd_latent", _fixed({"embedding": "embeddings/dgd.h5ad"}), _dgd_latent, archs=("dgd",), needs_labels=True
        ),
        Figure("dgd_subclusters", _fixed({"embedding": "embeddings/dgd.h5ad"}), _dgd_subclusters, archs=("dgd",)),
        Figure(
            "generation",
            _fixed({"qc": "qc.h5ad", "dgd": "models/dgd/model.ckpt", "vae": "models/vae/model.ckpt"}),
            _generation,
            archs=("dgd", "vae"),
        ),
        Figure(
            "scgan_realism_curve",
            _fixed({"history": "models/scgan/history.tsv", "table": "metrics/scgan.tsv"}),
            _scgan_realism_curve,
            archs=("scgan",),
        ),
        Figure(
            "cnn_motif",
            _fixed({"qc": "qc.h5ad", "cnn": "models/cnn/model.ckpt"}),
            _cnn_motif,
            archs=("cnn",),
            simulated=True,
        ),
        Figure(
            "filter_logos",
            # results/-rooted paths are shared by every data set (lifedl.steps.figure reads them as they are)
            _fixed(
                {"cnn": "models/cnn/model.ckpt", "matches": "motifs/cnn.tsv", "database": "results/motif_database.tsv"}
            ),
            _filter_logos,
            archs=("cnn",),
            simulated=False,
        ),
        Figure(
            "kmer_embedding",
            _fixed({"cnn_embed": "models/cnn_embed/model.ckpt"}),
            _kmer_embedding,
            archs=("cnn_embed",),
        ),
        Figure(
            "gradient_norms",
            lambda archs: {
                **{arch: f"models/{arch}/history.tsv" for arch in _logging_gradients(archs["all"])},
                **{f"{arch}:run": f"models/{arch}/run.json" for arch in _logging_gradients(archs["all"])},
            },
            _gradient_norms,
            archs=("bilstm",),
        ),
        Figure(
            "calibration",
            _calibration_inputs("cells"),
            _calibration,
            archs=("mlp",),
            needs_labels=True,
        ),
        Figure(
            "sequence_calibration",
            _calibration_inputs("sequences"),
            _calibration,
            archs=("cnn_mc_dropout",),
            needs_labels=True,
        ),
        Figure("design_curves", _designer("dqn"), _design_curves, archs=("dqn",)),
        Figure("oracle_design_curves", _designer("dqn_oracle"), _design_curves, archs=("dqn_oracle",)),
        Figure(
            "attention_maps",
            _fixed({"qc": "qc.h5ad", "transformer": "models/transformer/model.ckpt"}),
            _attention_maps,
            archs=("transformer",),
        ),
    )
}
GENERAL_FIGURES = ("umap", "parity", "training_curves")  # drawn for every data set with architectures of their task


def figures_for(
    archs_by_task: Mapping[str, Sequence[str]], figure_names: Sequence[str], has_labels: bool, simulated: bool = False
) -> list[str]:
    """The figures a data set gets: the general ones, then those its architectures name, where their needs hold.

    ``archs_by_task``: the data set's architectures per task, and under ``"all"`` all of them; ``simulated``:
    whether the data set comes from a simulator (which records its planted truth)."""
    chosen = []
    for name in [*GENERAL_FIGURES, *figure_names]:
        figure = FIGURES[name]
        if figure.task and not archs_by_task.get(figure.task):
            continue
        if not set(figure.archs) <= set(archs_by_task["all"]) or (figure.needs_labels and not has_labels):
            continue
        if figure.simulated is not None and figure.simulated != simulated:
            continue
        chosen.append(name)
    return list(dict.fromkeys(chosen))
