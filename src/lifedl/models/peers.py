"""The field's own tools as peers: scvi-tools' SCVI (``scvi``, cells), TOTALVI (``totalvi``, CITE-seq), PEAKVI
(``peakvi``, chromatin accessibility), SCVI's scArches mapping (``scvi_scarches``, reference mapping) and SOLO on
SCVI (``scvi_solo``, doublets), trained
on the same train and validation rows as lifedl's models, embedded and scored by the same rules.

scvi-tools lives in its own pinned environment (``requirements-bench.lock``, ``make bench-venv``), so the
workflow's never imports it: training, embedding and the marginal likelihood run there as a subprocess
(``lifedl.peer_runner``), exchanging h5ad and .npy files. The interpreter is ``$LIFEDL_PEER_PYTHON``, else the
checkout's ``.venv-bench/bin/python``. The checkpoint holds the saved scvi-tools model's files, so it alone
embeds new cells (with that environment present).

SCVI's test measure is scvi-tools' own ``get_marginal_ll`` (an importance-weighted estimate with the same number
of samples as lifedl's IWAE, given the observed library size), so it stands beside the VAE family's
``test_iwae_per_cell``. TOTALVI's includes the proteins' likelihood and is not reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lifedl.errors import LifedlError
from lifedl.models.base import Setup, TrainedModel
from lifedl.models.vae import batch_categories
from lifedl.pp.counts import model_counts

PEER_PYTHON_VARIABLE = "LIFEDL_PEER_PYTHON"
IWAE_SAMPLES = 100  # as lifedl's VAE family (lifedl.models.vae.IWAE_SAMPLES)


def peer_python() -> str:
    """The interpreter of scvi-tools' environment; an error says how to make one."""
    checkout = Path(__file__).resolve().parents[3]
    python = os.environ.get(PEER_PYTHON_VARIABLE) or str(checkout / ".venv-bench" / "bin" / "python")
    if not Path(python).is_file():
        raise LifedlError(
            f"the scvi-tools peers run in their own environment, and {python} does not exist; run `make bench-venv` "
            f"(requirements-bench.lock) or set {PEER_PYTHON_VARIABLE} to a Python with scvi-tools and lifedl."
        )
    return python


def run_peer(command: str, **arguments) -> None:
    """``lifedl.peer_runner``'s ``command`` in the peer environment; its output goes to this job's log."""
    # Relayed line by line through sys.stderr, which in a workflow job is a tee to its log (no file descriptor
    # to hand to the child).
    with subprocess.Popen(
        [peer_python(), "-m", "lifedl.peer_runner", json.dumps({"command": command, **arguments})],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout:
            sys.stderr.write(line)
    if process.returncode != 0:
        raise LifedlError(f"the scvi-tools peer's '{command}' failed (exit {process.returncode}); its log is above.")


def peer_cells(adata: ad.AnnData, gene_names, batch_key: str, proteins) -> ad.AnnData:
    """What scvi-tools reads of the cells: counts of the model's genes, the batch column, the proteins."""
    counts = model_counts(adata, gene_names)
    obs = pd.DataFrame(index=adata.obs_names.astype(str))
    for column in (batch_key, "lifedl_split"):
        if column and column in adata.obs:
            obs[column] = adata.obs[column].astype(str).to_numpy()
    cells = ad.AnnData(X=counts.copy(), obs=obs, var=pd.DataFrame(index=pd.Index(gene_names, dtype=str)))
    cells.layers["counts"] = counts
    if proteins:
        from lifedl.pp.protein import PROTEIN_KEY, protein_counts

        cells.obsm[PROTEIN_KEY] = pd.DataFrame(protein_counts(adata, proteins), index=obs.index, columns=proteins)
    return cells


class PeerModel(TrainedModel):
    def __init__(
        self, arch, model_files: dict[str, bytes], gene_names, params, batch_key="", proteins=(), metrics=None
    ):
        self.arch, self.model_files = arch, dict(model_files)
        self.gene_names, self.params = list(gene_names), dict(params)
        self.batch_key, self.proteins = batch_key, list(proteins)
        self.final_metrics = dict(metrics or {})

    def _run(self, command: str, adata: ad.AnnData, **arguments) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix=f"lifedl-{self.arch}-") as directory:
            model_dir = Path(directory) / "model"
            model_dir.mkdir()
            for name, content in self.model_files.items():
                (model_dir / name).write_bytes(content)
            peer_cells(adata, self.gene_names, self.batch_key, self.proteins).write_h5ad(Path(directory) / "cells.h5ad")
            output = str(Path(directory) / "output.npy")
            run_peer(
                command, model_dir=str(model_dir), h5ad=str(Path(directory) / "cells.h5ad"), output=output,
                arch=self.arch, **arguments,
            )  # fmt: skip
            return np.load(output)

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self._run("embed", adata)

    def test_scores(self, test: ad.AnnData, training: ad.AnnData, seed: int = 0) -> dict[str, float]:
        """SCVI: scvi-tools' marginal log-likelihood estimate on the test cells (``IWAE_SAMPLES`` samples)."""
        if self.arch != "scvi":
            return {}
        values = self._run("marginal_ll", test, n_samples=IWAE_SAMPLES, seed=seed)
        return {"test_iwae_per_cell": float(np.mean(values)), "iwae_samples": float(IWAE_SAMPLES)}

    def own_state(self) -> dict:
        return {
            "gene_names": self.gene_names,
            "batch_key": self.batch_key,
            "proteins": self.proteins,
            "model_files": self.model_files,
        }


