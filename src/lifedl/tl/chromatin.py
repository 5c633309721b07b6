"""The field's baseline for single-cell chromatin accessibility: TF-IDF and latent semantic indexing (LSI), as
Signac, ArchR and muon compute them, fitted on training cells and applied to any others.

TF-IDF as muon's ``atac.pp.tfidf`` defaults: log(1 + 1e4 * counts / the cell's total) * log(1 + n_cells / the
region's total), the inverse document frequency taken from the cells it is fitted on. LSI: the truncated SVD of
that matrix, each component's cell scores standardised (muon's ``atac.tl.lsi`` with ``scale_embeddings``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

SCALE_FACTOR = 1e4


def inverse_document_frequency(counts) -> np.ndarray:
    """log(1 + n_cells / each region's total count) over these cells (a region seen nowhere: as if seen once)."""
    totals = np.asarray(counts.sum(axis=0)).ravel().astype(np.float64)
    return np.log1p(counts.shape[0] / np.maximum(totals, 1.0))


def tfidf(counts, idf: np.ndarray) -> sp.csr_matrix:
    """TF-IDF of cells x regions ``counts`` with a given inverse document frequency (cells without a fragment
    stay zero)."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    term = sp.diags(1.0 / np.maximum(totals, 1.0)) @ counts * SCALE_FACTOR
    term.data = np.log1p(term.data)
    return sp.csr_matrix(term @ sp.diags(idf))


@dataclasses.dataclass
class LSI:
    """TF-IDF + truncated SVD fitted on training cells; ``transform`` places other cells in the same space."""

    idf: np.ndarray
    loadings: np.ndarray  # regions x components (V)
    singular_values: np.ndarray
    mean: np.ndarray  # of the training cells' scores, per component
    sd: np.ndarray
    depth_correlation: np.ndarray  # of each component's scores with log depth (Signac drops the first if high)

    @classmethod
    def fit(cls, counts, n_components: int, seed: int = 0) -> LSI:
        from scipy.sparse.linalg import svds

        idf = inverse_document_frequency(counts)
        matrix = tfidf(counts, idf)
        k = min(n_components, min(matrix.shape) - 1)
        u, s, vt = svds(matrix, k=k, random_state=seed)
        order = np.argsort(-s)
        u, s, vt = u[:, order], s[order], vt[order]
        signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])  # a fixed sign per component
        u, vt = u * signs, vt * signs[:, None]
        depth = np.log1p(np.asarray(sp.csr_matrix(counts).sum(axis=1)).ravel())
        correlation = np.array([np.corrcoef(u[:, c], depth)[0, 1] if u[:, c].std() > 0 else 0.0 for c in range(k)])
        return cls(idf, vt.T, s, u.mean(axis=0), u.std(axis=0) + 1e-12, correlation)

    def scores(self, counts) -> np.ndarray:
        """Cells' standardised component scores: U of new cells is TF-IDF x V / S."""
        u = tfidf(counts, self.idf) @ self.loadings / self.singular_values
        return (np.asarray(u) - self.mean) / self.sd
