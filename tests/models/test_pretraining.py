"""Masked-token pre-training (transformer_mlm) and fine-tuning (transformer_finetuned): hidden letters are hidden
(the prediction at a hidden place does not read its letter), the evaluation draw is fixed, a planted motif's
letters are predicted from their neighbours better than the letters' frequencies predict them, the fine-tuned
classifier starts from the pre-trained encoder, and label_fraction keeps a share of each class's training rows."""

import numpy as np
import pytest
import torch
from fast_training import fit
from test_peptides import SPEC, peptides

from lifedl.data.sequences import PROTEIN
from lifedl.data.splits import labelled_share
from lifedl.errors import LifedlError
from lifedl.models import sequence
from lifedl.models.base import load_model
from lifedl.nn.sequence import MaskedTokenNetwork, SequenceTransformer


def _network(share=0.15, **token) -> MaskedTokenNetwork:
    torch.manual_seed(0)
    body = SequenceTransformer(16, 2, 2, 0.0, 1, 40, embedding_dim=8, n_letters=20, **token)
    return MaskedTokenNetwork(body, share)


def test_hidden_letters_are_real_letters_about_the_share_and_fixed_in_evaluation():
    network = _network(share=0.3)
    codes = torch.full((200, 40), 20)  # pad code 20
    lengths = torch.randint(1, 41, (200,))
    for row, length in enumerate(lengths):
        codes[row, :length] = torch.randint(0, 20, (int(length),))
    hidden = network.hidden_letters(codes)
    assert not (hidden & (codes == 20)).any()  # never a pad
    assert hidden.any(dim=1).all()  # at least one per sequence
    assert abs(hidden.sum() / (codes < 20).sum() - 0.3) < 0.03
    fixed = [network.hidden_letters(codes, torch.Generator().manual_seed(0)) for _ in range(2)]
    assert torch.equal(fixed[0], fixed[1]) and not torch.equal(hidden, network.hidden_letters(codes))


def test_the_prediction_at_a_hidden_place_does_not_read_its_letter():
    network = _network().eval()
    codes = torch.randint(0, 20, (3, 40))
    hidden = torch.zeros(3, 40, dtype=torch.bool)
    hidden[:, 5] = True
    changed = codes.clone()
    changed[:, 5] = (codes[:, 5] + 1) % 20
    torch.testing.assert_close(network(codes, hidden), network(changed, hidden), atol=0, rtol=0)
    # unhidden, the letter is read
    assert not torch.allclose(network(codes, hidden & False), network(changed, hidden & False))


def test_kmer_tokens_are_refused_as_they_spell_out_a_hidden_one():
    with pytest.raises(ValueError, match="one token per letter"):
        _network(embedding_k=4, token_stride=2)


def test_label_fraction_keeps_a_share_of_each_class_and_every_validation_row():
    labels = np.array(["a"] * 80 + ["b"] * 20 + ["a"] * 10 + ["b"] * 10)
    split = np.array(["train"] * 100 + ["validation"] * 20)
    kept = labelled_share(labels, split, 0.1, seed=3)
    assert kept[100:].all()
    assert (kept[:80].sum(), kept[80:100].sum()) == (8, 2)
    np.testing.assert_array_equal(kept, labelled_share(labels, split, 0.1, seed=3))
    assert not np.array_equal(kept, labelled_share(labels, split, 0.1, seed=4))
    assert kept[80:100].sum() == 2 and labelled_share(labels, split, 0.01, seed=3)[80:100].sum() == 1
    assert labelled_share(labels, split, 1.0, seed=3).all()


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    adata, _ = peptides(n=600)
    work = tmp_path_factory.mktemp("mlm")
    params = {"n_layers": 1, "embedding_dim": 8, "learning_rate": 3e-3, "max_epochs": 40, "patience": 40}
    model = fit("transformer_mlm", adata, work, roles={"labels": "label"}, **params)
    return adata, model, params, work


def test_pretraining_predicts_the_motif_letters_better_than_their_frequencies(pretrained):
    _, model, _, _ = pretrained
    metrics = model.final_metrics
    # half the peptides carry KWKLFKK (about 15 % of all letters): a hidden letter inside it is told by its
    # neighbours, random letters are not (measured: accuracy 0.159 against 0.124, 2.84 nats against 2.94)
    assert metrics["val_masked_accuracy"] > metrics["val_unigram_accuracy"] + 0.01
    assert metrics["val_masked_cross_entropy"] < metrics["val_unigram_cross_entropy"] - 0.05
    assert metrics["val_n_hidden_letters"] > 100


