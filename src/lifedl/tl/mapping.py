"""How well a query was mapped onto a reference: the reference's labels transferred to the query's cells by their
nearest reference cells in a shared space (as scArches and scanpy's ``ingest`` transfer them), scored against the
query's own labels, which no model read; and how well the two mix (a mapped query should sit among the
reference's cells of its type, not apart from them).

The labelled reference cells are the reference's training and validation cells; the scored cells are the
query's test cells; the mixing is measured on the test cells of both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neighbors import KNeighborsClassifier

from lifedl.data.splits import TEST
from lifedl.tl.metrics import knn_batch_entropy

TRANSFER_NEIGHBOURS = 15  # scanpy's ingest: the reference's kNN graph, 15 neighbours by default; fixed, not tuned


def transfer_labels(reference_latent: np.ndarray, reference_labels, query_latent: np.ndarray) -> np.ndarray:
    """Each query cell's label: the commonest among its ``TRANSFER_NEIGHBOURS`` nearest reference cells."""
    k = min(TRANSFER_NEIGHBOURS, len(reference_latent))
    classifier = KNeighborsClassifier(n_neighbors=k).fit(reference_latent, np.asarray(reference_labels).astype(str))
    return classifier.predict(query_latent)


def mapping_scores(
    latent: np.ndarray, labels, reference: np.ndarray, split: np.ndarray, batches
) -> tuple[dict, pd.DataFrame]:
    """Label-transfer accuracy and macro F1 on the query's test cells, the share of them whose type the reference
    lacks, and the batch entropy of all test cells; with the per-cell table (truth, transferred label)."""
    labels, split = np.asarray(labels).astype(str), np.asarray(split)
    source, target = reference & (split != TEST), ~reference & (split == TEST)
    predicted = transfer_labels(latent[source], labels[source], latent[target])
    truth = labels[target]
    test = split == TEST
    scores = {
        "n_reference_labelled": float(source.sum()),
        "n_query_test": float(target.sum()),
        "label_accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", labels=sorted(set(truth)), zero_division=0)),
        "query_types_unseen": float(np.mean(~np.isin(truth, labels[source]))),
        "batch_entropy": knn_batch_entropy(latent[test], pd.Series(np.asarray(batches)[test])),
    }
    return scores, pd.DataFrame({"label": truth, "transferred": predicted})


def per_type_f1(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell type of the query's test cells: its number of cells and the F1 of its transferred label."""
    types = sorted(set(table["label"]))
    f1 = f1_score(table["label"], table["transferred"], average=None, labels=types, zero_division=0)
    counts = table["label"].value_counts()
    return pd.DataFrame({"cell_type": types, "n_cells": [int(counts[t]) for t in types], "f1": f1})
