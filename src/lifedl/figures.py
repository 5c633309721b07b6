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

# (the data set's architectures by task, and all under "all"; those of them naming the figure, in registry order)
# -> {role: path}
Inputs = Callable[[Mapping[str, Sequence[str]], Sequence[str]], dict[str, str]]


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str
    inputs: Inputs
    draw: Callable[[Mapping[str, Any], Any, Mapping[str, Any]], Any]
    min_named: int = 1  # how many of the architectures naming it must run on the data set (a panel of three: 3)
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

    return embedding_panel(dict(inputs), spec.labels, options["seed"])


def _joint_umap(inputs, spec, options):
    from lifedl.pl.multiomics import joint_umap_figure

    return joint_umap_figure(dict(inputs), spec.labels)


def _protein_prediction(inputs, spec, options):
    from lifedl.data.splits import TEST, is_split
    from lifedl.pl.multiomics import protein_prediction_figure

    (arch, adata), *_ = inputs.items()
    return protein_prediction_figure(adata, arch, is_split(adata, TEST, spec.where))


def _ldvae_loadings(inputs, spec, options):
    from lifedl.pl.papers import loadings_figure

    (arch, embedding), *_ = inputs.items()
    return loadings_figure(embedding, arch)


def _vega_programs(inputs, spec, options):
    from lifedl.pl.papers import program_heatmap

    (arch, embedding), *_ = inputs.items()
    return program_heatmap(embedding, arch, spec.labels)


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
    models = {arch: model for arch, model in inputs.items() if arch != "qc"}
    samples = {arch: model.sample(real.n_obs, depths, options["seed"]) for arch, model in models.items()}
    return generation_figure(real, samples)


def _segmentation(inputs, spec, options):
    from lifedl.data.splits import held_out_rows
    from lifedl.pl.images import segmentation_figure

    tiles = inputs["qc"]
    test = tiles[held_out_rows(tiles, spec)]
    models = {arch: model for arch, model in inputs.items() if arch != "qc"}
    return segmentation_figure(test, {arch: model.predict_masks(test) for arch, model in models.items()})


def _image_saliency(inputs, spec, options):
    import numpy as np

    from lifedl.data.images import IMAGE_KEY
    from lifedl.data.splits import TEST, is_split
    from lifedl.pl.images import saliency_figure
    from lifedl.tl.attribution import integrated_gradients

    adata, model = inputs["qc"], inputs["model"]
    test = adata[is_split(adata, TEST, spec.where) & ~spec.is_unseen_class(adata)]
    truth = test.obs[spec.labels].astype(str).to_numpy()
    probabilities = model.predict_proba(test)
    predicted = probabilities.argmax(axis=1)
    rows = [  # per class, the two test images it is surest of (correctly), then the surest mistake
        *[
            row
            for c in range(len(model.classes))
            for row in _surest(probabilities, predicted, truth, model, c, True)[:2]
        ],
        *_surest(probabilities, predicted, truth, model, None, False)[:2],
    ]
    images = np.asarray(test.obsm[IMAGE_KEY][rows], dtype=np.float32)
    attributions = integrated_gradients(model.logit_function(), images, predicted[rows])
    titles = [f"{truth[r]}\n-> {model.classes[predicted[r]]} {probabilities[r].max():.2f}" for r in rows]
    return saliency_figure(images, attributions, titles, model.arch)


def _surest(probabilities, predicted, truth, model, code, correct):
    """Test rows predicted as class ``code`` (any class where None), correct or not, surest first."""
    import numpy as np

    right = np.asarray(model.classes)[predicted] == truth
    chosen = np.flatnonzero((right == correct) & ((predicted == code) if code is not None else True))
    return list(chosen[np.argsort(-probabilities[chosen].max(axis=1), kind="stable")])


def _doublet_scores(inputs, spec, options):
    from lifedl.pl.doublets import doublet_figure

    return doublet_figure(dict(inputs))


