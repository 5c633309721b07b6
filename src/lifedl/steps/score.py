"""The score rule (workflow/rules/evaluate.smk): a predictor's or designer's work on the held-out rows, scored by
its task's scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifedl.data.splits import held_out_rows, split_sizes
from lifedl.io import write_tsv
from lifedl.steps.common import read_with_spec


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
        from lifedl.data.sequences import alphabet_of, confound, sequence_codes
        from lifedl.tl.classification import composition_matched_rows

        name, values, bin_width = confound(sequence_codes(scored[seen]), alphabet_of(scored))
        matched = composition_matched_rows(values, truth, bin_width)
        scores = classification_metrics(truth[matched], probabilities[matched], model.classes)
        row.update({f"auroc_{name}_matched": scores["auroc"], f"n_{name}_matched": scores["n_test"]})
    filters = model.first_layer_filters() if isinstance(model, FirstLayerFilters) else None  # one-hot CNNs
    planted = dict(adata.uns.get("motifs", {}))  # a simulation's planted motifs: found?
    if filters is not None and planted:
        from lifedl.tl.motifs import best_matching_filter

        # the worst-recovered planted motif's best filter: high only when every motif was found
        row["motif_filter_correlation"] = min(best_matching_filter(filters, pwm)[1] for pwm in planted.values())
    print(f"{arch}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
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
    row = {"dataset": dataset, "arch": arch, **split_sizes(adata, spec), **regression_metrics(observed, predicted)}
    _write_scored(row, output, table, predictions, curves, lambda: binned_calibration(observed, predicted))


def segment(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A segmenter's nuclei on the held-out tiles against the true masks (:mod:`lifedl.tl.segmentation`, pooled
    over the tiles); ``predictions``: per tile, the nuclei true and found and the tile's own F1; ``curves``: the
    matches' precision, recall and F1 at IoU thresholds from 0.5 to 0.95."""
    from lifedl.data.images import MASK_KEY
    from lifedl.models.base import load_model
    from lifedl.tl.segmentation import match_counts, scores_by_threshold, segmentation_scores

    adata, spec = read_with_spec(qc_h5ad)
    test = adata[held_out_rows(adata, spec)]
    predicted = load_model(checkpoint).predict_masks(test)
    truth = np.asarray(test.obsm[MASK_KEY])
    per_tile = pd.DataFrame([match_counts(t, p) for t, p in zip(truth, predicted, strict=True)], index=test.obs_names)
    per_tile["f1_iou50"] = 2 * per_tile["tp"] / (2 * per_tile["tp"] + per_tile["fp"] + per_tile["fn"]).clip(lower=1)
    row = {"dataset": dataset, "arch": arch, **split_sizes(adata, spec), **segmentation_scores(truth, predicted)}
    _write_scored(row, output, per_tile, predictions, curves, lambda: scores_by_threshold(truth, predicted))