class SoloPeerModel(PeerModel):
    """scvi-tools' SOLO on its SCVI model of the training cells. SOLO classifies the cells it is set up with, so new
    cells are scored in one sample with the training cells (as scrublet's are: lifedl.models.doublets)."""

    def __init__(self, arch, model_files, gene_names, params, counts, seed: int, metrics=None):
        super().__init__(arch, model_files, gene_names, params, metrics=metrics)
        self.counts, self.seed = sp.csr_matrix(counts), int(seed)

    def doublet_scores(self, adata: ad.AnnData) -> np.ndarray:
        sample = ad.AnnData(sp.vstack([self.counts, sp.csr_matrix(model_counts(adata, self.gene_names))]).tocsr())
        sample.var_names, sample.layers["counts"] = self.gene_names, sample.X
        scores = self._run("solo", sample, params=self.params, seed=self.seed)
        return scores[self.counts.shape[0] :]

    def own_state(self) -> dict:
        return {**super().own_state(), "counts": self.counts, "seed": self.seed}


def fit(adata: ad.AnnData, params: dict, spec, seed: int, arch: str) -> PeerModel:
    """Train the peer in its environment on the train cells, stopping early on the validation cells (``scvi_scarches``:
    the reference's, then the query's, told apart by the condition column)."""
    if arch == "scvi_scarches":
        return _map_query(adata, params, spec, seed, arch)
    batch_key = spec.batch if batch_categories(adata, spec.batch, spec.where) else ""
    proteins = []
    if arch == "totalvi":
        from lifedl.pp.protein import protein_names

        proteins = protein_names(adata, spec.where)
    with tempfile.TemporaryDirectory(prefix=f"lifedl-{arch}-") as directory:
        cells, model_dir = Path(directory) / "cells.h5ad", Path(directory) / "model"
        peer_cells(adata, list(adata.var_names), batch_key, proteins).write_h5ad(cells)
        metrics = Path(directory) / "metrics.json"
        run_peer(
            "train", h5ad=str(cells), model_dir=str(model_dir), metrics=str(metrics), arch=arch, params=params,
            batch_key=batch_key, seed=seed,
        )  # fmt: skip
        files = {path.name: path.read_bytes() for path in model_dir.iterdir()}
        scores = json.loads(metrics.read_text())
    if arch == "scvi_solo":  # the training cells, with which SOLO scores new ones
        counts = model_counts(adata[adata.obs["lifedl_split"].astype(str).to_numpy() == "train"], list(adata.var_names))
        return SoloPeerModel(arch, files, adata.var_names, params, counts, seed, scores)
    return PeerModel(arch, files, adata.var_names, params, batch_key, proteins, scores)


def _map_query(adata: ad.AnnData, params: dict, spec, seed: int, arch: str) -> PeerModel:
    """scvi-tools' scArches mapping (``peer_runner.map_query``) of the query (condition other than ``control``)
    onto a reference model of the control cells."""
    from lifedl.models.mapping import reference_rows

    reference_rows(adata, spec)  # both present, or a clear error before the peer starts
    with tempfile.TemporaryDirectory(prefix=f"lifedl-{arch}-") as directory:
        cells, model_dir = Path(directory) / "cells.h5ad", Path(directory) / "model"
        peer_cells(adata, list(adata.var_names), spec.condition, []).write_h5ad(cells)
        metrics = Path(directory) / "metrics.json"
        run_peer(
            "map_query", h5ad=str(cells), model_dir=str(model_dir), metrics=str(metrics), arch=arch, params=params,
            batch_key=spec.condition, reference=spec.control, seed=seed,
        )  # fmt: skip
        files = {path.name: path.read_bytes() for path in model_dir.iterdir()}
        return PeerModel(arch, files, adata.var_names, params, spec.condition, (), json.loads(metrics.read_text()))


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "scvi") -> Setup:
    """No loop of lifedl's (plan 'none'): ``finish`` trains the peer in its own environment."""
    return Setup(None, {}, lambda result: fit(adata, params, spec, seed, arch))


def from_checkpoint(checkpoint: dict) -> PeerModel:
    if checkpoint["arch"] == "scvi_solo":
        return SoloPeerModel(
            checkpoint["arch"],
            checkpoint["model_files"],
            checkpoint["gene_names"],
            checkpoint["params"],
            checkpoint["counts"],
            checkpoint["seed"],
            checkpoint["final_metrics"],
        )
    return PeerModel(
        checkpoint["arch"],
        checkpoint["model_files"],
        checkpoint["gene_names"],
        checkpoint["params"],
        checkpoint["batch_key"],
        checkpoint["proteins"],
        checkpoint["final_metrics"],
    )
