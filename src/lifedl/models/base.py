"""What every architecture module provides, and the checkpoint format.

An architecture module (one per family, registered in ``lifedl.models.ARCHITECTURES``) has

- ``setup(adata, params, spec, seed) -> Setup``: the network to train, the per-row arrays of the
  fields its ``loss(batch)`` reads (the minibatch keys), and ``finish``, which turns the trained
  network into a :class:`TrainedModel` (validation measures included). ``adata`` holds the data set's
  train and validation rows only (``obs['lifedl_split']``, :mod:`lifedl.data.splits`): no model sees a
  test row. The training plan named in the registry (``lifedl.train.plans``) trains it; models never
  import the training loop.
- ``from_checkpoint(checkpoint) -> TrainedModel``.

A trained model embeds or predicts (``embed``, ``predict_proba``, ``generate``, ``predict``, by
task) and turns itself into a checkpoint dict (``checkpoint``); ``load_model`` reads a checkpoint
file back through the registry, so a checkpoint alone is enough to use the model on new data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anndata as ad
import numpy as np
import torch

from lifedl.errors import LifedlError
from lifedl.io import atomic_path


class TrainedModel:
    """The base of every trained model: its architecture, hyper-parameters and final metrics, and the one
    checkpoint format, those three and the model's own fields (:meth:`own_state`: names, fitted arrays, its
    network's ``state_dict``), which its module's ``from_checkpoint`` reads back (:func:`load_model`)."""

    arch: str
    params: dict[str, Any]
    final_metrics: dict[str, float]

    def own_state(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not say what its checkpoint holds (own_state)")

    def checkpoint(self) -> dict[str, Any]:
        return {"arch": self.arch, "params": self.params, "final_metrics": self.final_metrics, **self.own_state()}


# What a trained model can do beyond its task, as methods the steps call where the model has them.
@runtime_checkable
class Embeds(Protocol):
    def embed(self, adata: ad.AnnData) -> np.ndarray: ...


@runtime_checkable
class Annotates(Protocol):
    """Writes what else it knows into the embedded AnnData: loadings, program names, denoised values, protein."""

    def annotate(self, adata: ad.AnnData) -> None: ...


@runtime_checkable
class ScoresTestCells(Protocol):
    """Its own measures on the test cells: the IWAE bound (count VAEs), the DGD's, denoising, predicted protein."""

    def test_scores(self, test: ad.AnnData, training: ad.AnnData, seed: int = 0) -> dict[str, float]: ...


@runtime_checkable
class OwnNeighborGraph(Protocol):
    """Builds the cells' neighbour graph itself (WNN) instead of from its embedding."""

    def neighbor_graph(self, adata: ad.AnnData, n_neighbors: int): ...


@runtime_checkable
class FirstLayerFilters(Protocol):
    """A sequence network's first-layer filters, letters x width (None where it reads k-mer tokens)."""

    def first_layer_filters(self) -> np.ndarray | None: ...


@dataclasses.dataclass
class FitResult:
    """What a training plan hands back to ``Setup.finish``."""

    metrics: dict[str, float]
    train_index: np.ndarray  # rows the network was trained on (the data set's train split)
    val_index: np.ndarray  # rows of the validation split: early stopping and every choice, never a reported score


@dataclasses.dataclass
class Setup:
    """A network ready to train on the declared fields, and how to turn the result into a model.

    ``arrays`` maps each field the network's ``loss(batch)`` reads to one array with a row per cell
    or sequence (see ``lifedl.data.batches``); ``network`` is None for models without a training
    loop (plan ``none``), whose ``finish`` receives None.
    """

    network: torch.nn.Module | None
    arrays: Mapping[str, Any]
    finish: Callable[[FitResult | None], TrainedModel]
    # an agent that collects its own data (plan 'agent'): trains itself, logging through log(metrics, episode)
    learn: Callable[[Callable[[dict[str, float], int], None]], dict[str, float]] | None = None
    # 'train' or 'validation' per row of ``arrays`` (lifedl.data.splits); None: one per row of the AnnData that
    # ``setup`` was given, in order (a model that keeps only some rows, e.g. labelled ones, names theirs)
    split: np.ndarray | None = None
    # each row's length where rows are sequences of unequal length: training batches group similar lengths
    lengths: np.ndarray | None = None


def category_codes(values, categories: list[str], what: str) -> np.ndarray:
    """Integer codes of ``values`` in ``categories`` (a trained model's classes or batches); unknown ones are an error."""
    values = np.asarray(values).astype(str)
    unknown = sorted(str(value) for value in set(values) - set(categories))
    if unknown:
        raise LifedlError(
            f"{what} {unknown[:5]} were not seen in training (known: {categories}); give each cell one of the known "
            "values, or train a model on data that holds these."
        )
    index = {name: code for code, name in enumerate(categories)}
    return np.array([index[v] for v in values], dtype=np.int64)


def network_state(model, network: torch.nn.Module, **extra: Any) -> dict[str, Any]:
    """The own state of a model of cells with a network: its genes, its ``extra`` fields and the weights."""
    return {"gene_names": model.gene_names, **extra, "state_dict": network.state_dict()}


def model_state(model: TrainedModel) -> dict[str, Any]:
    """Everything that makes the model again (``model_from_state``): its checkpoint, tagged with its architecture."""
    return {"lifedl_arch": model.arch, **model.checkpoint()}


def model_from_state(state: dict[str, Any]) -> TrainedModel:
    from lifedl.models import get_architecture

    return get_architecture(state["lifedl_arch"]).from_checkpoint(state)


def save_checkpoint(model: TrainedModel, path: str | os.PathLike) -> None:
    # Through a Python file object, so a full disk raises OSError (ENOSPC), which atomic_path reports.
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(model_state(model), handle)


def load_model(path: str | os.PathLike) -> TrainedModel:
    """Load any lifedl checkpoint back into a model that can embed or predict new data."""
    path = Path(path)
    if not path.is_file():
        raise LifedlError(
            f"{path}: {'a directory' if path.is_dir() else 'no such file'}, not a checkpoint; give the path of a file "
            "that Model.save or the train rule wrote (results/<dataset>/models/<arch>/model.ckpt)."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise LifedlError(
            f"{path}: not a readable checkpoint ({error}); is it a file Model.save or the train rule wrote? If so, "
            "it was cut short: rerun the train rule for it (or save the model again)."
        ) from error
    if not isinstance(checkpoint, dict) or "lifedl_arch" not in checkpoint:
        raise LifedlError(
            f"{path}: a torch file, but not a lifedl checkpoint (no 'lifedl_arch' entry); give a file that "
            "Model.save or the train rule wrote, or read this one with torch.load."
        )
    return model_from_state(checkpoint)
