"""The qc rule (workflow/rules/qc.smk): QC by data kind, then the rows split once into train / validation / test."""

from __future__ import annotations

from collections.abc import Mapping

from lifedl.io import read_h5ad_counts, save_figure, write_h5ad
from lifedl.steps.common import read_with_spec


def qc(
    raw: str,
    output: str,
    metrics_figure: str,
    features_figure: str,
    params: Mapping[str, float],
    split: Mapping[str, float] | None = None,
) -> None:
    """QC by data kind: cells get cell/gene filters and HVG selection; sequences their checks and composition;
    molecules their SMILES checks and the property per split; image tiles their masks. Then every kind's rows are split once into
    train / validation / test (``split``: config 'split', :mod:`lifedl.data.splits`)."""
    from lifedl.data.spec import DatasetSpec
    from lifedl.data.splits import SplitParams, add_splits, describe

    kind = DatasetSpec.from_file(raw).kind
    if kind == "graphs":
        from lifedl.pl.figures import molecule_qc_figures
        from lifedl.pp.graphs import graph_qc

        adata, spec = read_with_spec(raw)
        graph_qc(adata, spec)
        for figure, path in zip(molecule_qc_figures(adata, spec.labels, spec.split), (metrics_figure, features_figure)):
            save_figure(figure, path)
    elif kind == "peaks":
        from lifedl.pl.figures import peak_qc_figures
        from lifedl.pp.chromatin import peak_qc

        raw_cells, spec = read_with_spec(raw)
        adata = peak_qc(raw_cells, params["min_genes"], params["min_cells"], params["n_top_genes"], spec.where)
        for figure, path in zip(peak_qc_figures(adata), (metrics_figure, features_figure)):
            save_figure(figure, path)
    elif kind == "images":
        from lifedl.pl.images import image_qc_figures
        from lifedl.pp.images import image_qc

        adata, spec = read_with_spec(raw)
        image_qc(adata, spec)
        for figure, path in zip(image_qc_figures(adata, spec.labels), (metrics_figure, features_figure)):
            save_figure(figure, path)
    elif kind == "sequences":
        from lifedl.pl.figures import sequence_composition_figures
        from lifedl.pp.sequences import sequence_qc

        adata, spec = read_with_spec(raw)
        sequence_qc(adata, spec)
        for figure, path in zip(sequence_composition_figures(adata, spec.labels), (metrics_figure, features_figure)):
            save_figure(figure, path)
    else:
        from lifedl.pl.figures import hvg_figure, qc_metrics_figure
        from lifedl.pp import QCParams, run_qc

        raw_cells = read_h5ad_counts(raw)
        qc_params = QCParams(**params)
        adata = run_qc(raw_cells, qc_params, source=raw)  # also annotates raw_cells' obs with the QC metrics
        save_figure(qc_metrics_figure(raw_cells, qc_params.__dict__), metrics_figure)
        save_figure(hvg_figure(adata), features_figure)
        spec = DatasetSpec.from_adata(adata, file=raw)
    counts = add_splits(adata, spec, SplitParams.from_config(split))
    print(f"{spec.id}: rows split into {describe(counts)}", flush=True)
    write_h5ad(adata, output)
