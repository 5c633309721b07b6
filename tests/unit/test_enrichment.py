import numpy as np
import pytest

from lifedl.data.programs import DEFAULT_GMT
from lifedl.errors import LifedlError
from lifedl.tl.enrichment import enrichment_summary, loading_enrichment

GENES = [f"g{i}" for i in range(200)]
PROGRAMS = {"first": GENES[:8], "second": GENES[100:108], "absent": ["not_in_data"]}


def _loadings(seed=0):
    """Factor 0 raises the 'first' program's genes, factor 1 lowers the 'second''s; the rest is noise."""
    loadings = np.random.default_rng(seed).normal(0, 0.1, size=(len(GENES), 3))
    loadings[:8, 0] += 1.0
    loadings[100:108, 1] -= 1.0
    return loadings


def test_a_factor_is_matched_to_the_program_its_top_genes_form_in_either_sign():
    table = loading_enrichment(_loadings(), GENES, PROGRAMS, n_top=10).set_index(["factor", "direction"])
    assert len(table) == 6  # three factors, two signs
    assert table.loc[(0, "positive"), "best_program"] == "first" and table.loc[(0, "positive"), "overlap"] == 8
    assert table.loc[(1, "negative"), "best_program"] == "second"
    assert table.loc[(0, "positive"), "p_adjusted"] < 1e-6  # 8 of 8 in a top 10 of 200 genes
    # noise factors: nothing passes the correction over 3 factors x 2 signs x 2 programs
    assert (table.loc[2, "p_adjusted"] > 0.05).all()
    assert (table["p_adjusted"] >= table["p_value"]).all()


def test_the_summary_counts_significant_factor_signs_and_programs():
    noise = np.random.default_rng(1).normal(size=(len(GENES), 3))
    tables = {
        "pca": loading_enrichment(noise, GENES, PROGRAMS, n_top=10),
        "ldvae": loading_enrichment(_loadings(), GENES, PROGRAMS, n_top=10),
    }
    summary = enrichment_summary(tables).set_index("arch")
    assert summary.loc["ldvae", "significant_factor_signs"] == 2
    assert summary.loc["ldvae", "programs"] == "first,second"
    assert summary.loc["pca", "significant_factor_signs"] == 0


def test_loadings_that_do_not_match_the_genes_or_programs_with_no_shared_gene_are_errors():
    with pytest.raises(LifedlError, match="do not match 200 genes"):
        loading_enrichment(_loadings()[:-1], GENES, PROGRAMS)
    with pytest.raises(LifedlError, match="shares a gene"):
        loading_enrichment(_loadings(), GENES, {"absent": ["x"]})
    with pytest.raises(LifedlError, match="n_top"):
        loading_enrichment(_loadings(), GENES, PROGRAMS, n_top=0)


def test_mouse_genes_against_the_human_programs_get_a_note_not_an_empty_table(tmp_path):
    """On mouse cells the enrichment table was empty without a word (only a log said why)."""
    import anndata as ad
    import pandas as pd

    from lifedl import steps

    genes = [f"Gm{i}" for i in range(40)]  # mouse-style names: none in the human PBMC programs
    embedding = ad.AnnData(np.zeros((5, 40), dtype=np.float32), var=pd.DataFrame(index=genes))
    embedding.varm["loadings_pca"] = np.random.default_rng(0).normal(size=(40, 4))
    embedding.write_h5ad(tmp_path / "pca.h5ad")
    summary, factors = tmp_path / "enrichment.tsv", tmp_path / "factors.tsv"
    steps.loadings_enrichment({"pca": str(tmp_path / "pca.h5ad")}, str(summary), str(factors), n_factors=4)
    row = pd.read_csv(summary, sep="\t").set_index("arch").loc["pca"]
    assert (
        "lifedl's human PBMC marker programs" in row["note"] and "shares a gene with the data's 40 genes" in row["note"]
    )
    assert "datasets.tsv column 'programs'" in row["note"]
    assert "species: human" in DEFAULT_GMT.read_text().splitlines()[0]  # the shipped programs say whose they are
