"""One function per workflow rule, one module per rule file (``workflow/rules/<name>.smk`` -> ``steps/<name>.py``;
evaluate.smk's score rule has its own, ``score.py``). Each reads its inputs, calls the library (the science is in
``lifedl.tl``) and writes its outputs atomically; ``workflow/scripts/*.py`` only unpack the Snakemake object and
call these."""

from lifedl.steps.download import download
from lifedl.steps.embed import embed
from lifedl.steps.evaluate import (
    clustering_agreement,
    collect_metrics,
    filter_motifs,
    loadings_enrichment,
    motif_database,
    program_peaks,
    seed_summary,
)
from lifedl.steps.generative import (
    augmentation,
    generate,
    leave_one_type_out,
    perturbation,
    realism_budget,
    sample_realism,
)
from lifedl.steps.qc import qc
from lifedl.steps.report import figure, figure_archs, likelihood_comparison, report
from lifedl.steps.score import SCORERS, score_held_out
from lifedl.steps.train import TrainSettings, learning_curve, train

__all__ = [
    "SCORERS",
    "TrainSettings",
    "augmentation",
    "clustering_agreement",
    "collect_metrics",
    "download",
    "embed",
    "figure",
    "figure_archs",
    "filter_motifs",
    "generate",
    "learning_curve",
    "leave_one_type_out",
    "likelihood_comparison",
    "loadings_enrichment",
    "motif_database",
    "perturbation",
    "program_peaks",
    "qc",
    "realism_budget",
    "report",
    "sample_realism",
    "score_held_out",
    "seed_summary",
    "train",
]
