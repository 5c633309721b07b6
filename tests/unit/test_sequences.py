"""The sequences data kind: codes, simulator, QC, the k-mer baseline, classification measures, motif comparison."""

import dataclasses

import anndata as ad
import numpy as np
import pytest
import torch

from lifedl.data.sequences import (
    MOTIFS,
    SequenceSimulationParams,
    check_sequences,
    decode,
    encode,
    gc_content,
    simulate_sequences,
    training_rows,
)
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.errors import LifedlError
from lifedl.models import kmer
from lifedl.pl.sequences import motif_filter_figure
from lifedl.tl.classification import classification_metrics
from lifedl.tl.motifs import best_matching_filter, motif_similarity, reverse_complement_matrix

SPEC = DatasetSpec(id="sim", kind="sequences", labels="label", split="split")
KMER_PARAMS = {"k_values": [1, 2, 3, 4, 5, 6], "C_values": [0.1, 1.0]}


def split(adata: ad.AnnData) -> ad.AnnData:
    """The simulated sequences with the qc rule's train / validation / test split."""
    add_splits(adata, SPEC)
    return adata


def test_encode_decode_round_trip():
    codes = encode(["ACGT", "ttga", "GgCc"])
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, [[0, 1, 2, 3], [3, 3, 2, 0], [2, 2, 1, 1]])
    assert decode(codes) == ["ACGT", "TTGA", "GGCC"]
    np.testing.assert_allclose(gc_content(codes), [0.5, 0.25, 1.0])


def test_encode_names_the_first_bad_sequence():
    with pytest.raises(LifedlError, match=r"sequence 2 has letters \['N'\].*drop"):
        encode(["ACGT", "ACGT", "ACNT", "NNNN"])
    with pytest.raises(LifedlError, match="sequence 1 has length 3.*one length"):
        encode(["ACGT", "ACG", "ACGT"])
    with pytest.raises(LifedlError, match="sequence 0"):
        encode(["ACGé"])


def test_simulator_is_seeded_and_complete():
    params = SequenceSimulationParams(n_sequences=300, length=50, seed=4)
    first, second = simulate_sequences(params), simulate_sequences(params)
    np.testing.assert_array_equal(first.X, second.X)
    assert first.obs.equals(second.obs)
    assert not np.array_equal(first.X, simulate_sequences(dataclasses.replace(params, seed=5)).X)

    assert first.X.dtype == np.uint8 and first.shape == (300, 50)
    assert list(first.var_names) == [str(i) for i in range(1, 51)]
    assert list(first.obs["label"].cat.categories) == ["negative", "positive"]
    assert (first.obs["label"] == "positive").sum() == 150
    test = first.obs["split"] == "test"
    assert test.sum() == 60 and (first.obs["label"][test] == "positive").sum() == 30  # stratified
    assert first.uns["alphabet"] == "ACGT"
    assert first.uns["motif"]["name"] == "CTCF" and first.uns["motif"]["consensus"] == "TGGCCACCAGGGGGCGCTA"
    np.testing.assert_allclose(first.uns["motif"]["pwm"], MOTIFS["CTCF"])
    assert first.uns["simulation"] == dataclasses.asdict(params)
    check_sequences(first, "simulated")


def test_positives_carry_the_motif_at_motif_start_and_negatives_a_shuffled_copy():
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=400, length=60, seed=1))
    pwm = MOTIFS["CTCF"]
    width = pwm.shape[1]
    positive = (adata.obs["label"] == "positive").to_numpy()
    starts = adata.obs["motif_start"].to_numpy()
    decoys = adata.obs["decoy_start"].to_numpy()
    assert (starts[~positive] == -1).all() and (starts[positive] >= 0).all()
    assert (decoys[positive] == -1).all() and (decoys[~positive] >= 0).all()

    def windows(rows, at):
        return np.stack([adata.X[r, s : s + width] for r, s in zip(np.flatnonzero(rows), at[rows])])

    planted, shuffled = windows(positive, starts), windows(~positive, decoys)
    probability = pwm[planted, np.arange(width)]  # each planted letter's probability in its column
    assert (probability > 0).all()  # never a letter the motif excludes

    def log_odds(instances):  # against a uniform background
        return np.log(np.clip(pwm[instances, np.arange(width)], 1e-3, None) / 0.25).sum(axis=1)

    assert log_odds(planted).mean() > log_odds(shuffled).mean() + 10
    # same letters: the shuffled copies have the planted instances' composition
    assert abs(gc_content(planted).mean() - gc_content(shuffled).mean()) < 0.03