def test_the_finetuned_classifier_starts_from_the_pretrained_encoder(pretrained, tmp_path):
    adata, mlm, params, work = pretrained
    saved = tmp_path / "mlm.ckpt"
    mlm.save(saved)
    pretrained_model = load_model(saved)
    torch.testing.assert_close(pretrained_model.encoder_state(), mlm.trained.encoder_state())
    fine = {**params, "max_epochs": 1, "learning_rate": 1e-12}  # one step that barely moves the weights
    tuned = fit(
        "transformer_finetuned", adata, work, roles={"labels": "label"}, models={"transformer_mlm": mlm}, **fine
    )
    state = tuned.trained.network.body.state_dict()
    for name, value in mlm.trained.encoder_state().items():
        torch.testing.assert_close(state[name], value, atol=1e-6, rtol=0)
    with pytest.raises(LifedlError, match="differs from its pre-trained"):
        fit(
            "transformer_finetuned",
            adata,
            work,
            roles={"labels": "label"},
            models={"transformer_mlm": mlm},
            **{**fine, "d_model": 16},
        )


def test_a_classifier_on_a_tenth_of_the_labels_reads_a_tenth_of_the_training_rows():
    adata, _ = peptides(n=600)
    params = {**sequence_defaults(), "label_fraction": 0.1}
    setup = sequence.setup(adata, params, SPEC, seed=0, arch="transformer")
    n_train = int((adata.obs["lifedl_split"] == "train").sum())
    assert (setup.split == "train").sum() == pytest.approx(0.1 * n_train, abs=2)
    assert (setup.split == "validation").sum() == (adata.obs["lifedl_split"] == "validation").sum()


def sequence_defaults() -> dict:
    from lifedl.models import get_architecture

    return dict(get_architecture("transformer").resolve_params({}, where="test", alphabet="protein"))


assert len(PROTEIN) == 20


def test_the_learning_curve_pairs_both_arms_on_the_same_labels_per_seed(tmp_path):
    import pandas as pd

    from lifedl import steps

    adata, _ = peptides(n=400)
    adata.uns["lifedl_dataset"] = SPEC.to_uns()
    qc = tmp_path / "results/peptides/qc.h5ad"
    qc.parent.mkdir(parents=True)
    adata.write_h5ad(qc)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tiny = {"d_model": 16, "n_layers": 1, "embedding_dim": 8, "max_epochs": 2, "patience": 2}
    mlm = tmp_path / "results/peptides/models/transformer_mlm"
    steps.train(
        str(qc),
        str(mlm / "model.ckpt"),
        str(mlm / "run.json"),
        steps.TrainSettings("transformer_mlm", "peptides", tiny, 0, uri),
    )
    out = tmp_path / "results/peptides/learning_curve"
    steps.learning_curve(
        str(qc),
        str(mlm / "model.ckpt"),
        str(out / "transformer_finetuned.tsv"),
        str(out / "transformer_finetuned_runs.tsv"),
        str(tmp_path / "curve.png"),
        str(out / "work"),
        steps.TrainSettings("transformer_finetuned", "peptides", tiny, 0, uri),
        fractions=[0.3, 1.0],
        seeds=[0, 1],
    )
    runs = pd.read_csv(out / "transformer_finetuned_runs.tsv", sep="\t")
    assert len(runs) == 8 and set(runs["arm"]) == {"scratch", "pretrained"}
    labelled = runs.pivot_table(index=["seed", "fraction"], columns="arm", values="n_labelled")
    assert (labelled["scratch"] == labelled["pretrained"]).all()  # the same rows' labels for both arms
    n_train = int((adata.obs["lifedl_split"] == "train").sum())
    assert labelled.loc[(0, 0.3)].iloc[0] == pytest.approx(0.3 * n_train, abs=2)
    assert labelled.loc[(0, 1.0)].iloc[0] == n_train
    assert runs["n_test"].eq((adata.obs["lifedl_split"] == "test").sum()).all()  # scored on the test rows
    summary = pd.read_csv(out / "transformer_finetuned.tsv", sep="\t")
    assert list(summary["fraction"]) == [0.3, 1.0] and summary["n_seeds"].eq(2).all()
    both = runs.set_index(["fraction", "seed", "arm"])["auroc"]
    expected = (both.xs("pretrained", level="arm") - both.xs("scratch", level="arm")).groupby("fraction").mean()
    np.testing.assert_allclose(summary["auroc_difference"], expected.to_numpy())
    assert (tmp_path / "curve.png").stat().st_size > 0
    masked = load_model(mlm / "model.ckpt").final_metrics["val_masked_accuracy"]
    np.testing.assert_allclose(summary["pretraining_val_masked_accuracy"], masked)  # the pre-training's, beside it
