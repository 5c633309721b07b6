"""``results/report.html``: one self-contained page (figures inlined), a section per dataset."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lifedl.io import atomic_path

# columns of a metrics table that are not measures, and the counts shown as whole numbers
NOT_SHOWN = ("dataset",)
WHOLE_NUMBERS = ("resolution", "resolution_best")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3rem 0; }
code { background: #f4f4f4; padding: 0 0.2rem; }
.muted { color: #666; font-size: 0.9rem; }
.warning { color: #8a4b00; background: #fff4e0; padding: 0.3rem 0.6rem; }
.flag { color: #a40; font-weight: 600; }
nav ul { columns: 2; }
"""


def _image(path: str | Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption class="muted">{html.escape(alt)}</figcaption></figure>'


def metrics_table(metric_files: Sequence[str | Path]) -> pd.DataFrame:
    """All architectures' metrics side by side, the baselines (PCA, k-mers) first."""
    from lifedl.models import get_architecture

    if not metric_files:  # a data set of generators or perturbation models only: their own tables say it
        return pd.DataFrame(columns=["arch"])
    table = pd.concat([pd.read_csv(path, sep="\t") for path in metric_files], ignore_index=True)
    table["order"] = [int(bool(get_architecture(arch).baseline)) for arch in table["arch"]]
    return table.sort_values(["order", "arch"]).drop(columns="order").reset_index(drop=True)


def _table_html(table: pd.DataFrame) -> str:
    """One table per task (embeddings, classifiers, regressors), each with every column its rows fill (what the
    scoring steps wrote, in their order: no hand-kept list), so a data set scored more than one way does not show
    a wide table of blanks."""
    from lifedl.models import get_architecture

    table = table.drop(columns=[c for c in NOT_SHOWN if c in table.columns])
    for column in table.columns:
        if column.startswith("n_") or column in WHOLE_NUMBERS:
            table[column] = table[column].map(lambda v: f"{v:g}" if pd.notna(v) else v)
    tasks = table["arch"].map(lambda arch: get_architecture(arch).task)
    return "".join(
        table[tasks == task]
        .dropna(axis=1, how="all")
        .to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–", border=0)
        for task in dict.fromkeys(tasks)
    )


RUN_HEADERS = ["arch", "training", "MLflow run", "seed", "git commit", "config sha256", "input sha256", "versions"]
STILL_IMPROVING_TAIL = 0.1  # the best validation loss within the last 10 % of the epochs: still falling


def training_status(run: Mapping[str, object], history: pd.DataFrame | None) -> tuple[str, bool]:
    """How a network's training ended, and whether to flag it: it ran to ``max_epochs`` while its
    validation loss was still falling (its best epoch in the last tenth), so more epochs would help."""
    epochs = run.get("final_metrics", {}).get("epochs_trained")
    cap = run.get("params", {}).get("max_epochs")
    if epochs is None or cap is None:
        return "no training loop", False
    epochs, cap = int(epochs), int(cap)
    if epochs < cap:
        return f"stopped early at epoch {epochs} of {cap}", False
    if history is None or "val/loss" not in history or history["val/loss"].isna().all():
        return f"ran all {cap} epochs", False
    best_epoch = int(history.loc[history["val/loss"].idxmin(), "epoch"]) + 1
    if best_epoch > cap * (1 - STILL_IMPROVING_TAIL):
        return f"reached the {cap}-epoch cap still improving (best epoch {best_epoch}): raise max_epochs", True
    return f"ran all {cap} epochs (best epoch {best_epoch})", False


def _run_row(run: Mapping[str, object], history: pd.DataFrame | None = None) -> str:
    """One training run: how training ended, its MLflow id and what is needed to reproduce it."""
    status, flagged = training_status(run, history)
    inputs = ", ".join(f"{name} {digest[:12]}" for name, digest in run.get("input_sha256", {}).items())
    versions = run.get("versions", {})
    shown = ", ".join(f"{k} {versions[k]}" for k in ("torch", "lightning", "scanpy", "mlflow") if k in versions)
    cells = [
        run["arch"],
        run["mlflow_run_id"],
        run["seed"],
        str(run.get("git_commit", ""))[:12],
        str(run.get("config_sha256", ""))[:12],
        inputs,
        shown,
    ]
    status_cell = f"<td class='{'flag' if flagged else 'muted'}'>{html.escape(status)}</td>"
    code_cells = [f"<td><code>{html.escape(str(cell))}</code></td>" for cell in cells]
    return "<tr>" + code_cells[0] + status_cell + "".join(code_cells[1:]) + "</tr>"


def _history(run_json: str | Path) -> pd.DataFrame | None:
    path = Path(run_json).with_name("history.tsv")
    return pd.read_csv(path, sep="\t") if path.is_file() else None


def _metrics_note(table: pd.DataFrame) -> str:
    """What the measures are, for each task with rows in the table (lifedl.tl.tasks: each task's note), the
    embeddings' first."""
    from lifedl.models import get_architecture
    from lifedl.tl.tasks import get_task

    if table.empty:
        return "No architecture of this data set has a row here: the tables below give its measures and baselines."
    tasks = sorted(
        dict.fromkeys(get_architecture(arch).task for arch in table["arch"]), key=lambda t: t != "representation"
    )
    notes = [get_task(task).note(labelled="ari" in table) for task in tasks]
    return " ".join(note for note in notes if note)


SHALLOW_GENES_PER_CELL = 200  # scanpy's usual min_genes: below it as a median, cell types blur into depth
DEPTH_DRIVEN = 0.5  # clusters explaining half of log depth's variance follow depth more than biology
COLLAPSED_DIMS = 1.5  # an embedding using about one dimension


def data_warnings(qc: Mapping[str, object], table: pd.DataFrame) -> list[str]:
    """What a reader must know before trusting the clusters: shallow data, embeddings collapsed onto a line or
    into one mixture component, clusters that follow sequencing depth."""
    warnings = []
    median = qc.get("median_genes_per_cell")
    if median is not None and float(median) < SHALLOW_GENES_PER_CELL:
        warnings.append(
            f"Shallow data: a median of {float(median):.0f} genes per cell (under {SHALLOW_GENES_PER_CELL}). So few "
            "genes per cell hardly support cell types; read the agreement table and depth_eta2 before the clusters."
        )
    for _, row in table.iterrows():
        arch = row["arch"]
        if row.get("effective_dims", np.inf) < COLLAPSED_DIMS:
            warnings.append(f"{arch}: its embedding is collapsed ({row['effective_dims']:.2f} effective dimensions).")
        if row.get("components_used", np.inf) <= 1:
            warnings.append(f"{arch}: every test cell is in one mixture component; its components find no groups.")
        if row.get("depth_eta2", 0) > DEPTH_DRIVEN:
            warnings.append(
                f"{arch}: its clusters explain {row['depth_eta2']:.0%} of the variance of log sequencing depth: they "
                "follow depth more than biology."
            )
    return warnings


def _contents(datasets: Mapping[str, object]) -> str:
    items = "".join(
        f"<li><a href='#{html.escape(d)}'>{html.escape(d)}</a>: <a href='#{html.escape(d)}-metrics'>metrics</a>, "
        f"<a href='#{html.escape(d)}-runs'>runs</a>, <a href='#{html.escape(d)}-figures'>figures</a></li>"
        for d in datasets
    )
    return f"<nav><h2>Contents</h2><ul>{items}</ul></nav>"


def write_report(datasets: Mapping[str, Mapping[str, object]], tracking_uri: str, output: str | Path) -> None:
    """``datasets[id]`` holds: metrics (tsv paths), run_jsons (paths), figures (list of (path, caption)),
    tables (list of (title, tsv path)) and qc (dict)."""
    sections = []
    for dataset, parts in datasets.items():
        table = metrics_table(parts["metrics"])
        runs = [_run_row(json.loads(Path(path).read_text()), _history(path)) for path in parts["run_jsons"]]
        qc = parts.get("qc", {})
        qc_line = qc.get("summary") or (
            f"QC kept {qc.get('n_cells_after')} of {qc.get('n_cells_before')} cells and "
            f"{qc.get('n_genes_after')} of {qc.get('n_genes_before')} genes."
            if qc
            else ""
        )
        figures = "\n".join(_image(path, caption) for path, caption in parts["figures"])
        tables = "".join(
            f"<h3>{html.escape(title)}</h3>"
            + pd.read_csv(path, sep="\t").to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)
            for title, path in parts.get("tables", [])
        )
        anchor = html.escape(dataset)
        warnings = "".join(f"<p class='warning'>{html.escape(text)}</p>" for text in data_warnings(qc, table))
        sections.append(
            f"<h2 id='{anchor}'>{html.escape(dataset)}</h2><p class='muted'>{html.escape(qc_line)}</p>{warnings}"
            f"<h3 id='{anchor}-metrics'>Metrics</h3><p class='muted'>Baseline first. {_metrics_note(table)}</p>"
            f"{_table_html(table)}{tables}<h3 id='{anchor}-runs'>Runs and provenance</h3>"
            f"<table><tr>{''.join(f'<th>{h}</th>' for h in RUN_HEADERS)}</tr>"
            f"{''.join(runs)}</table><h3 id='{anchor}-figures'>Figures</h3>{figures}"
        )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>lifedl report</title><style>{STYLE}</style></head>"
        f"<body><h1>lifedl report</h1><p class='muted'>MLflow tracking store: <code>{html.escape(tracking_uri)}</code>. "
        "Open it with <code>make mlflow-ui</code> to compare runs.</p>"
        f"{_contents(datasets)}{''.join(sections)}</body></html>"
    )
    with atomic_path(output) as tmp:
        tmp.write_text(page)
