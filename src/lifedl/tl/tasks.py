"""The tasks an architecture can have, each declared once: what the workflow does with a trained model of the
task, whether it gets a row in ``metrics.tsv`` (and is trained again per replicate seed), whether the one ``score``
rule scores it on held-out rows, which measures are summarised and compared over seeds, the report's note on its
measures, and the outputs, figures and table of its own rule.

A new task is one entry here (and its scorer in ``lifedl.steps``); the registry (``lifedl.models``), the rules,
the over-seeds summary and the report read it. Reading this module imports nothing: Snakemake reads it when
parsing the workflow.
"""

from __future__ import annotations

import dataclasses

from lifedl.errors import LifedlError

_LABEL_FREE = (
    "cluster_silhouette_pca: the Leiden clusters' silhouette in the PCA of the data, one space for every model "
    "(cluster_silhouette, in each model's own space, does not compare across models); resolution stability: mean "
    "ARI between the clusterings at neighbouring resolutions; depth_eta2: the share of log sequencing depth's "
    "variance the clusters explain; effective_dims: near 1 for a collapsed embedding; the IWAE bound on the test "
    "cells for count models."
)


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    after_training: str  # what the workflow does with a trained model of this task
    scored: bool = False  # a row in metrics.tsv; trained again per replicate seed (seeds.tsv, comparisons.tsv)
    scored_on_rows: bool = False  # the `score` rule scores its held-out rows (lifedl.steps.score_held_out)
    seed_measures: tuple[str, ...] = ()  # mean and sd over seeds, in this order (seeds.tsv)
    compared_measures: tuple[str, ...] = ()  # paired over seeds against the baselines (comparisons.tsv)
    report_note: str = ""  # what its measures are, above the report's metrics table
    unlabelled_note: str = ""  # the note instead, where the data set has no labels ("" = the same)
    curves: str = ""  # what the score rule's curve table (results/{dataset}/curves/{arch}.tsv) holds
    figures: tuple[str, ...] = ()  # drawn by the task's own rule as results/{dataset}/figures/{arch}_{figure}.png
    caption: str = ""  # those figures' caption: workflow/report/<caption>.rst
    table: str = ""  # the report's title of the task's own metrics table (results/{dataset}/metrics/{arch}.tsv)

    def note(self, labelled: bool) -> str:
        return self.report_note if labelled or not self.unlabelled_note else self.unlabelled_note


