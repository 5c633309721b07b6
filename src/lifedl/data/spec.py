"""A data set's spec: one row of config/datasets.tsv, resolved once, travelling with the data file.

The download rule stores it in ``uns['lifedl_dataset']`` of raw.h5ad (and so of every file made
from it); later steps read the roles (labels, batch, condition, ...) there with
:meth:`DatasetSpec.from_adata`, not from arguments passed along every rule.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np

from lifedl.data.splits import TEST, split_of
from lifedl.errors import LifedlError

# The data kinds: each picks its reader checks, its QC, its baseline and which architectures apply.
# cells+protein: RNA counts as for cells, and the same cells' surface-protein counts in obsm['protein_counts'].
# images: tiles of microscopy images, pixels in obsm['image'] and instance masks in obsm['mask'] (lifedl.data.images).
# peaks: cells x genomic regions of chromatin accessibility, fragment counts (lifedl.data.chromatin).
# cells+peaks: RNA counts as for cells, and the same cells' region counts in obsm['peak_counts'] (10x Multiome).
DATA_KINDS = ("cells", "cells+protein", "cells+peaks", "sequences", "graphs", "images", "peaks")
UNS_KEY = "lifedl_dataset"


def stratified_test(labels, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A test mask holding ``fraction`` of each class's rows (rounded), drawn with ``rng``."""
    labels = np.asarray(labels)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        test[rows[: round(fraction * len(rows))]] = True
    return test


def kind_of(adata: ad.AnnData) -> str:
    """The data kind of an AnnData made without a spec, from what lifedl's readers leave in it: ``uns['alphabet']``
    (sequences), obs 'smiles' and no features (molecules), ``obsm['image']`` (image tiles), regions with genomic
    coordinates in var (chromatin accessibility), ``obsm['protein_counts']``
    (CITE-seq), else cells."""
    if "image" in adata.obsm:
        return "images"
    if {"chrom", "start", "end"} <= set(adata.var.columns):
        return "peaks"
    if "alphabet" in adata.uns:
        return "sequences"
    if "smiles" in adata.obs and adata.n_vars == 0:
        return "graphs"
    if "peak_counts" in adata.obsm:
        return "cells+peaks"
    return "cells+protein" if "protein_counts" in adata.obsm else "cells"


def read_uns(path) -> dict:
    """``uns`` of an h5ad file alone (no matrices read)."""
    import h5py
    from anndata.io import read_elem

    with h5py.File(path, "r") as file:
        return read_elem(file["uns"]) if "uns" in file else {}