def _scgan_realism_curve(inputs, spec, options):
    from lifedl.pl.scgan import realism_curve_figure

    return realism_curve_figure(inputs["history"], inputs["table"])


def _cnn_motif(inputs, spec, options):
    from lifedl.pl.sequences import motif_filter_figure

    filters = inputs["model"].first_layer_filters()
    if filters is None:
        raise LifedlError(
            f"cnn_motif: this {inputs['model'].arch} reads a k-mer embedding (embedding_dim > 0), so its filters "
            f"are not letter motifs; set params.{inputs['model'].arch}.embedding_dim to 0 (a k-mer embedding is the "
            "variant with its own architecture)."
        )
    motif = inputs["qc"].uns["motif"]
    return motif_filter_figure(filters, motif["pwm"], str(motif["name"]))


def _filter_logos(inputs, spec, options):
    from lifedl.data.jaspar import motifs_from_table
    from lifedl.pl.sequences import filter_match_figure

    motifs = {motif.matrix_id: motif for motif in motifs_from_table(inputs["database"])}
    model = inputs["model"]
    return filter_match_figure(model.first_layer_filters(), inputs["matches"], motifs, alphabet=model.alphabet)


def _kmer_embedding(inputs, spec, options):
    from lifedl.pl.sequences import kmer_embedding_figure

    model = inputs["model"]
    return kmer_embedding_figure(model.kmer_embedding(), model.params["embedding_k"], model.alphabet)


def _gradient_norms(inputs, spec, options):
    from lifedl.pl.sequences import gradient_norm_figure

    archs = [role for role in inputs if not role.endswith(":run")]
    clips = {arch: float(inputs[f"{arch}:run"]["params"].get("gradient_clip", 0)) for arch in archs}
    return gradient_norm_figure({arch: inputs[arch] for arch in archs}, clips)


def _attention_maps(inputs, spec, options):
    import numpy as np
    import pandas as pd

    from lifedl.data.splits import TEST, is_split
    from lifedl.pl.sequences import attention_figure

    adata, model = inputs["qc"], inputs["model"]
    test = adata[is_split(adata, TEST, spec.where)]
    # Up to three held-out examples: those with a planted motif first (simulations record where it lies), else
    # the first of each class in turn (real data).
    starts = test.obs["motif_start"].to_numpy() if "motif_start" in test.obs else np.full(test.n_obs, -1)
    if "motif_start" in test.obs or not spec.labels:
        order = np.argsort(starts < 0, kind="stable")[:3]
    else:
        classes = test.obs[spec.labels].astype(str).to_numpy()
        rank = pd.Series(classes).groupby(classes).cumcount().to_numpy()  # 0 for each class's first row
        order = np.lexsort((np.arange(test.n_obs), rank))[:3]
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
    titles = [f"{name} ({label})" for name, label in zip(examples.obs_names, labels)]
    letters = None
    if (k, stride) == (1, 1):  # one token per letter: cut off the padding and name the letters
        from lifedl.data.sequences import decode

        letters = decode(examples.X, model.alphabet)
    return attention_figure(maps, spans, titles, letters)


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
    unit = {"sequences": "sequences", "images": "images"}.get(spec.kind, "cells")
    return calibration_figure({arch: inputs[arch] for arch in archs}, spec.heldout, draw_accuracies, accuracies, unit)


def _design_curves(inputs, spec, options):
    from lifedl.data.sequences import encode
    from lifedl.pl.sequences import design_figure

    model = inputs["model"]
    designed = model.pwm_score.aligned_frequencies(encode(list(inputs["designs"]["sequence"])))
    oracle = "" if model.oracle is None else f"{model.oracle.arch} '{model.params['oracle_class']}'"
    return design_figure(inputs["history"], inputs["curves"], designed, model.pwm, model.motif_name, oracle)


def _first_named(paths: Mapping[str, str]) -> Inputs:
    """Paths of the first architecture naming the figure, ``{arch}`` filled in, keyed by role."""
    return lambda archs, named: {role: path.format(arch=named[0]) for role, path in paths.items()}