_DECLARED = (
    Task(
        "representation",
        "embed -> cluster -> evaluate on the test cells",
        scored=True,
        seed_measures=(
            *("ari", "nmi", "ari_best", "ari_rna", "ari_protein", "ari_peaks", "knn_accuracy", "batch_asw"),
            "batch_entropy",
            *("label_silhouette", "component_ari", "test_iwae_per_cell", "test_loglik_fitted_z_per_cell"),
            *("protein_r_per_cell", "protein_r_per_protein", "protein_r_per_cell_ridge"),
            "protein_r_per_cell_mean_baseline",
        ),
        compared_measures=(
            *("ari", "nmi", "ari_best", "knn_accuracy", "label_silhouette", "batch_entropy", "batch_asw"),
            *("ari_rna", "ari_protein", "ari_peaks", "test_iwae_per_cell"),
        ),
        report_note="Cells: Leiden clusters against the dataset's labels, ARI/NMI at the default resolution and "
        f"the best over the configured resolutions; label silhouette in the embedding. Label-free: {_LABEL_FREE}",
        unlabelled_note=f"This data set has no labels, so only label-free measures: {_LABEL_FREE}",
    ),
    Task(
        "generator",
        "generate as many cells as there are test cells -> realism against the test cells",
        figures=("realism_umap", "gene_means"),
        caption="generator",
        table="realism of generated cells, beside two halves of the real cells (the floor)",
    ),
    Task(
        "perturbation",
        "predict the held-out cell type's response -> R^2 beside two baselines",
        figures=("response",),
        caption="perturbation",
        table="predicted response of the held-out cell type, beside two baselines",
    ),
    Task(
        "classifier",
        "predict the held-out test rows -> auROC/auPRC and calibration",
        scored=True,
        scored_on_rows=True,
        seed_measures=(
            *("auroc", "auprc", "auroc_gc_matched", "auroc_length_matched", "accuracy"),
            *("nll", "ece", "mean_confidence", "accuracy_at_80pct_coverage", "unseen_class_auroc"),
        ),
        compared_measures=(
            *("auroc", "accuracy", "nll", "ece", "brier", "unseen_class_auroc"),
            *("auroc_gc_matched", "auroc_length_matched"),
        ),
        curves="the reliability diagram of the test rows of trained classes: 15 confidence bins, their mean "
        "confidence, accuracy and share of rows",
        report_note="Classifiers: auROC/auPRC/accuracy on held-out test rows; how well they state their "
        "certainty there (NLL, ECE over 15 bins, mean confidence, accuracy of the surest 80 %); where a class "
        "was held out of training, the auROC of predictive entropy for its rows (unseen_class_auroc).",
    ),
    Task(
        "regressor",
        "predict a held-out property -> RMSE, MAE, Pearson r",
        scored=True,
        scored_on_rows=True,
        seed_measures=("rmse", "mae", "pearson_r"),
        compared_measures=("rmse", "mae", "pearson_r"),
        report_note="Regressors: RMSE, MAE and Pearson r on held-out test rows.",
        curves="the test rows in ten bins by prediction: mean predicted and observed value, share of rows",
    ),
    Task(
        "segmenter",
        "segment the held-out tiles -> nuclei matched above IoU 0.5 (F1), matched IoU, foreground IoU",
        scored=True,
        scored_on_rows=True,
        seed_measures=("f1_iou50", "precision_iou50", "recall_iou50", "matched_iou_mean", "foreground_iou"),
        compared_measures=("f1_iou50", "matched_iou_mean", "foreground_iou"),
        report_note="Segmenters: on the held-out tiles, nuclei matched to the true ones when their intersection "
        "over union is above 0.5 (one to one), pooled over tiles: F1, precision and recall of the matches (the "
        "Data Science Bowl 2018's measure at its first threshold), the mean IoU of the matched pairs, and the "
        "foreground pixels' IoU.",
        curves="precision, recall and F1 of the nuclei matched above each IoU threshold from 0.5 to 0.95 (the Data "
        "Science Bowl's range)",
    ),
    Task(
        "doublet_detector",
        "score the held-out cells -> auROC/auPRC of the planted doublets, F1 of calling the expected share",
        scored=True,
        scored_on_rows=True,
        seed_measures=("auroc", "auprc", "auroc_heterotypic", "f1_at_rate"),
        compared_measures=("auroc", "auprc", "auroc_heterotypic"),
        report_note="Doublet detectors: every held-out cell gets a doublet score, fitted without the doublet labels "
        "(the validation cells' labels choose among a detector's settings); auROC and auPRC of the planted "
        "doublets among the test cells, the auROC without the homotypic doublets (two cells of one type, which no "
        "expression-based score can tell), and the F1 of calling the planted share of highest scores doublets.",
        curves="the precision of the doublet calls at recalls from 0 to 1 on the test cells",
    ),
    Task(
        "reference_mapping",
        "embed reference and query -> the reference's labels transferred to the query's test cells by their nearest "
        "reference cells: accuracy, macro F1, batch mixing and fit time",
        scored=True,
        scored_on_rows=True,
        seed_measures=("label_accuracy", "macro_f1", "batch_entropy", "fit_seconds"),
        compared_measures=("label_accuracy", "macro_f1", "batch_entropy", "fit_seconds"),
        report_note="Reference mapping: the reference's cells ('control' of the condition column) and the query's "
        "(the other values); each model embeds both, and the labels of the reference's training and validation "
        "cells are transferred to the query's test cells by their 15 nearest reference cells (no model reads a "
        "query label); accuracy and macro F1 of the transferred labels, the batch entropy of all test cells (1: "
        "neighbourhoods as mixed as the batches allow), and the seconds of the model's own fit (scarches: the "
        "surgery alone).",
        curves="per cell type of the query's test cells: the number of cells and the F1 of the transferred label",
    ),
    Task(
        "pretraining",
        "its encoder starts the training of the models that use it (transformer_finetuned); its hidden-letter "
        "accuracy on the validation rows, beside the letters' frequencies, is in its run's final metrics",
    ),
    Task(
        "designer",
        "design sequences -> fraction of the optimum against random edits and greedy hill climbing on the same "
        "budget of evaluations",
        scored=True,
        scored_on_rows=True,
        seed_measures=("best_fraction", "policy_fraction", "evaluations_to_95pct", "designs_motif_fraction"),
        compared_measures=("best_fraction",),
        report_note="Designers: the best score reached as a fraction of the exact optimum, beside random edits "
        "and greedy hill climbing given the same number of score evaluations.",
        curves="the best score so far as a fraction of the optimum, per evaluation, for the designer and each "
        "seed of both baselines",
    ),
)
TASKS: dict[str, Task] = {task.name: task for task in _DECLARED}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise LifedlError(f"unknown task '{name}'; known: {list(TASKS)}.")
    return TASKS[name]


def measures_of(tasks, field: str) -> list[str]:
    """The ``seed_measures`` or ``compared_measures`` of these tasks (names), each once, predicting tasks first."""
    ordered = sorted(dict.fromkeys(tasks), key=lambda name: not get_task(name).scored_on_rows)
    return list(dict.fromkeys(measure for name in ordered for measure in getattr(get_task(name), field)))
