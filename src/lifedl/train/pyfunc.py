"""Trained models as MLflow pyfunc models, so any MLflow client loads them: ``mlflow.pyfunc.load_model``
on ``runs:/<run id>/model`` or ``models:/<name>/<version>``, then ``predict(counts)``.

The input is a table of raw counts, one row per cell and one column per gene (by name, in any order;
the model's genes must all be there). A model conditioned on batches also needs its batch column; a
model of two modalities (cells+protein) its proteins' counts, in columns ``protein:<name>``.
The output is the embedding, one row per cell. The MLflow model holds the lifedl checkpoint and a copy
of the ``lifedl`` package, so loading needs torch, anndata and scanpy's stack, not a lifedl install.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from unittest import mock

import mlflow.pyfunc
import numpy as np
import pandas as pd

ARTIFACT_PATH = "model"  # runs:/<run id>/model
N_EXAMPLE_CELLS = 3


PROTEIN_PREFIX = "protein:"


def cells_from_table(table: pd.DataFrame, gene_names: list[str], proteins: list[str] = ()):
    """An AnnData of the table's cells: gene columns as ``layers['counts']``, ``protein:<name>`` columns as
    ``obsm['protein_counts']``, the other columns as obs. A table the model cannot read is an error naming its
    columns (what is checked here is what a table, unlike an AnnData, can get wrong)."""
    import anndata as ad
    import scipy.sparse as sp

    from lifedl.errors import LifedlError
    from lifedl.pp.protein import PROTEIN_KEY

    if not isinstance(table, pd.DataFrame):
        raise LifedlError(
            f"the input to embed is a {type(table).__name__}, not a table; pass a pandas DataFrame of counts, one "
            "row per cell and one column per gene, named as in the model's signature."
        )
    if not len(table):
        raise LifedlError("the table to embed has 0 rows; give it one row of counts per cell to embed.")
    repeated = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
    if repeated:
        raise LifedlError(
            f"the table to embed names {len(repeated)} column(s) more than once (e.g. {repeated[:3]}); give one "
            "column per gene (sum or drop the repeats)."
        )
    missing = [PROTEIN_PREFIX + p for p in proteins if PROTEIN_PREFIX + p not in table.columns]
    if missing:
        raise LifedlError(
            f"the table to embed lacks {len(missing)} of the model's protein columns (e.g. {missing[:3]}); add one "
            f"column '{PROTEIN_PREFIX}<name>' of antibody (ADT) counts per protein of the model's panel."
        )
    genes = set(gene_names)
    gene_columns = [c for c in table.columns if c in genes]
    protein_columns = [c for c in table.columns if str(c).startswith(PROTEIN_PREFIX)]
    obs = table[[c for c in table.columns if c not in genes and c not in protein_columns]].copy()
    obs.index = table.index.astype(str)
    cells = ad.AnnData(obs=obs, var=pd.DataFrame(index=[str(c) for c in gene_columns]))
    cells.layers["counts"] = sp.csr_matrix(_counts(table[gene_columns], "gene"))
    if protein_columns:
        proteins = pd.DataFrame(_counts(table[protein_columns], "protein"), index=obs.index, columns=protein_columns)
        cells.obsm[PROTEIN_KEY] = proteins.rename(columns=lambda c: str(c).removeprefix(PROTEIN_PREFIX))
    return cells


def _counts(columns: pd.DataFrame, kind: str) -> np.ndarray:
    """The columns' values as float32 counts; text (which failed as a bare ValueError) or values that are not counts
    are errors naming the column."""
    from lifedl.errors import LifedlError
    from lifedl.pp.counts import check_counts

    numbers = columns.apply(pd.to_numeric, errors="coerce")
    text = numbers.isna() & columns.notna()
    if text.to_numpy().any():
        column = text.any().idxmax()
        row = text[column].idxmax()
        raise LifedlError(
            f"the table to embed: {kind} column '{column}' holds {columns.at[row, column]!r} (row {row!r}), not a "
            "number; give counts as numbers (e.g. table[genes].astype(int)), not text."
        )
    counts = numbers.to_numpy(dtype=np.float32)
    check_counts(counts, f"the table to embed ({kind} columns)")
    return counts


class LifedlModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from lifedl.models.base import load_model

        self.model = load_model(context.artifacts["checkpoint"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from lifedl.errors import LifedlError

        if not hasattr(self.model, "embed"):
            raise LifedlError(
                f"the MLflow model of '{self.model.arch}' loads, but only representation models predict (embed) "
                "through pyfunc; use lifedl.load on its checkpoint for the rest of its interface."
            )
        proteins = getattr(self.model, "proteins", [])
        embedding = self.model.embed(cells_from_table(model_input, self.model.gene_names, proteins))
        columns = [f"{self.model.arch}_{i + 1}" for i in range(embedding.shape[1])]
        return pd.DataFrame(embedding, index=model_input.index, columns=columns)


def example_input(model, cells, n_cells: int = N_EXAMPLE_CELLS) -> pd.DataFrame | None:
    """The first cells' counts on the model's genes (plus a batch column where the model needs one)."""
    if not hasattr(model, "embed"):
        return None
    from lifedl.pp.counts import counts_matrix

    first = cells[:n_cells]
    counts = counts_matrix(first, model.gene_names).toarray()
    table = pd.DataFrame(counts, index=list(first.obs_names), columns=model.gene_names)
    if getattr(model, "proteins", None):
        from lifedl.pp.protein import protein_counts

        proteins = protein_counts(first, model.proteins)
        table = table.join(
            pd.DataFrame(proteins, index=table.index, columns=[PROTEIN_PREFIX + p for p in model.proteins])
        )
    if getattr(model, "batch_categories", None):
        table[model.batch_key] = first.obs[model.batch_key].astype(str).to_numpy()
    return table


def counts_of_any_number_type(inputs, batch_key: str):
    """The input schema with the count columns typed 'any': MLflow would take only the example's number type
    (it refuses int64 counts against float columns and floats against integer ones); the model's own check
    (``lifedl.pp.counts.model_counts``) then says whether they are counts."""
    from mlflow.types.schema import AnyType, ColSpec, Schema

    return Schema(
        [spec if spec.name == batch_key else ColSpec(AnyType(), spec.name, spec.required) for spec in inputs.inputs]
    )


def log_pyfunc_model(recorder, model, checkpoint: str, cells, requirements: list[str]) -> str:
    """Save ``model`` (its checkpoint at ``checkpoint``) as a pyfunc model with a signature and an input
    example from ``cells``, into the run's artifacts under ``model/``; return its ``runs:/`` URI."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in the job's log
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)  # its advice on pickled models, each job
    example = example_input(model, cells)
    signature = None
    if example is not None:
        wrapper = LifedlModel()
        wrapper.model = model
        signature = mlflow.models.infer_signature(example, wrapper.predict(None, example))
        signature.inputs = counts_of_any_number_type(signature.inputs, getattr(model, "batch_key", ""))
    # The requirements are this environment's own versions, so MLflow's check of them against the
    # environment cannot fail; it scans every installed distribution's file list (1.7 s per job here).
    # Patched where MLflow calls it: an MLflow that moves it fails here loudly, not silently.
    skip_check = mock.patch(
        "mlflow.utils.environment.warn_dependency_requirement_mismatches", lambda requirements: None
    )
    with tempfile.TemporaryDirectory() as directory, skip_check:
        path = Path(directory) / ARTIFACT_PATH
        mlflow.pyfunc.save_model(
            path,
            python_model=LifedlModel(),
            artifacts={"checkpoint": checkpoint},
            code_paths=[str(Path(__file__).parents[1])],  # the lifedl package
            signature=signature,
            input_example=example,
            pip_requirements=requirements,  # given: inferring them costs seconds per job
        )
        for cache in list(path.rglob("__pycache__")):  # bytecode of this machine's Python: not for others
            shutil.rmtree(cache)
        recorder.client.log_artifacts(recorder.run_id, str(path), ARTIFACT_PATH)
        _log_as_logged_model(recorder, path)
    return f"runs:/{recorder.run_id}/{ARTIFACT_PATH}"


def _log_as_logged_model(recorder, path: Path) -> None:
    """The same model as an MLflow 3 logged model of the run (the runs table's Models column, the
    experiment's Models tab), as ``mlflow.pyfunc.log_model`` would make it."""
    from mlflow.entities import LoggedModelOutput

    client = recorder.client
    run = client.get_run(recorder.run_id)
    logged = client.create_logged_model(
        run.info.experiment_id, name=ARTIFACT_PATH, source_run_id=recorder.run_id, model_type="lifedl"
    )
    client.log_model_artifacts(logged.model_id, str(path))
    client.finalize_logged_model(logged.model_id, "READY")
    client.log_outputs(recorder.run_id, models=[LoggedModelOutput(logged.model_id, step=0)])
