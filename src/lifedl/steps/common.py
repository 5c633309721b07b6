"""What the steps share: reading a data set with its spec, run records, and tables logged to a model's run."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import pandas as pd


def read_with_spec(path: str):
    """An AnnData file and the dataset spec stored in it (``lifedl.data.spec``), errors naming the file."""
    from lifedl.data.spec import DatasetSpec

    adata = ad.read_h5ad(path)
    return adata, DatasetSpec.from_adata(adata, file=path, dataset=Path(path).parent.name)


def read_json(path: str) -> dict:
    return json.loads(Path(path).read_text())


def log_table_to_run(run_json: str, table: pd.DataFrame, key_column: str) -> None:
    """Each numeric cell of a measures table as eval/<row>/<column> in the model's MLflow run."""
    from lifedl.train.tracking import open_run

    run = read_json(run_json)
    metrics = {
        f"eval/{row[key_column]}/{column}": float(value)
        for _, row in table.iterrows()
        for column, value in row.items()
        if column != key_column and isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    open_run(run["mlflow_tracking_uri"], run["mlflow_run_id"]).log_metrics(metrics)