# The spec's fields that name obs columns, and those that name a value of one (control: of condition; heldout:
# of labels): the roles a data set gives its columns (sheet columns, or lifedl.fit's ``roles``).
COLUMN_ROLES = ("labels", "batch", "condition", "split")
VALUE_ROLES = {"control": "condition", "heldout": "labels"}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One row of config/datasets.tsv."""

    id: str
    source: str = ""
    kind: str = "cells"  # the data kind, DATA_KINDS
    checksum: str = ""  # "sha256:<hex>" (preferred) or "md5:<hex>", pooch's known_hash format
    format: str = ""
    labels: str = ""  # obs column of cell types or sequence classes
    batch: str = ""  # obs column of the experimental batch
    condition: str = ""  # obs column of control / stimulated, for perturbation models
    control: str = ""  # the condition value of control cells
    # a class no model trains on: the cell type whose stimulated cells a perturbation model never sees; for
    # classifiers, the class left out of training entirely (out-of-distribution detection)
    heldout: str = ""
    split: str = ""  # obs column whose value 'test' marks rows that stay test in the data set's split
    programs: str = ""  # gene programs (GMT) for VEGA: a path, or url:... with programs_checksum
    programs_checksum: str = ""
    sheet: str = "config/datasets.tsv"  # where the row came from, for error messages
    file: str = ""  # the data file the spec was read from, for error messages

    def __post_init__(self):
        if self.kind not in DATA_KINDS:
            raise LifedlError(
                f"{self.sheet}: dataset '{self.id}' has kind '{self.kind}'; the kind must be one of {DATA_KINDS}."
            )

    @property
    def source_kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def argument(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else ""

    @property
    def where(self) -> str:
        """What an error message names: the data file, else the sheet row."""
        return self.file or f"{self.sheet}: dataset '{self.id}'"

    def is_test(self, adata: ad.AnnData) -> np.ndarray:
        """The rows the datasets sheet marks test (``obs[split] == 'test'``); none without a split column. The qc
        rule keeps them test when it draws the data set's split (``lifedl.data.splits``), which is what models and
        scores read."""
        if not self.split:
            return np.zeros(adata.n_obs, dtype=bool)
        if self.split not in adata.obs:
            raise LifedlError(
                f"{self.where}: obs has no column '{self.split}' (the dataset's split); obs has "
                f"{list(adata.obs.columns)}; set the 'split' column of dataset '{self.id}' in {self.sheet} to an obs "
                "column, or leave it empty."
            )
        return (adata.obs[self.split].astype(str) == TEST).to_numpy()

    def is_unseen_class(self, adata: ad.AnnData) -> np.ndarray:
        """Rows of the class no classifier trains on (``obs[labels] == heldout``), for out-of-distribution
        measures; none without a ``heldout`` value."""
        if not (self.heldout and self.labels in adata.obs):
            return np.zeros(adata.n_obs, dtype=bool)
        return (adata.obs[self.labels].astype(str) == self.heldout).to_numpy()

    def labelled_training_rows(self, adata: ad.AnnData, arch: str, unit: str = "row") -> tuple[np.ndarray, np.ndarray]:
        """The rows a classifier may train or tune on (not of the test split, not of the unseen class) as a boolean
        mask, and their labels as strings; an error names what is missing (no labels, unlabelled rows, one class)."""
        fix = f"set the 'labels' column of dataset '{self.id}' in {self.sheet}"
        if not self.labels:
            raise LifedlError(
                f"{self.where}: architecture '{arch}' needs class labels, but the dataset names none; {fix}."
            )
        if self.labels not in adata.obs:
            raise LifedlError(
                f"{self.where}: obs has no column '{self.labels}' (the dataset's labels); "
                f"obs has {list(adata.obs.columns)}; {fix}."
            )
        keep = (split_of(adata, self.where) != TEST) & ~self.is_unseen_class(adata)
        column = adata.obs[self.labels][keep]
        if column.isna().any():
            first = column.index[column.isna().to_numpy()][0]
            raise LifedlError(
                f"{self.where}: {int(column.isna().sum())} {unit}(s) without a label in obs['{self.labels}'] (first: "
                f"'{first}'); label every {unit} or drop the unlabelled ones."
            )
        labels = column.astype(str).to_numpy()
        classes = sorted(set(labels))
        if len(classes) < 2:
            left_out = "test rows" + (f" and the held-out class '{self.heldout}'" if self.heldout else "")
            raise LifedlError(
                f"{self.where}: obs['{self.labels}'] has {len(classes)} class(es) {classes} among the {len(labels)} "
                f"training {unit}s ({left_out} left out); a classifier needs at least 2: give it {unit}s of two or "
                "more classes, or name another labels column."
            )
        return keep, labels

    def to_uns(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("sheet", "file")}

    @classmethod
    def from_row(cls, row, sheet: str = "config/datasets.tsv") -> DatasetSpec:
        """From a datasets-sheet row (a mapping); columns that are not spec fields are ignored, empty kind = cells."""
        fields = {
            k: str(v) for k, v in dict(row).items() if k in cls.__dataclass_fields__ and k not in ("sheet", "file")
        }
        fields["kind"] = fields.get("kind") or "cells"
        return cls(**fields, sheet=sheet)

    def with_roles(self, adata: ad.AnnData, roles: dict[str, str], where: str) -> DatasetSpec:
        """This spec with ``roles`` ({role: obs column or value}) set, each checked against ``adata`` (``where``:
        what the roles came from, e.g. "lifedl.fit's roles"): an unknown role, or a column or value the data
        lacks, is an error naming it and what there is."""
        known = (*COLUMN_ROLES, *VALUE_ROLES)
        unknown = sorted(set(roles) - set(known))
        if unknown:
            raise LifedlError(f"{where}: unknown role(s) {unknown}; the roles are {list(known)}.")
        for role, column in roles.items():
            if role in COLUMN_ROLES and column and column not in adata.obs:
                raise LifedlError(
                    f"{where}: {role}='{column}' names no obs column of the data, which has "
                    f"{list(adata.obs.columns)}; name one of those, or leave '{role}' out."
                )
        for role, of in VALUE_ROLES.items():
            value, column = roles.get(role), roles.get(of) or getattr(self, of)
            if value and column in adata.obs and value not in set(adata.obs[column].astype(str)):
                values = sorted(set(adata.obs[column].astype(str)))[:10]
                raise LifedlError(f"{where}: {role}='{value}' is not a value of obs['{column}'] ({of}): {values}.")
        return dataclasses.replace(self, **roles, sheet=where)

    @classmethod
    def from_adata(cls, adata: ad.AnnData, file: str = "", dataset: str = "") -> DatasetSpec:
        """The spec stored with the data (``uns['lifedl_dataset']``), or an empty one (no roles) of the kind the
        data's contents show (:func:`kind_of`)."""
        spec = cls._from_uns(adata.uns, file, dataset)
        return spec if adata.uns.get(UNS_KEY) else dataclasses.replace(spec, kind=kind_of(adata))

    @classmethod
    def from_file(cls, path, dataset: str = "") -> DatasetSpec:
        """The spec stored in an h5ad file, read without its matrices."""
        return cls._from_uns(read_uns(path), path, dataset)

    @classmethod
    def _from_uns(cls, uns, file, dataset: str) -> DatasetSpec:
        stored = dict(uns.get(UNS_KEY, {}) or {})
        spec = cls.from_row(stored) if stored else cls(id=dataset or "data")
        return dataclasses.replace(spec, file=str(file))