def test_positives_and_negatives_have_matching_gc():
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=2000, length=100, seed=0))
    gc = gc_content(adata.X)
    positive = (adata.obs["label"] == "positive").to_numpy()
    assert abs(gc[positive].mean() - gc[~positive].mean()) < 0.02


@pytest.mark.parametrize(
    "change, message",
    [
        ({"length": 10}, "with motif CTCF needs sequences at least 19 long"),
        ({"positive_fraction": 1.0}, "positive_fraction must lie strictly between 0 and 1"),
        ({"test_fraction": 0.0}, "test_fraction must lie strictly between 0 and 1"),
        ({"motif": "NOPE"}, r"unknown motif\(s\) \['NOPE'\]; known motifs: \['CTCF', 'MAFK', 'POU5F1'\]"),
    ],
)
def test_simulator_rejects_impossible_params(change, message):
    with pytest.raises(ValueError, match=message):
        simulate_sequences(SequenceSimulationParams(**change))


def test_check_sequences_rejects_bad_codes():
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=20, length=30))
    bad = adata.copy()
    bad.X = bad.X.astype(np.int64)
    bad.X[3, 5] = 5
    with pytest.raises(LifedlError, match=r"data.h5ad: sequence 3 \('seq3'\) has codes outside 0..3"):
        check_sequences(bad, "data.h5ad")
    bad.X[3, 5] = 4  # the pad code, but with letters after it
    with pytest.raises(LifedlError, match=r"sequence 3 \('seq3'\) has the pad code 4 before a letter"):
        check_sequences(bad, "data.h5ad")
    bad.X[3, 5:] = 4  # padding as a suffix is a shorter sequence
    check_sequences(bad, "data.h5ad")
    with pytest.raises(LifedlError, match="data.h5ad: X has dtype float32, not integer codes"):
        check_sequences(ad.AnnData(adata.X.astype(np.float32)), "data.h5ad")
    with pytest.raises(LifedlError, match="at least 2"):
        check_sequences(adata[:1].copy(), "data.h5ad")


def test_training_rows_leave_out_test_rows_and_need_labels():
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=50, length=30)))
    codes, labels, classes, split_labels = training_rows(adata, SPEC, "cnn")
    keep = (adata.obs["lifedl_split"] != "test").to_numpy()
    np.testing.assert_array_equal(codes, adata.X[keep])
    assert classes == ["negative", "positive"] and len(labels) == keep.sum()
    assert set(split_labels) == {"train", "validation"}  # no test row, validation rows marked
    with pytest.raises(LifedlError, match="needs class labels.*'labels' column of dataset 'sim'"):
        training_rows(adata, dataclasses.replace(SPEC, labels=""), "cnn")
    with pytest.raises(LifedlError, match="obs has no column 'kind'"):
        training_rows(adata, dataclasses.replace(SPEC, labels="kind"), "cnn")
    adata.obs["one"] = "x"
    with pytest.raises(LifedlError, match="1 class"):
        training_rows(adata, dataclasses.replace(SPEC, labels="one"), "cnn")


