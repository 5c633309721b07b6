"""Write docs/results.md from a finished run's results files and the template docs/results.md.in.

No number in the results page is typed by hand: the template holds the prose and, where a number
or table goes, a directive that reads it from a results file (``make docs`` after ``make run``):

    {{ results/pbmc68k_reduced/metrics.tsv | arch=vae | ari | .3f }}     one value: file | row | column | format
    {{ table results/pbmc68k_reduced/metrics.tsv | arch, ari, nmi | .3f }} a Markdown table of those columns (rows
                                                                           with no measure filled left out)
    {{ table? results/pbmc68k_reduced/likelihoods.tsv | ... }}           the same, or a note where the file is missing
                                                                           (columns missing from it are left out)
    {{ ?results/x/likelihoods.tsv | likelihood=nb | wins }}               one value, or a note where the file or the
                                                                           row is missing
    {{ table results/x/motifs/cnn.tsv | filter, best_match | .3f | 8 }}  only the first 8 rows
    {{ run }}                                                            the run's commit, seed and date
    {{ figure? results/x/figures/umap.png | caption }}                   the figure, copied beside the page (docs/
                                                                           results/x_umap.png), or a note where the
                                                                           run did not draw it

    {{ table results/x/comparisons.tsv where measure=ari | arch, baseline, verdict }}  only the rows matching
    {{ results/x/comparisons.tsv | arch=vae & baseline=pca & measure=ari | verdict }}  a row picked by several columns
    {{ table results/x/seeds.tsv where arch=pca,snf | arch, ari_mean }}                 rows of either value

A row is picked by ``column=value`` (several joined by ``&``; exactly one row must match). A missing file, row or
column stops with a message naming the template line and the fix; nothing is written then.

    python scripts/render_results.py [--results results] [--template docs/results.md.in] [--output docs/results.md]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from lifedl.io import atomic_path

DIRECTIVE = re.compile(r"\{\{(.*?)\}\}")
NOT_IN_THIS_RUN = "(not in this run: `make reproduce`)"


class RenderError(Exception):
    pass


def _read(root: Path, relative: str, where: str) -> pd.DataFrame:
    path = root / Path(relative).relative_to("results") if relative.startswith("results/") else root / relative
    if not path.is_file():
        raise RenderError(f"{where}: {path} does not exist; run the workflow (make run, or make reproduce) first.")
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def _format(value, spec: str) -> str:
    if isinstance(value, str):
        return value
    if pd.isna(value):
        return ""
    return format(value, spec or "g")


def _matching(table: pd.DataFrame, selector: str, where: str) -> pd.DataFrame:
    """The rows where every ``column=value`` of the selector (joined by '&') holds; ``column=a,b`` takes either."""
    rows = table
    for condition in selector.split("&"):
        column, _, wanted = condition.partition("=")
        column = column.strip()
        if column not in table:
            raise RenderError(f"{where}: no column '{column}' to pick a row by (columns: {list(table.columns)}).")
        rows = rows[rows[column].astype(str).isin([value.strip() for value in wanted.split(",")])]
    return rows


def _pick_row(table: pd.DataFrame, selector: str, where: str) -> pd.Series:
    rows = _matching(table, selector, where)
    if len(rows) != 1:
        raise RenderError(f"{where}: {len(rows)} rows with {selector.strip()} (need exactly one).")
    return rows.iloc[0]


def _column(table_or_row, name: str, where: str):
    names = table_or_row.index if isinstance(table_or_row, pd.Series) else table_or_row.columns
    if name not in names:
        raise RenderError(f"{where}: no column '{name}' in the file (columns: {list(names)}); fix the template.")
    return table_or_row[name]


def _whole_numbers(column: pd.Series) -> bool:
    """A column of counts or identifiers (jobs, cells, dimensions, seeds): written as integers, or whole numbers
    not all of them 0 or 1 (a score column of 0.0 and 1.0 stays a score)."""
    if pd.api.types.is_integer_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return True  # a seed column of zeros is still a seed
    if not pd.api.types.is_numeric_dtype(column) or column.dropna().empty:
        return False
    values = column.dropna()
    return bool((values % 1 == 0).all() and (values.abs() > 1).any())


def _markdown_table(table: pd.DataFrame, columns: list[str], spec: str, where: str, optional: bool = False) -> str:
    if optional:  # table?: the columns a model of make reproduce alone writes may be missing
        columns = [name for name in columns if name in table.columns]
        if len(columns) < 2:
            return "_Not in this run: `make reproduce` writes these columns._"
    for name in columns:
        _column(table, name, where)
    # counts (jobs, cells, dimensions) stay integers whatever the table's number format
    specs = {name: "d" if _whole_numbers(table[name]) else spec for name in columns}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    # rows with none of the measures asked for (a classifier's row in a table of embedding scores; counts n_*
    # are no measures) are left out
    measures = [name for name in columns[1:] if not name.startswith("n_")]
    table = table[table[measures].notna().any(axis=1)] if measures else table
    for _, row in table.iterrows():
        cells = [
            _format(int(row[name]) if specs[name] == "d" and not pd.isna(row[name]) else row[name], specs[name])
            for name in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _run_line(root: Path) -> str:
    """Which code produced the results: the one commit and the seed(s) in the run records, and the date. Results
    of more than one commit are refused, naming the outputs that are not of the newest run's commit."""
    paths = sorted(root.glob("**/run.json"))
    records = {path: json.loads(path.read_text()) for path in paths}
    if not records:
        raise RenderError(f"{root}: no models/*/run.json; run the workflow first.")
    commits = {path: str(record.get("git_commit", "unknown"))[:10] for path, record in records.items()}
    newest = max(paths, key=lambda path: path.stat().st_mtime)
    stale = [path for path in paths if commits[path] != commits[newest]]
    if stale:
        shown = ", ".join(f"{path} ({commits[path]})" for path in stale[:5])
        raise RenderError(
            f"{root}: results of {len(set(commits.values()))} commits; {len(stale)} run record(s) are not of the "
            f"newest run's commit {commits[newest]}: {shown}{' ...' if len(stale) > 5 else ''}. Rerun the workflow "
            "at one commit (make clean, then make run or make reproduce) before make docs."
        )
    dirty = any(str(record.get("git_dirty")) == "true" for record in records.values())
    seeds = sorted({str(record.get("seed")) for record in records.values()}, key=lambda seed: (len(seed), seed))
    date = datetime.fromtimestamp(newest.stat().st_mtime, UTC).strftime("%Y-%m-%d")
    return (
        f"Generated by `make docs` from `results/` of a run at commit {commits[newest]}"
        f"{' (with uncommitted changes)' if dirty else ''}, seed {', '.join(seeds)}, last model trained {date}."
    )


