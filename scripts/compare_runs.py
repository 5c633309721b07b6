"""Do two runs give the same numbers? For a change meant to move no result (a refactor): every table a run wrote
under results/ (benchmarks, logs and MLflow's files left out) and every run record's final_metrics, cell by cell.

    python scripts/compare_runs.py BEFORE/results AFTER/results [--moved OLD=NEW ...] [--tolerance 1e-6]

Prints the number of tables and numbers compared and the largest |difference| (where it is); lists every table
missing from one run, every change of rows, columns or text, and exits 1 if there is any, or a difference above
the tolerance. Columns of times (seconds, wall, duration) are not compared. ``--moved``: a table the change
renamed (paths relative to the results folders).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SKIPPED_FOLDERS = {"benchmarks", "logs", "mlartifacts", "checkpoints"}
SKIPPED_TABLES = {"make_run.tsv", "make_reproduce.tsv"}  # the run's own wall time
TIMES = ("seconds", "wall", "duration", "runtime")


def numbers_of(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: table[c].to_numpy(float) for c in table if pd.api.types.is_numeric_dtype(table[c])}


def compare_tables(before: pd.DataFrame, after: pd.DataFrame, name: str) -> tuple[list[str], list[tuple]]:
    """(problems, [(|difference|, where, n numbers)]) of two versions of one table."""
    if list(before.columns) != list(after.columns) or before.shape != after.shape:
        return [f"{name}: {before.shape} vs {after.shape}, columns differing: {set(before) ^ set(after)}"], []
    problems, differences = [], []
    for column in before.columns:
        if any(word in column for word in TIMES):
            continue
        x, y = before[column], after[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            a, b = x.to_numpy(float), y.to_numpy(float)
            if not (np.isnan(a) == np.isnan(b)).all():
                problems.append(f"{name}: {column}: missing values differ")
                continue
            kept = ~np.isnan(a)
            if kept.any():
                differences.append((float(np.abs(a[kept] - b[kept]).max()), f"{name}: {column}", int(kept.sum())))
        elif not (x.astype(str) == y.astype(str)).all():
            first = int(np.flatnonzero((x.astype(str) != y.astype(str)).to_numpy())[0])
            problems.append(f"{name}: {column}: row {first} {x.iloc[first]!r} vs {y.iloc[first]!r}")
    return problems, differences


def final_metrics(record: Path) -> pd.DataFrame:
    metrics = json.loads(record.read_text())["final_metrics"]
    return pd.DataFrame([{k: v for k, v in metrics.items() if isinstance(v, (int, float))}])


def compare_runs(before: Path, after: Path, moved: dict[str, str]) -> tuple[list[str], list[tuple], int]:
    problems, differences, n_tables = [], [], 0
    files = sorted(
        path.relative_to(before)
        for pattern in ("*.tsv", "run.json")
        for path in before.rglob(pattern)
        if not SKIPPED_FOLDERS & set(path.relative_to(before).parts) and path.name not in SKIPPED_TABLES
    )
    for name in files:
        other = after / moved.get(str(name), str(name))
        if not other.is_file():
            problems.append(f"{name}: missing from {after}")
            continue
        read = final_metrics if name.name == "run.json" else (lambda path: pd.read_csv(path, sep="\t"))
        found, differing = compare_tables(read(before / name), read(other), str(name))
        problems, differences, n_tables = problems + found, differences + differing, n_tables + 1
    return problems, differences, n_tables


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--moved", nargs="*", default=[], metavar="OLD=NEW")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args(argv)
    moved = dict(pair.split("=", 1) for pair in args.moved)
    problems, differences, n_tables = compare_runs(args.before, args.after, moved)
    largest = max(differences, default=(0.0, "", 0))
    n_numbers = sum(n for _, _, n in differences)
    print(f"{n_tables} tables and run records, {n_numbers} numbers compared; largest |difference| {largest[0]:.3g}"
          + (f" ({largest[1]})" if largest[0] else ""))  # fmt: skip
    for problem in problems:
        print(problem)
    return 1 if problems or largest[0] > args.tolerance else 0


if __name__ == "__main__":
    sys.exit(main())
