"""Peptide figures: amino-acid logos (20 letters, up to log2 20 bits), filters ranked by their information where no
motif database exists, attention cut to each peptide's own length, composition and length per class."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from lifedl.data.sequences import ALPHABET_KEY, PROTEIN, encode


def test_a_sharp_filter_ranks_above_a_flat_one_and_is_drawn_as_an_amino_acid_logo():
    from lifedl.pl.sequences import filter_match_figure
    from lifedl.tl.motifs import rank_filters

    rng = np.random.default_rng(0)
    filters = rng.normal(0, 0.01, size=(14, 20, 9))  # nearly flat: little information
    filters[3, PROTEIN.index("K"), :] = 3.0  # a run of lysines
    ranked = pd.DataFrame(rank_filters(filters))
    assert ranked["filter"].iloc[0] == 3 and ranked["best_match"].eq("").all()
    assert ranked["best_score"].iloc[0] == pytest.approx(9 * np.log2(20))  # one letter per column: all the bits
    assert ranked["best_score"].iloc[0] > 2 * ranked["best_score"].iloc[1]  # noise spreads over ~10 letters
    figure = filter_match_figure(filters, ranked, {}, alphabet=PROTEIN)
    shown = [ax for ax in figure.axes if ax.get_visible()]
    assert len(shown) == 12 and shown[0].get_title().startswith("filter 3:")
    assert shown[0].get_ylim()[1] == pytest.approx(np.log2(20))
    assert shown[0].get_xlim() == (-0.5, 8.5)


def test_the_attention_of_a_peptide_is_cut_to_its_letters():
    from lifedl.pl.sequences import attention_figure

    maps = np.random.default_rng(1).dirichlet(np.ones(12), size=(1, 2, 2, 12))  # layers x examples x heads x L x L
    figure = attention_figure(maps, [None, None], ["a", "b"], letters=["KWKLF", "ACDEFGHIK"])
    top = figure.axes[:2]
    assert [ax.images[0].get_array().shape for ax in top] == [(5, 5), (9, 9)]
    bottom = figure.axes[2]
    assert [label.get_text() for label in bottom.get_xticklabels()] == list("KWKLF")
    assert "planted motif" not in figure._suptitle.get_text()


def test_learned_amino_acid_vectors_are_compared_within_one_chemistry():
    from lifedl.pl.sequences import kmer_embedding_figure

    figure = kmer_embedding_figure(np.random.default_rng(2).normal(size=(20, 8)), 1, PROTEIN)
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == list(PROTEIN)
    assert "one chemistry" in figure.axes[1].get_legend().get_texts()[1].get_text()


def test_peptide_qc_shows_length_and_composition_per_class():
    from lifedl.pl.figures import sequence_composition_figures

    sequences = ["KWKLFKKAG", "KKLLKKLLKKW", "MSTNPQ", "ACDEFGHIKLMNPQ"]
    adata = ad.AnnData(X=encode(sequences, alphabet=PROTEIN, pad=True))
    adata.obs["label"] = pd.Categorical(["AMP", "AMP", "UniProt", "UniProt"])
    adata.uns[ALPHABET_KEY] = PROTEIN
    lengths, letters = sequence_composition_figures(adata, "label")
    assert lengths.axes[0].get_xlabel() == "length (letters)"
    assert [label.get_text() for label in letters.axes[0].get_xticklabels()] == list(PROTEIN)
    bars = [patch.get_height() for patch in letters.axes[0].patches]
    assert len(bars) == 40 and sum(bars) == pytest.approx(2.0)  # each class's letter shares sum to 1