FIGURE_DIRECTORY = "results"  # beside the page: docs/results/ (results/ itself is not in git)


def figure_copy(path: str) -> str:
    """Where a figure of the run is copied, relative to the page: results/{dataset}/figures/x.png ->
    results/{dataset}_x.png."""
    parts = Path(path).relative_to("results").parts
    return f"{FIGURE_DIRECTORY}/{parts[0]}_{parts[-1]}"


def figures_to_copy(template: str, root: Path) -> list[tuple[Path, str]]:
    """(file of the run, where it goes relative to the page) of every figure the template shows and the run drew."""
    paths = re.findall(r"\{\{\s*figure\?\s+(results/[^ |}]+)", template)
    return [(root / Path(path).relative_to("results"), figure_copy(path)) for path in dict.fromkeys(paths)]


def render(template: str, root: Path, template_name: str = "template") -> str:
    def replace(match: re.Match, line_number: int) -> str:
        where = f"{template_name}:{line_number}"
        inner = match.group(1).strip()
        if inner == "run":
            return _run_line(root)
        parts = [part.strip() for part in inner.split("|")]
        if parts[0].startswith("figure? "):
            path = parts[0].split(maxsplit=1)[1]
            caption = parts[1] if len(parts) > 1 else Path(path).stem
            if not (root / Path(path).relative_to("results")).is_file():
                return f"_Not in this run: `make reproduce` draws `{path}`._"
            return f"![{caption}]({figure_copy(path)})"
        if parts[0].startswith(("table ", "table? ")):
            keyword, path = parts[0].split(maxsplit=1)
            path, _, selector = (piece.strip() for piece in path.partition(" where "))
            if keyword == "table?" and not (root / Path(path).relative_to("results")).is_file():
                return f"_Not in this run: `make reproduce` writes `{path}`._"
            table = _read(root, path, where)
            if selector:
                table = _matching(table, selector, where)
            columns = [name.strip() for name in parts[1].split(",")] if len(parts) > 1 else list(table.columns)
            if len(parts) > 3:
                if not parts[3].isdigit():
                    raise RenderError(f"{where}: '{parts[3]}' is not a number of rows to show.")
                table = table.head(int(parts[3]))
            return _markdown_table(table, columns, parts[2] if len(parts) > 2 else "", where, keyword == "table?")
        optional = parts[0].startswith("?")  # a value of a file (or a row) that only make reproduce writes
        if optional:
            parts[0] = parts[0][1:].strip()
            if not (root / Path(parts[0]).relative_to("results")).is_file():
                return NOT_IN_THIS_RUN
        if len(parts) not in (3, 4):
            raise RenderError(f"{where}: '{{{{{inner}}}}}' is not 'file | column=value | column [| format]'.")
        table = _read(root, parts[0], where)
        if optional and _matching(table, parts[1], where).empty:
            return NOT_IN_THIS_RUN
        row = _pick_row(table, parts[1], where)
        return _format(_column(row, parts[2], where), parts[3] if len(parts) == 4 else "")

    lines = template.splitlines(keepends=True)
    return "".join(
        DIRECTIVE.sub(lambda match, number=number: replace(match, number), line)
        for number, line in enumerate(lines, start=1)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--template", default="docs/results.md.in")
    parser.add_argument("--output", default="docs/results.md")
    args = parser.parse_args(argv)
    try:
        text = render(Path(args.template).read_text(), Path(args.results), args.template)
    except RenderError as error:
        print(f"render_results: {error}", file=sys.stderr)
        return 1
    page_directory = Path(args.output).parent
    for source, copy in figures_to_copy(Path(args.template).read_text(), Path(args.results)):
        if source.is_file():
            with atomic_path(page_directory / copy) as temporary:
                temporary.write_bytes(source.read_bytes())
    with atomic_path(args.output) as temporary:  # whole or not at all, mode from the umask
        temporary.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
