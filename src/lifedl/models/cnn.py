"""The ``cnn`` architecture: a DeepBind-style 1-D convolutional classifier of DNA sequences.

One-hot sequence (4 x L) -> Conv1d(4, n_filters, filter_width) -> ReLU -> global max over positions
-> Dropout -> Linear(n_filters, n_hidden) -> ReLU -> Linear(n_hidden, n_classes) (Alipanahi et al.
2015). Each first-layer filter scans for one short pattern; the max keeps its best match anywhere
in the sequence, so a motif is found wherever it lies. Trained on cross-entropy against the labels
of the non-test rows; held-out measures are those of the plan's validation rows.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.batches import predict_batches, take_rows
from lifedl.data.sequences import sequence_codes, training_rows
from lifedl.data.spec import DatasetSpec
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup
from lifedl.tl.classification import classification_metrics

ARCH = "cnn"


class SequenceCNN(nn.Module):
    def __init__(self, n_filters: int, filter_width: int, n_hidden: int, dropout: float, n_classes: int):
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, filter_width)
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(n_filters, n_hidden)
        self.output = nn.Linear(n_hidden, n_classes)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Class logits (N x n_classes) of N x L integer codes (A=0 C=1 G=2 T=3)."""
        one_hot = F.one_hot(codes.long(), 4).transpose(1, 2).float()  # N x 4 x L
        pooled = F.relu(self.conv(one_hot)).amax(dim=-1)  # N x n_filters: best match anywhere
        return self.output(F.relu(self.hidden(self.dropout(pooled))))

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"cross_entropy": F.cross_entropy(self(batch["sequence"]), batch["label"])}

    def first_layer_filters(self) -> np.ndarray:
        """n_filters x 4 x width convolution weights (rows A, C, G, T)."""
        return self.conv.weight.detach().cpu().numpy().copy()


def _network(params: dict, n_classes: int) -> SequenceCNN:
    return SequenceCNN(params["n_filters"], params["filter_width"], params["n_hidden"], params["dropout"], n_classes)


class CNNModel:
    def __init__(self, network: SequenceCNN, params, classes, length: int, final_metrics=None):
        self.arch, self.network = ARCH, network.eval()
        self.params, self.classes, self.length = dict(params), [str(c) for c in classes], int(length)
        self.final_metrics = dict(final_metrics or {})

    def _proba(self, codes: np.ndarray) -> np.ndarray:
        self.network.eval()
        device = next(self.network.parameters()).device  # where the plan left it

        def probabilities(batch):
            return torch.softmax(self.network(batch["sequence"].to(device)), dim=-1)

        return predict_batches(probabilities, {"sequence": codes})

    def predict_proba(self, adata: ad.AnnData) -> np.ndarray:
        """n x len(classes) class probabilities, columns in ``classes`` order."""
        codes = sequence_codes(adata, "the sequences to predict")
        if codes.shape[1] != self.length:
            raise LifedlError(
                f"the sequences to predict are {codes.shape[1]} long, but this cnn was trained on sequences "
                f"{self.length} long; cut or pad them to {self.length}."
            )
        return self._proba(codes)

    def first_layer_filters(self) -> np.ndarray:
        return self.network.first_layer_filters()

    def checkpoint(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "params": self.params,
            "classes": self.classes,
            "length": self.length,
            "state_dict": self.network.state_dict(),
            "final_metrics": self.final_metrics,
        }


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "cnn") -> Setup:
    codes, labels, classes = training_rows(adata, spec, arch)
    length = codes.shape[1]
    if params["filter_width"] > length:
        raise LifedlError(
            f"{spec.where}: cnn filter_width {params['filter_width']} is longer than the sequences ({length}); "
            f"set filter_width to at most {length} in config/config.yaml."
        )
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = _network(params, len(classes))
    index = {name: code for code, name in enumerate(classes)}
    arrays = {"sequence": codes, "label": np.array([index[label] for label in labels], dtype=np.int64)}

    def finish(result: FitResult) -> CNNModel:
        model = CNNModel(network, params, classes, length, result.metrics)
        held_out = take_rows(arrays, np.asarray(result.val_index, dtype=np.int64))
        if len(held_out["label"]):
            scores = classification_metrics(
                np.asarray(classes)[held_out["label"]], model._proba(held_out["sequence"]), classes
            )
            scores["n"] = scores.pop("n_test")
            model.final_metrics.update({f"val_{name}": value for name, value in scores.items()})
        return model

    return Setup(network=network, arrays=arrays, finish=finish)


def from_checkpoint(checkpoint: dict) -> CNNModel:
    network = _network(checkpoint["params"], len(checkpoint["classes"]))
    network.load_state_dict(checkpoint["state_dict"])
    return CNNModel(
        network, checkpoint["params"], checkpoint["classes"], checkpoint["length"], checkpoint["final_metrics"]
    )