def detect_doublets(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A doublet detector's scores of the held-out cells against the planted doublets (:mod:`lifedl.tl.doublets`:
    auROC, auPRC, heterotypic auROC, F1 of calling the planted share); ``predictions``: each test cell's score, label
    and kind; ``curves``: precision at recalls from 0 to 1."""
    from lifedl.data.doublets import KIND_KEY
    from lifedl.models.base import load_model
    from lifedl.tl.doublets import doublet_metrics, precision_recall_table

    adata, spec = read_with_spec(qc_h5ad)
    test = adata[held_out_rows(adata, spec)]
    scores = load_model(checkpoint).doublet_scores(test)
    labels = test.obs[spec.labels].astype(str).to_numpy()
    kinds = test.obs[KIND_KEY].astype(str).to_numpy() if KIND_KEY in test.obs else None
    rate = adata.uns.get("doublets", {}).get("rate")
    table = pd.DataFrame({"label": labels, "doublet_score": scores}, index=test.obs_names)
    if kinds is not None:
        table["kind"] = kinds
    row = {"dataset": dataset, "arch": arch, **split_sizes(adata, spec), **doublet_metrics(labels, scores, kinds, rate)}
    _write_scored(row, output, table, predictions, curves, lambda: precision_recall_table(labels, scores))


def map_query(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A reference mapping's label transfer (:mod:`lifedl.tl.mapping`): every cell embedded by the model, the
    reference's labels transferred to the query's test cells by their nearest reference cells, scored against the
    query's labels (read here only); the model's fit time beside them. ``predictions``: each query test cell's
    label and transferred label; ``curves``: the F1 per cell type."""
    from lifedl.data.splits import split_of
    from lifedl.models.base import load_model
    from lifedl.models.mapping import reference_rows
    from lifedl.tl.mapping import mapping_scores, per_type_f1

    adata, spec = read_with_spec(qc_h5ad)
    model = load_model(checkpoint)
    reference = reference_rows(adata, spec)
    split = split_of(adata, spec.where)
    scores, table = mapping_scores(
        model.embed(adata), adata.obs[spec.labels], reference, split, adata.obs[spec.condition]
    )
    table.index = adata.obs_names[~reference & (split == "test")]
    row = {"dataset": dataset, "arch": arch, **split_sizes(adata, spec), **scores}
    row["fit_seconds"] = float(model.final_metrics.get("fit_seconds", float("nan")))
    _write_scored(row, output, table, predictions, curves, lambda: per_type_f1(table))


def _write_scored(row: dict, output: str, table: pd.DataFrame, predictions: str, curves: str | None, curve_rows):
    """A predictor's table of held-out rows, its task's curve table (``curve_rows()``: its rows, where ``curves``
    is asked for) and its measures, printed and written (collect_metrics logs them to the MLflow run)."""
    write_tsv(table.reset_index(names="id"), predictions)
    if curves:
        write_tsv(pd.DataFrame(curve_rows()).assign(arch=row["arch"]), curves)
    print(f"{row['arch']}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    write_tsv(pd.DataFrame([row]), output)


def design(
    qc_h5ad: str, checkpoint: str, output: str, predictions: str, arch: str, dataset: str, curves: str | None = None
) -> None:
    """A designer's sequences against random edits and greedy hill climbing on the same budget of score
    evaluations (the agent's training steps): the best score reached as a fraction of the exact optimum, and the
    evaluations each needed to reach 95 % of it (baselines: mean and sd over ``lifedl.tl.design.BASELINE_SEEDS``);
    an oracle designer's score is its oracle's probability, with the planted motif's fraction of the designs beside
    it. ``predictions``: the trained policy's designs from 100 random starts; ``curves``: best-so-far per
    evaluation for all three."""
    from lifedl.data.sequences import decode
    from lifedl.models.base import load_model
    from lifedl.tl.design import baseline_curves, baseline_summary, curve_points, evaluations_to_reach

    model = load_model(checkpoint)
    score, budget = model.score, len(model.training_best)
    fractions = {(arch, 0): score.fraction(model.training_best)}
    fractions |= baseline_curves(score, model.length, budget, model.episode_steps)
    row = {
        "dataset": dataset,
        "arch": arch,
        "motif": model.motif_name,
        "evaluations": float(budget),
        "best_fraction": float(fractions[(arch, 0)][-1]),
        "policy_fraction": model.final_metrics.get("policy_fraction", float("nan")),
        "evaluations_to_95pct": evaluations_to_reach(fractions[(arch, 0)]),
        **baseline_summary(fractions),
    }
    designed, scores = model.design(100, seed=0)
    # the planted motif's verdict on the designs: the reward itself for a PWM designer, the truth an oracle may miss
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
    if curves is not None:
        write_tsv(pd.DataFrame(curve_points(fractions, budget)), curves)
    write_tsv(pd.DataFrame([row]), output)  # collect_metrics logs it to the MLflow run


# the scorer of each task the score rule runs (lifedl.tl.tasks.Task.scored_on_rows)
SCORERS = {
    "classifier": classify,
    "regressor": regress,
    "designer": design,
    "segmenter": segment,
    "doublet_detector": detect_doublets,
    "reference_mapping": map_query,
}
