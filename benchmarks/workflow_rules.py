"""Time and memory of `make run` per rule (issue part 3), from the files Snakemake already writes.

Every rule of the workflow has a ``benchmark:`` directive writing results/{dataset}/benchmarks/*.tsv
(the report, over all data sets: results/logs/benchmarks/report.tsv)
(wall seconds ``s``, ``max_rss`` in MB, ``cpu_time``, ...; one row per repeat). This collects them
into results/benchmarks/workflow_jobs.tsv (one row per job) and results/benchmarks/workflow_rules.tsv
(per dataset and rule: jobs, summed and largest wall time, largest max_rss, summed CPU time),
results/benchmarks/workflow_rule_totals.tsv (per rule over all data sets) and plots
the per-rule sums. Which rule wrote a file is read from the ``benchmark:`` paths in
workflow/rules/*.smk, so the rule names are the workflow's own. It runs nothing: run `make run` first.

Jobs run side by side on several cores, so a dataset's summed job time is more than the wall time of
`make run`; the sum is what the rules cost.

    python benchmarks/workflow_rules.py             # reads results/*/benchmarks/*.tsv
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd
from common import REPO, output_dir

RULE = re.compile(r"^rule\s+(\w+)\s*:", re.MULTILINE)
BENCHMARK = re.compile(r"^\s+benchmark:\s*\n\s+(?:\w+\()?\"([^\"]+)\"", re.MULTILINE)
WILDCARD = re.compile(r"\{(\w+)(?:,[^}]*)?\}")
MEASURES = ["s", "max_rss", "cpu_time", "mean_load", "io_in", "io_out"]


def rule_benchmark_patterns(rules_dir: Path) -> list[tuple[str, re.Pattern, int]]:
    """(rule, regex on the path below results/, length of the pattern's literal text) for each rule with a
    ``benchmark:`` path under results/."""
    patterns = []
    for smk in sorted(Path(rules_dir).glob("*.smk")):
        text = smk.read_text()
        starts = [m.start() for m in RULE.finditer(text)] + [len(text)]
        for match, end in zip(RULE.finditer(text), starts[1:]):
            benchmark = BENCHMARK.search(text, match.end(), end)
            if benchmark is None or not benchmark.group(1).startswith("results/"):
                continue
            path = benchmark.group(1).removeprefix("results/")
            regex, literal, position = "", 0, 0
            for wildcard in WILDCARD.finditer(path):
                regex += re.escape(path[position : wildcard.start()]) + f"(?P<{wildcard.group(1)}>[^/]+)"
                literal += wildcard.start() - position
                position = wildcard.end()
            regex += re.escape(path[position:])
            literal += len(path) - position
            patterns.append((match.group(1), re.compile(regex), literal))
    return patterns


def identify(relative_path: str, patterns) -> dict[str, str]:
    """Rule and wildcards of one benchmark file; the most specific pattern wins; unknown files keep their name."""
    matches = [(literal, rule, m) for rule, regex, literal in patterns if (m := regex.fullmatch(relative_path))]
    if not matches:
        return {"rule": Path(relative_path).stem, "known_rule": False}
    _, rule, match = max(matches, key=lambda found: found[0])
    return {"rule": rule, "known_rule": True, **match.groupdict()}


def collect_jobs(results_dir: Path, rules_dir: Path) -> pd.DataFrame:
    """One row per job (benchmark file): its dataset, rule, wildcards and measures (mean over repeats)."""
    results_dir, patterns = Path(results_dir), rule_benchmark_patterns(rules_dir)
    rows = []
    for path in sorted(results_dir.glob("*/benchmarks/*.tsv")):
        table = pd.read_csv(path, sep="\t")
        measures = {c: pd.to_numeric(table[c], errors="coerce").mean() for c in MEASURES if c in table.columns}
        identity = identify(path.relative_to(results_dir).as_posix(), patterns)
        # A rule over all data sets (the report) writes below results/logs/: it belongs to no data set.
        workflow_wide = identity["known_rule"] and not identity.get("dataset") and path.parent.parent.name == "logs"
        identity.setdefault("dataset", "(all data sets)" if workflow_wide else path.parent.parent.name)
        rows.append({**identity, "job": path.stem, "repeats": len(table), **measures, "file": str(path)})
    columns = ["dataset", "rule", "arch", "job", "repeats", *MEASURES, "known_rule", "file"]
    jobs = pd.DataFrame(rows, columns=columns)
    return jobs.rename(columns={"s": "seconds", "max_rss": "max_rss_mb", "cpu_time": "cpu_seconds"})


def per_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and rule: number of jobs, summed, mean and largest wall time, largest RSS, summed CPU time;
    slowest rules first within each dataset."""
    table = jobs.groupby(["dataset", "rule"], as_index=False).agg(
        jobs=("job", "count"),
        total_seconds=("seconds", "sum"),
        mean_seconds=("seconds", "mean"),
        max_seconds=("seconds", "max"),
        max_rss_mb=("max_rss_mb", "max"),
        total_cpu_seconds=("cpu_seconds", "sum"),
    )
    table["share_of_dataset"] = table["total_seconds"] / table.groupby("dataset")["total_seconds"].transform("sum")
    return table.sort_values(["dataset", "total_seconds"], ascending=[True, False], ignore_index=True)


def rule_totals(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule over every data set (what the README's run-time table shows), slowest first, and a total row."""
    table = jobs.groupby("rule", as_index=False).agg(
        jobs=("job", "count"),
        total_seconds=("seconds", "sum"),
        max_seconds=("seconds", "max"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    table = table.sort_values("total_seconds", ascending=False, ignore_index=True)
    total = {
        "rule": "all",
        "jobs": table["jobs"].sum(),
        "total_seconds": table["total_seconds"].sum(),
        "max_seconds": table["max_seconds"].max(),
        "max_rss_mb": table["max_rss_mb"].max(),
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def rules_figure(table: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = table.pivot(index="rule", columns="dataset", values="total_seconds").fillna(0.0)
    wide = wide.loc[wide.sum(axis=1).sort_values().index]
    fig, axis = plt.subplots(figsize=(8, 0.4 * len(wide) + 1.5))
    wide.plot.barh(ax=axis)
    axis.set(xlabel="summed wall time of the rule's jobs (s)", ylabel="", title="make run: time per rule")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(REPO / "results"), help="the workflow's results directory")
    parser.add_argument("--rules", default=str(REPO / "workflow" / "rules"))
    parser.add_argument("--quick", action="store_true", help="write under results/benchmarks/quick")
    parser.add_argument("--out-dir", help="default results/benchmarks (--quick: results/benchmarks/quick)")
    args = parser.parse_args(argv)
    from lifedl.io import save_figure, write_tsv

    jobs = collect_jobs(Path(args.results), Path(args.rules))
    if jobs.empty:
        print(f"no benchmark files under {args.results}/*/benchmarks/: run `make run` first", file=sys.stderr)
        return 1
    unknown = sorted(set(jobs.loc[~jobs["known_rule"], "file"]))
    if unknown:
        print(f"{len(unknown)} file(s) match no rule's benchmark path (kept under their file name): {unknown}")
    table = per_rule(jobs)
    out_dir = output_dir(args.out_dir, args.quick)
    write_tsv(jobs.round(4), out_dir / "workflow_jobs.tsv")
    write_tsv(table.round(4), out_dir / "workflow_rules.tsv")
    write_tsv(rule_totals(jobs).round(1), out_dir / "workflow_rule_totals.tsv")
    save_figure(rules_figure(table), out_dir / "workflow_rules.png")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        print(table.round(2).to_string(index=False))
    for dataset, seconds in table.groupby("dataset")["total_seconds"].sum().items():
        print(
            f"{dataset}: {seconds:.1f} s summed over {int(table.loc[table['dataset'] == dataset, 'jobs'].sum())} jobs"
        )
    print(f"wrote {out_dir / 'workflow_rules.tsv'}, {out_dir / 'workflow_jobs.tsv'}, {out_dir / 'workflow_rules.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
