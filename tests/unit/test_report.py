"""The report says how each training ended and flags a model stopped by the epoch cap while improving."""

import pandas as pd

from lifedl.report import training_status


def _history(val_loss):
    return pd.DataFrame({"epoch": range(len(val_loss)), "val/loss": val_loss})


def test_epoch_cap_while_improving_is_flagged_and_nothing_else_is():
    run = {"params": {"max_epochs": 20}, "final_metrics": {"epochs_trained": 20.0}}
    falling = _history([10 - 0.1 * e for e in range(20)])
    status, flagged = training_status(run, falling)
    assert flagged and status == "reached the 20-epoch cap still improving (best epoch 20): raise max_epochs"
    # converged long before the cap: ran all epochs, not flagged
    flat = _history([10 - e for e in range(5)] + [5.0] * 15)
    assert training_status(run, flat) == ("ran all 20 epochs (best epoch 6)", False)
    # early stopping, no training loop (PCA), no validation loss (GAN)
    early = {"params": {"max_epochs": 20}, "final_metrics": {"epochs_trained": 12.0}}
    assert training_status(early, flat) == ("stopped early at epoch 12 of 20", False)
    assert training_status({"params": {"n_components": 50}, "final_metrics": {}}, None) == ("no training loop", False)
    assert training_status(run, pd.DataFrame({"epoch": range(20)})) == ("ran all 20 epochs", False)


def test_the_metrics_note_says_when_a_data_set_has_no_labels():
    from lifedl.report import _metrics_note

    unlabelled = pd.DataFrame({"arch": ["pca"], "n_clusters": [5.0], "cluster_silhouette": [0.2]})
    assert _metrics_note(unlabelled).startswith("This data set has no labels, so only label-free measures")
    labelled = unlabelled.assign(ari=[0.5])
    assert "against the dataset's labels" in _metrics_note(labelled) and "Label-free" in _metrics_note(labelled)


def test_the_report_shows_every_column_each_task_writes(tmp_path):
    """Columns come from the metrics files, not a hand-kept list: a designer's and CITE-seq's own measures show."""
    from lifedl.report import _table_html, metrics_table

    files = {
        "dqn": {"dataset": "sim_motif", "arch": "dqn", "dqn_best_fraction_mean": 0.91, "designs_motif_fraction": 0.4},
        "multivae": {
            "dataset": "sim_citeseq",
            "arch": "multivae",
            "ari": 0.8,
            "protein_r_per_cell": 0.85,
            "batch_entropy": 0.6,
            "ari_rna": 0.5,
            "n_test": 200.0,
        },
        "wnn": {"dataset": "sim_citeseq", "arch": "wnn", "ari": 0.7, "batch_entropy": 0.3, "ari_protein": 0.9},
    }
    paths = []
    for arch, row in files.items():
        paths.append(tmp_path / f"{arch}.tsv")
        pd.DataFrame([row]).to_csv(paths[-1], sep="\t", index=False)
    designer = _table_html(metrics_table(paths[:1]))
    assert "dqn_best_fraction_mean" in designer and "designs_motif_fraction" in designer and "0.910" in designer
    citeseq = _table_html(metrics_table(paths[1:]))
    for column in ("protein_r_per_cell", "batch_entropy", "ari_rna", "ari_protein"):
        assert f"<th>{column}</th>" in citeseq
    assert "<td>200</td>" in citeseq and "dataset" not in citeseq  # counts as whole numbers; no id column


def test_shallow_data_collapsed_embeddings_and_depth_driven_clusters_are_warned_about():
    """The 10x file (19 genes per cell) was ranked by silhouettes while the DGD put every cell in one component."""
    from lifedl.report import data_warnings

    table = pd.DataFrame(
        {
            "arch": ["pca", "dgd", "vae"],
            "effective_dims": [12.0, 1.1, 6.0],
            "components_used": [float("nan"), 1.0, float("nan")],
            "depth_eta2": [0.1, 0.2, 0.7],
        }
    )
    warnings = data_warnings({"median_genes_per_cell": 19.0}, table)
    assert warnings[0].startswith("Shallow data: a median of 19 genes per cell")
    assert any(w.startswith("dgd: its embedding is collapsed (1.10 effective") for w in warnings)
    assert any(w.startswith("dgd: every test cell is in one mixture component") for w in warnings)
    assert any(w.startswith("vae: its clusters explain 70% of the variance of log sequencing depth") for w in warnings)
    assert not any(w.startswith("pca") for w in warnings)
    assert data_warnings({"median_genes_per_cell": 900.0}, table.iloc[:1]) == []