def test_kmer_frequencies():
    frequencies = kmer.kmer_frequencies(encode(["ACGTA", "AAAAA"]), 2)
    assert frequencies.shape == (2, 16)
    # AC=1, CG=6, GT=11, TA=12 (base-4 numbers); AA=0
    expected = np.zeros((2, 16))
    expected[0, [1, 6, 11, 12]] = 0.25
    expected[1, 0] = 1.0
    np.testing.assert_allclose(frequencies, expected)


def test_kmer_baseline_chooses_k_without_seeing_test_rows():
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=600, length=60, seed=2)))
    model = kmer.setup(adata, KMER_PARAMS, SPEC, seed=0).finish(None)
    assert set(model.final_metrics) >= {"k", "val_auroc"} | {f"val_auroc_k{k}" for k in range(1, 7)}
    assert model.final_metrics["k"] in range(1, 7)

    # Scramble the test rows (sequences and labels): the fitted model must not change at all.
    scrambled = adata.copy()
    test = (scrambled.obs["split"] == "test").to_numpy()
    scrambled.X[test] = np.random.default_rng(9).integers(0, 4, size=(test.sum(), adata.n_vars))
    scrambled.obs.loc[test, "label"] = "negative"
    again = kmer.setup(scrambled, KMER_PARAMS, SPEC, seed=0).finish(None)
    assert again.final_metrics == model.final_metrics
    np.testing.assert_array_equal(again.coef, model.coef)

    probabilities = model.predict_proba(adata[test])
    assert probabilities.shape == (test.sum(), 2)
    assert classification_metrics(adata.obs["label"][test], probabilities, model.classes)["auroc"] > 0.6

    checkpoint = model.checkpoint()
    assert all(isinstance(v, (torch.Tensor, str, int, list, dict)) for v in checkpoint.values())  # no sklearn pickle
    np.testing.assert_array_equal(kmer.from_checkpoint(checkpoint).predict_proba(adata[test]), probabilities)


def test_classification_metrics_on_a_hand_made_example():
    labels = ["negative", "negative", "positive", "positive"]
    positive = np.array([0.1, 0.4, 0.35, 0.8])
    metrics = classification_metrics(labels, np.column_stack([1 - positive, positive]), ["negative", "positive"])
    assert metrics["auroc"] == pytest.approx(0.75)  # 3 of the 4 positive-negative pairs ranked right
    assert metrics["auprc"] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics["accuracy"] == pytest.approx(0.75) and metrics["n_test"] == 4

    three = classification_metrics(["a", "b", "c"], np.eye(3), ["a", "b", "c"])
    assert three["auroc"] == pytest.approx(1.0) and three["auprc"] == pytest.approx(1.0) and three["accuracy"] == 1.0


def test_motif_similarity_finds_offset_and_strand():
    pwm = MOTIFS["CTCF"]
    assert motif_similarity(pwm, pwm) == pytest.approx((1.0, 0, "+"))
    score, _, strand = motif_similarity(reverse_complement_matrix(pwm), pwm)
    assert score == pytest.approx(1.0) and strand == "-"
    assert motif_similarity(pwm[:, 3:15], pwm) == pytest.approx((1.0, 3, "+"))
    noise = np.random.default_rng(0).normal(size=(5, 4, 15))
    filters = np.concatenate([noise, pwm[None, :, 2:17] * 3 - 1])  # scaled and shifted weights: same pattern
    index, score, offset, strand = best_matching_filter(filters, pwm)
    assert (index, offset, strand) == (5, 2, "+") and score == pytest.approx(1.0)


def test_motif_filter_figure(tmp_path):
    pwm = MOTIFS["CTCF"]
    filters = np.stack([np.random.default_rng(1).normal(size=(4, 15)), reverse_complement_matrix(pwm)[:, 4:19]])
    figure = motif_filter_figure(filters, pwm, "CTCF")
    figure.savefig(tmp_path / "motif.png")
    assert (tmp_path / "motif.png").stat().st_size > 0
    assert "r = 1.00" in figure.axes[1].get_title()


