"""Gene programs (gene sets) for VEGA: GMT files, and the simulator's own cell-type programs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lifedl.errors import LifedlError

DEFAULT_GMT = Path(__file__).with_name("pbmc_marker_programs.gmt")


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """GMT: one program per line, ``name<TAB>description<TAB>gene<TAB>gene...``."""
    programs = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 3:
            raise LifedlError(
                f"{path}:{number}: a GMT line needs name, description and at least one gene (tab-separated)."
            )
        programs[fields[0]] = [gene for gene in fields[2:] if gene]
    return programs


DEFAULT_PROGRAMS = "lifedl's human PBMC marker programs"


def programs_source(adata, gmt: str | Path = "") -> str:
    """Where :func:`dataset_programs` takes a data set's programs from, in words for a report."""
    if gmt:
        return str(gmt)
    return "the data set's own programs" if adata.uns.get("gene_programs") is not None else DEFAULT_PROGRAMS


def dataset_programs(adata, gmt: str | Path = "") -> dict[str, list[str]]:
    """The gene programs of a data set: ``gmt`` when given, else those the download rule stored with the data
    (``uns['gene_programs']``: a simulation's own, a datasets.tsv 'programs' file), else the PBMC marker programs."""
    stored = adata.uns.get("gene_programs")
    if stored is not None and not gmt:
        return {name: list(genes) for name, genes in stored.items()}
    return read_gmt(gmt or DEFAULT_GMT)


def program_mask(
    programs: dict[str, list[str]], gene_names: list[str], min_genes: int, source: str
) -> tuple[list[str], np.ndarray]:
    """Programs with at least ``min_genes`` of the data's genes, and their genes x programs 0/1 mask."""
    index = {gene: i for i, gene in enumerate(gene_names)}
    kept, columns = [], []
    for name, genes in programs.items():
        present = [index[g] for g in genes if g in index]
        if len(present) >= min_genes:
            column = np.zeros(len(gene_names), dtype=np.float32)
            column[present] = 1.0
            kept.append(name)
            columns.append(column)
    if not kept:
        raise LifedlError(
            f"{source}: no gene program has {min_genes} or more of the data's {len(gene_names)} genes. Give VEGA a "
            "GMT whose gene names match the data (datasets.tsv column 'programs'), or lower params.vega.min_genes."
        )
    return kept, np.stack(columns, axis=1)