def _each_named(path: str, **shared: str) -> Inputs:
    """One path per architecture naming the figure, keyed by architecture (in registry order), and shared paths."""
    return lambda archs, named: {**shared, **{arch: path.format(arch=arch) for arch in named}}


# a designer's model, training history, curves and designs
_DESIGNER = _first_named(
    {
        "model": "models/{arch}/model.ckpt",
        "history": "models/{arch}/history.tsv",
        "curves": "curves/{arch}.tsv",
        "designs": "predictions/{arch}.tsv",
    }
)


def _with_capability(capability: str, archs: Sequence[str], data_kind: str = "") -> list[str]:
    """The architectures among ``archs`` with this capability (and of this data kind, where one is given)."""
    from lifedl.models import get_architecture

    return [
        arch
        for arch in archs
        if get_architecture(arch).can(capability) and (not data_kind or get_architecture(arch).data_kind == data_kind)
    ]


def _gradient_norm_inputs(archs, named) -> dict[str, str]:
    """The history and run record of every architecture whose training logs gradient norms."""
    logging = _with_capability("gradient_norms", archs["all"])
    return {
        **{arch: f"models/{arch}/history.tsv" for arch in logging},
        **{f"{arch}:run": f"models/{arch}/run.json" for arch in logging},
    }


def _calibration_inputs(archs, named) -> dict[str, str]:
    """The qc file, and the test predictions and model of each architecture of the naming one's data kind that
    predicts class probabilities as draws (capability 'probability_draws'; the deterministic baselines, one draw
    each, among them), in registry order."""
    from lifedl.models import ARCHITECTURES, get_architecture

    kind = get_architecture(named[0]).data_kind
    chosen = [arch for arch in _with_capability("probability_draws", list(ARCHITECTURES), kind) if arch in archs["all"]]
    return {
        "qc": "qc.h5ad",
        **{arch: f"predictions/{arch}.tsv" for arch in chosen},
        **{f"{arch}:model": f"models/{arch}/model.ckpt" for arch in chosen},
    }


def _embeddings(name: str, draw, min_named: int = 1) -> Figure:
    """A figure of the embeddings of the architectures naming it (inputs keyed by architecture), by label."""
    return Figure(name, _each_named("embeddings/{arch}.h5ad"), draw, min_named=min_named, needs_labels=True)