def _two_compositions(seed: int = 0) -> ad.AnnData:
    """Two classes that differ only in GC content (0.4 vs 0.6), no motif: composition alone tells them apart."""
    parts = []
    for gc, name in ((0.4, "low"), (0.6, "high")):
        part = split(simulate_sequences(SequenceSimulationParams(n_sequences=300, length=60, gc=gc, seed=seed)))
        part.obs["label"] = name
        part.obs_names = [f"{name}{i}" for i in range(part.n_obs)]
        parts.append(part)
    return ad.concat(parts)


def test_gc_baseline_reads_composition_only():
    adata = _two_compositions()
    train = (adata.obs["split"] != "test").to_numpy()
    model = kmer.setup(adata, {"C": 1.0}, SPEC, seed=0, arch="gc").finish(None)
    assert model.arch == "gc" and model.coef.shape == (1, 1)
    test = adata[~train]
    assert classification_metrics(test.obs["label"], model.predict_proba(test), model.classes)["auroc"] > 0.9
    # on the composition-matched simulation (motif vs shuffled motif) GC tells nothing
    motif = split(simulate_sequences(SequenceSimulationParams(n_sequences=600, length=60, seed=1)))
    blind = kmer.setup(motif, {"C": 1.0}, SPEC, seed=0, arch="gc").finish(None)
    held_out = motif[(motif.obs["split"] == "test").to_numpy()]
    assert (
        abs(classification_metrics(held_out.obs["label"], blind.predict_proba(held_out), blind.classes)["auroc"] - 0.5)
        < 0.1
    )
    loaded = kmer.from_checkpoint(model.checkpoint())
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert loaded.arch == "gc"


def test_composition_matched_rows_take_gc_away():
    from lifedl.data.sequences import gc_content
    from lifedl.tl.classification import composition_matched_rows

    adata = _two_compositions(seed=2)
    gc, labels = gc_content(adata.X), adata.obs["label"].astype(str).to_numpy()
    keep = composition_matched_rows(gc, labels, bin_width=0.02, seed=0)
    bins = np.floor(gc[keep] / 0.02)
    for value_bin in np.unique(bins):  # every bin holds as many rows of each class
        in_bin = labels[keep][bins == value_bin]
        assert (in_bin == "low").sum() == (in_bin == "high").sum()
    assert 20 < keep.sum() < len(keep) / 2
    scores = np.column_stack([1 - gc, gc])  # GC as the score of 'high'
    everything = classification_metrics(labels, scores, ["high", "low"])["auroc"]
    matched = classification_metrics(labels[keep], scores[keep], ["high", "low"])["auroc"]
    assert abs(everything - 0.5) > 0.4 and abs(matched - 0.5) < 0.15
    np.testing.assert_array_equal(keep, composition_matched_rows(gc, labels, bin_width=0.02, seed=0))  # seeded


def _instance_at(adata, row: int, start: int, pwm) -> bool:
    """Whether the letters at ``start`` are the PWM's most probable ones at its confident columns (p > 0.9)."""
    confident = np.flatnonzero(pwm.max(axis=0) > 0.9)
    return bool((adata.X[row, start + confident] == pwm.argmax(axis=0)[confident]).all())


