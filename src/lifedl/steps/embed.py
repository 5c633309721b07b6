"""The embed rule (workflow/rules/embed.smk): embed, neighbours, UMAP, Leiden and the embedding's scores."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lifedl.io import write_h5ad, write_tsv
from lifedl.steps.common import read_with_spec
from lifedl.tl.embedding_scores import score_embedding


def embed(
    qc_h5ad: str,
    checkpoint: str,
    output: str | None,
    metrics: str,
    arch: str,
    dataset: str,
    n_neighbors: int,
    resolutions: Sequence[float],
    default_resolution: float,
    seed: int,
) -> dict[str, float]:
    """The model's embedding of every cell, its neighbour graph, on that one graph UMAP and Leiden at each
    resolution, and the embedding's scores (:func:`lifedl.tl.embedding_scores.score_embedding`): one job, so the
    data, scanpy and the measures' libraries are loaded once. ``output`` None (a replicate seed): the embedding is not kept.
    Returns (and prints) the seconds each part took."""
    import time

    from lifedl.models.base import Annotates, OwnNeighborGraph, ScoresTestCells, load_model
    from lifedl.tl.cluster import leiden, neighbors, umap

    seconds, mark = {}, time.perf_counter()

    def part(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[name], mark = now - mark, now

    adata, spec = read_with_spec(qc_h5ad)
    part("read")
    model = load_model(checkpoint)
    part("load_model")
    adata.obsm[f"X_{arch}"] = model.embed(adata)
    if isinstance(model, Annotates):
        model.annotate(adata)
    part("embed")
    # a model with a neighbour graph of its own (WNN) hands it over; the others' is built on the embedding
    graph = model.neighbor_graph(adata, n_neighbors) if isinstance(model, OwnNeighborGraph) else None
    neighbors(adata, arch, n_neighbors, seed, graph)
    part("neighbors")
    if output is not None:  # the UMAP is for the figures; no score reads it, so a replicate seed skips it
        umap(adata, arch, seed)
        part("umap")
    leiden(adata, arch, list(resolutions), seed)
    part("leiden")
    if output is not None:
        write_h5ad(adata, output)
    part("write")
    model_scores = model.test_scores if isinstance(model, ScoresTestCells) else None  # its own test measures
    row = score_embedding(adata, spec, arch, resolutions, default_resolution, seed, model_scores)
    write_tsv(pd.DataFrame([{"dataset": dataset, "arch": arch, **row}]), metrics)  # collect_metrics logs it
    part("scores")
    print(f"{dataset}/{arch} embed: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), flush=True)
    return seconds
