"""Sequences of unequal length over the 20 amino acids: padding is masked (a sequence's output does not depend on
the padding around it), the k-mer baseline reads composition + dipeptides, and each network learns a planted
peptide motif at any length."""

import numpy as np
import pandas as pd
import pytest
import torch

from lifedl.data.sequences import ALPHABET_KEY, PROTEIN, encode
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.errors import LifedlError
from lifedl.models import get_architecture, kmer, sequence
from lifedl.nn.sequence import SequenceBiLSTM, SequenceCNN, SequenceTransformer
from lifedl.tl.classification import classification_metrics

SPEC = DatasetSpec(id="peptides", kind="sequences", labels="label")
MOTIF = "KWKLFKK"  # an amphipathic, cationic stretch, as antimicrobial peptides carry


def peptides(n: int = 600, seed: int = 0):
    """Random peptides of 8-40 amino acids; half carry MOTIF at a random place (class 'amp'). Both classes draw
    their lengths alike, so only the letters tell them apart."""
    import anndata as ad

    rng = np.random.default_rng(seed)
    letters = np.array(list(PROTEIN))
    sequences, labels = [], []
    for index in range(n):
        length = int(rng.integers(len(MOTIF) + 1, 41))
        sequence = "".join(rng.choice(letters, size=length))
        if index % 2:
            start = int(rng.integers(0, length - len(MOTIF) + 1))
            sequence = sequence[:start] + MOTIF + sequence[start + len(MOTIF) :]
        sequences.append(sequence)
        labels.append("amp" if index % 2 else "other")
    codes = encode(sequences, alphabet=PROTEIN, pad=True)
    adata = ad.AnnData(
        X=codes,
        obs=pd.DataFrame({"label": pd.Categorical(labels)}, index=[f"p{i}" for i in range(n)]),
        var=pd.DataFrame(index=[str(i) for i in range(1, codes.shape[1] + 1)]),
    )
    adata.uns[ALPHABET_KEY] = PROTEIN
    add_splits(adata, SPEC)
    return adata, sequences


def _padded(sequences: list[str], width: int) -> torch.Tensor:
    codes = encode(sequences, alphabet=PROTEIN, pad=True)
    wide = np.full((len(sequences), width), len(PROTEIN), dtype=np.int64)
    wide[:, : codes.shape[1]] = codes
    return torch.as_tensor(wide)


NETWORKS = {
    "cnn": lambda width: SequenceCNN(8, 5, 8, 0.0, 2, n_letters=20),
    "cnn_embed": lambda width: SequenceCNN(8, 5, 8, 0.0, 2, embedding_dim=4, embedding_k=1, n_letters=20),
    "bilstm": lambda width: SequenceBiLSTM(8, 1, 0.0, 2, n_letters=20),
    "transformer": lambda width: SequenceTransformer(16, 2, 2, 0.0, 2, width, embedding_dim=8, n_letters=20),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_sequence_gives_one_output_whatever_padding_or_neighbours_surround_it(name):
    sequences = ["ACDEFGHIKLMNPQRSTVWYACDEFGHIKL", "KWKLFKKAGH", "MPQRSTV"]
    torch.manual_seed(0)
    network = NETWORKS[name](40).eval()
    together = network(_padded(sequences, 40))
    alone = torch.cat([network(_padded([s, "A" * 30], 40))[:1] for s in sequences])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=0)
    if name != "transformer":  # its positions are fixed to the trained width
        torch.testing.assert_close(network(_padded(sequences, 60)), together, atol=1e-6, rtol=0)
    # a padded letter would change the output: the mask is what keeps it out
    changed = _padded(sequences, 40)
    changed[2, 7] = 0
    assert not torch.allclose(network(changed)[2], together[2])


def test_the_bilstm_reads_a_padded_sequence_as_the_same_sequence_unpadded():
    torch.manual_seed(0)
    network = SequenceBiLSTM(8, 1, 0.0, 2, n_letters=20).eval()
    padded = network(_padded(["KWKLFKKAGH", "ACDEFGHIKLMNPQRSTVWY"], 20))[0]
    unpadded = network(_padded(["KWKLFKKAGH"], 10))[0]  # no padding: the plain, unpacked path
    torch.testing.assert_close(padded, unpadded, atol=1e-6, rtol=0)


def test_kmer_features_are_composition_and_dipeptides_of_the_letters_alone():
    codes = encode(["ACA", "WYWYW"], alphabet=PROTEIN, pad=True)
    features = kmer.sequence_features(codes, 2, PROTEIN, shorter_kmers=True)
    assert features.shape == (2, 20 + 400)
    a, c, w, y = (PROTEIN.index(letter) for letter in "ACWY")
    np.testing.assert_allclose(features[0, [a, c]], [2 / 3, 1 / 3])  # ACA: padding counts no letter
    np.testing.assert_allclose(features[0, 20 + a * 20 + c], 0.5)  # AC and CA, one of two dipeptides each
    np.testing.assert_allclose(features[0, 20 + c * 20 + a], 0.5)
    np.testing.assert_allclose(features[1, 20 + w * 20 + y], 0.5)  # WYWYW: WY, YW, WY, YW
    np.testing.assert_allclose(features.sum(axis=1), [2.0, 2.0])  # each block sums to 1
    with pytest.raises(LifedlError, match="choose smaller k_values for this alphabet"):
        kmer.kmer_frequencies(codes, 5, 20)


@pytest.mark.parametrize("arch", ["cnn", "bilstm", "transformer"])
def test_each_network_finds_a_planted_motif_in_peptides_of_any_length(arch):
    from test_sequence_nets import train

    adata, _ = peptides()
    sizes = {"n_filters": 16, "filter_width": 7, "n_hidden": 16, "d_model": 16, "n_heads": 2, "n_layers": 1}
    defaults = get_architecture(arch).defaults
    params = {**defaults, **{k: v for k, v in sizes.items() if k in defaults}, "learning_rate": 1e-2}
    params.update(max_epochs=15, embedding_k=1, **({"token_stride": 1} if arch == "transformer" else {}))
    setup = sequence.setup(adata, params, SPEC, seed=0, arch=arch)
    result, _ = train(setup, params)
    model = setup.finish(result)
    test = adata[adata.obs["lifedl_split"] == "test"]
    scores = classification_metrics(test.obs["label"].astype(str).to_numpy(), model.predict_proba(test), model.classes)
    assert scores["auroc"] > 0.9, scores


def test_k_mers_longer_than_the_shortest_peptide_are_refused():
    adata, _ = peptides(60)
    params = {**get_architecture("cnn_embed").defaults, "embedding_k": 9}
    with pytest.raises(LifedlError, match="the shortest sequence has 8.*params_per_dataset: peptides: cnn_embed"):
        sequence.setup(adata, params, SPEC, seed=0, arch="cnn_embed")
    params = {**get_architecture("cnn_embed").defaults, "embedding_k": 5}
    with pytest.raises(LifedlError, match=r"would embed 20\^5 k-mers of protein letters .*peptides: 1"):
        sequence.setup(adata, params, SPEC, seed=0, arch="cnn_embed")
    with pytest.raises(LifedlError, match="only DNA has a second strand"):
        sequence.setup(adata, {**get_architecture("cnn").defaults, "reverse_complement": True}, SPEC, 0, "cnn")