@pytest.mark.parametrize("task", ["which", "spacing", "order"])
def test_arrangement_tasks_plant_what_their_labels_say(task):
    from lifedl.data.sequences import MOTIFS

    motif = "CTCF+POU5F1+MAFK" if task == "which" else "POU5F1+MAFK"
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=300, length=80, task=task, motif=motif, seed=7))
    obs = adata.obs
    assert set(adata.uns["motifs"]) == set(motif.split("+"))
    counts = obs["label"].value_counts()
    assert counts.max() - counts.min() <= 1  # balanced classes
    if task == "which":
        assert set(obs["label"]) == {"CTCF", "POU5F1", "MAFK"}
        hits = [
            _instance_at(adata, i, s, MOTIFS[label])
            for i, (label, s) in enumerate(zip(obs["label"], obs["motif_start"]))
        ]
        assert np.mean(hits) > 0.8
        return
    gap = obs["second_motif_start"] - obs["motif_start"]  # start of MAFK minus start of POU5F1 (11 letters)
    if task == "spacing":
        assert (gap[obs["label"] == "gap_5"] == 11 + 5).all()
        assert (gap[obs["label"] == "other_gap"] != 11 + 5).all() and (gap[obs["label"] == "other_gap"] >= 11).all()
    else:
        assert (gap[obs["label"] == "POU5F1_first"] >= 11).all() and (gap[obs["label"] == "MAFK_first"] <= -15).all()
    # both motifs are in every sequence, where obs says (sampled instances: most carry the PWM's sure letters)
    for column, name in (("motif_start", "POU5F1"), ("second_motif_start", "MAFK")):
        hits = [_instance_at(adata, row, start, MOTIFS[name]) for row, start in enumerate(obs[column])]
        assert np.mean(hits) > 0.5


def test_simulation_task_errors_say_what_fits():
    with pytest.raises(ValueError, match="task 'order' needs two motifs"):
        simulate_sequences(SequenceSimulationParams(task="order", motif="CTCF"))
    with pytest.raises(ValueError, match="unknown task 'shape'"):
        simulate_sequences(SequenceSimulationParams(task="shape"))
    with pytest.raises(ValueError, match=r"unknown motif\(s\) \['SOX2'\]"):
        simulate_sequences(SequenceSimulationParams(task="which", motif="CTCF+SOX2"))
    with pytest.raises(ValueError, match="needs sequences at least 32 long"):
        simulate_sequences(SequenceSimulationParams(task="spacing", motif="POU5F1+MAFK", length=30))


def test_the_amino_acid_encoder_pads_unequal_lengths_and_decodes_back():
    from lifedl.data.sequences import PROTEIN, decode, encode, sequence_lengths

    codes = encode(["ACDW", "wy", "M"], alphabet=PROTEIN, pad=True)
    np.testing.assert_array_equal(codes, [[0, 1, 2, 18], [18, 19, 20, 20], [10, 20, 20, 20]])
    assert decode(codes, PROTEIN) == ["ACDW", "WY", "M"]
    np.testing.assert_array_equal(sequence_lengths(codes, PROTEIN), [4, 2, 1])
    with pytest.raises(LifedlError, match=r"sequence 'p2' has letters \['B', 'X'\] outside the protein alphabet"):
        encode(["ACD", "XAB"], ["p1", "p2"], alphabet=PROTEIN, pad=True)
    with pytest.raises(LifedlError, match="sequence 1 has length 2, but sequence 0 has length 4"):
        encode(["ACGT", "AC"])  # DNA keeps one length unless asked to pad
    with pytest.raises(LifedlError, match="sequence 1 is empty"):
        encode(["ACD", ""], alphabet=PROTEIN, pad=True)


def test_length_grouped_batches_hold_every_row_once_with_less_padding_and_the_same_order_per_epoch():
    from lifedl.data.batches import EpochShuffledBatches

    lengths = np.random.default_rng(0).integers(7, 175, 3000)
    grouped, plain = EpochShuffledBatches(3000, 64, seed=1, lengths=lengths), EpochShuffledBatches(3000, 64, seed=1)
    for sampler in (grouped, plain):
        sampler.set_epoch(2)
    batches = list(grouped)
    assert sorted(np.concatenate(batches)) == list(range(3000)) and len(batches) == len(grouped)
    padded = [lengths[b].max() * len(b) for b in batches]
    assert sum(padded) < 0.7 * sum(lengths[b].max() * len(b) for b in plain)  # less padding per epoch
    assert all(np.array_equal(a, b) for a, b in zip(batches, grouped))  # a resumed epoch sees the same batches
    grouped.set_epoch(3)
    assert not np.array_equal(batches[0], next(iter(grouped)))  # another epoch, other batches