FIGURES: dict[str, Figure] = {
    figure.name: figure
    for figure in (
        Figure(
            "umap",
            lambda archs, named: {arch: f"embeddings/{arch}.h5ad" for arch in archs["representation"]},
            _umap,
            task="representation",
        ),
        Figure(
            "parity",
            lambda archs, named: {arch: f"predictions/{arch}.tsv" for arch in archs["regressor"]},
            _parity,
            task="regressor",
        ),
        Figure(
            "training_curves",
            lambda archs, named: {arch: f"models/{arch}/history.tsv" for arch in archs["all"]},
            _training_curves,
        ),
        # seed 004's panels: a linear embedding, an autoencoder's and a VAE's (registry order), the three naming it
        _embeddings("embedding_panel", _embedding_panel, min_named=3),
        _embeddings("embedding_panel_deep", _embedding_panel, min_named=3),
        _embeddings("embedding_panel_joint", _embedding_panel, min_named=3),
        _embeddings("citeseq_umap", _joint_umap, min_named=2),
        Figure("protein_prediction", _each_named("embeddings/{arch}.h5ad"), _protein_prediction),
        Figure("ldvae_loadings", _each_named("embeddings/{arch}.h5ad"), _ldvae_loadings),
        _embeddings("vega_programs", _vega_programs),
        Figure(
            "vae_interpolation",
            _first_named({"model": "models/{arch}/model.ckpt", "embedding": "embeddings/{arch}.h5ad"}),
            _vae_interpolation,
            needs_labels=True,
        ),
        Figure("dgd_latent", _first_named({"embedding": "embeddings/{arch}.h5ad"}), _dgd_latent, needs_labels=True),
        Figure("dgd_subclusters", _first_named({"embedding": "embeddings/{arch}.h5ad"}), _dgd_subclusters),
        # cells sampled from the prior of each model naming it, beside the real ones
        Figure("generation", _each_named("models/{arch}/model.ckpt", qc="qc.h5ad"), _generation, min_named=2),
        Figure("segmentation", _each_named("models/{arch}/model.ckpt", qc="qc.h5ad"), _segmentation),
        Figure("doublet_scores", _each_named("predictions/{arch}.tsv"), _doublet_scores, min_named=2),
        Figure(
            "scgan_realism_curve",
            _first_named({"history": "models/{arch}/history.tsv", "table": "metrics/{arch}.tsv"}),
            _scgan_realism_curve,
        ),
        Figure(
            "cnn_motif",
            _first_named({"qc": "qc.h5ad", "model": "models/{arch}/model.ckpt"}),
            _cnn_motif,
            simulated=True,
        ),
        Figure(
            "filter_logos",
            # results/-rooted paths are shared by every data set (lifedl.steps.figure reads them as they are)
            _first_named(
                {
                    "model": "models/{arch}/model.ckpt",
                    "matches": "motifs/{arch}.tsv",
                    "database": "results/motif_database.tsv",
                }
            ),
            _filter_logos,
            simulated=False,
        ),
        Figure("kmer_embedding", _first_named({"model": "models/{arch}/model.ckpt"}), _kmer_embedding),
        Figure("gradient_norms", _gradient_norm_inputs, _gradient_norms),
        Figure("calibration", _calibration_inputs, _calibration, needs_labels=True),
        Figure("sequence_calibration", _calibration_inputs, _calibration, needs_labels=True),
        Figure("image_calibration", _calibration_inputs, _calibration, needs_labels=True),
        Figure(
            "image_saliency",
            _first_named({"model": "models/{arch}/model.ckpt", "qc": "qc.h5ad"}),
            _image_saliency,
            needs_labels=True,
        ),
        Figure("design_curves", _DESIGNER, _design_curves),
        Figure("oracle_design_curves", _DESIGNER, _design_curves),
        Figure(
            "attention_maps",
            _first_named({"qc": "qc.h5ad", "model": "models/{arch}/model.ckpt"}),
            _attention_maps,
        ),
    )
}
GENERAL_FIGURES = ("umap", "parity", "training_curves")  # drawn for every data set with architectures of their task


def named_by(figure: str, archs: Sequence[str]) -> list[str]:
    """The architectures among ``archs`` whose registry entry names this figure, in registry order."""
    from lifedl.models import ARCHITECTURES

    return [name for name, arch in ARCHITECTURES.items() if name in archs and figure in arch.figures]


def figure_input_paths(name: str, archs_by_task: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """A figure's inputs on a data set with these architectures: {role: path under results/{dataset}/}."""
    return FIGURES[name].inputs(archs_by_task, named_by(name, archs_by_task["all"]))


def figures_for(archs_by_task: Mapping[str, Sequence[str]], has_labels: bool, simulated: bool = False) -> list[str]:
    """The figures a data set gets: the general ones, then those its architectures name, where their needs hold.

    ``archs_by_task``: the data set's architectures per task, and under ``"all"`` all of them; ``simulated``:
    whether the data set comes from a simulator (which records its planted truth)."""
    from lifedl.models import get_architecture

    named = [figure for arch in archs_by_task["all"] for figure in get_architecture(arch).figures]
    chosen = []
    for name in dict.fromkeys([*GENERAL_FIGURES, *named]):
        figure = FIGURES[name]
        if figure.task and not archs_by_task.get(figure.task):
            continue
        if name not in GENERAL_FIGURES and len(named_by(name, archs_by_task["all"])) < figure.min_named:
            continue
        if figure.needs_labels and not has_labels:
            continue
        if figure.simulated is not None and figure.simulated != simulated:
            continue
        chosen.append(name)
    return chosen
