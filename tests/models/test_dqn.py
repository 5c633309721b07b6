"""The deep Q-network designer on a small motif: its TD loss falls, it finds the optimum, and the trained policy
beats random edits."""

import numpy as np
import pytest

from lifedl.data.sequences import MOTIFS
from lifedl.data.spec import DatasetSpec
from lifedl.models import dqn, get_architecture
from lifedl.models.base import FitResult
from lifedl.tl.design import PWMScore, random_edits

MOTIF = MOTIFS["MAFK"][:, :6]  # six columns of JASPAR MA0496.1: a small environment


@pytest.fixture(scope="module")
def trained():
    import anndata as ad

    adata = ad.AnnData(uns={"motif": {"name": "MAFK6", "pwm": MOTIF}})
    params = get_architecture("dqn").resolve_params({"episodes": 120, "n_hidden": 64, "warmup_steps": 100})
    setup = dqn.setup(adata, params, DatasetSpec(id="toy", kind="sequences"), seed=0)
    logged = []
    metrics = setup.learn(lambda values, episode: logged.append(values))
    empty = np.array([], dtype=np.int64)
    return setup.finish(FitResult(metrics, empty, empty)), logged


def test_td_loss_falls_and_the_optimum_is_found(trained):
    model, logged = trained
    losses = [entry["train/loss"] for entry in logged if not np.isnan(entry["train/loss"])]
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    assert model.length == 6 and len(model.training_best) == 120 * 6  # the motif's width; an edit per letter
    assert model.final_metrics["best_fraction"] == pytest.approx(1.0)


def test_the_trained_policy_beats_random_edits(trained):
    model, _ = trained
    score = PWMScore(MOTIF)
    _, scores = model.design(20, seed=1)
    policy = np.mean([score.fraction(value) for value in scores])
    walks = [random_edits(score, model.length, model.episode_steps, model.episode_steps, seed) for seed in range(20)]
    random_policy = np.mean([score.fraction(walk[-1]) for walk in walks])  # the best of one episode's random edits
    assert policy > random_policy + 0.1 and policy >= 0.9


def test_a_data_set_without_a_motif_names_the_fix():
    import anndata as ad

    from lifedl.errors import LifedlError

    params = get_architecture("dqn").resolve_params({})
    with pytest.raises(LifedlError, match="set params.dqn.motif to one of"):
        dqn.setup(ad.AnnData(), params, DatasetSpec(id="x", kind="sequences"), seed=0)


@pytest.fixture(scope="module")
def oracle_designer(tmp_path_factory):
    """A CNN trained on planted CTCF sites, then dqn_oracle rewarded by its probability of 'positive'."""
    import lifedl
    from lifedl.data.sequences import SequenceSimulationParams, simulate_sequences

    adata = simulate_sequences(SequenceSimulationParams(n_sequences=600, length=40, seed=0))
    roles = {"labels": "label", "split": "split"}
    work = tmp_path_factory.mktemp("oracle")
    cnn = lifedl.fit(adata, "cnn", work_dir=work, roles=roles, learning_rate=5e-3, max_epochs=15, patience=15)
    designer = lifedl.fit(
        adata, "dqn_oracle", work_dir=work, roles=roles, models={"cnn": cnn}, episodes=60, warmup_steps=100
    )
    return cnn, designer


def test_the_oracle_designer_is_rewarded_by_the_cnn_and_keeps_it(oracle_designer):
    import io

    import torch

    from lifedl.models.base import model_from_state, model_state

    cnn, designer = oracle_designer
    assert isinstance(designer.score, dqn.OracleScore) and designer.oracle is cnn.trained
    optimum = designer.pwm_score.optimal_sequence(designer.length)  # CTCF's best letters: the oracle should agree
    rng = np.random.default_rng(0)
    random_sequences = rng.integers(0, 4, (50, designer.length))
    random_probability = np.mean(designer.score.fraction([designer.score(codes) for codes in random_sequences]))
    assert designer.score.fraction(designer.score(optimum)) > 0.9 > random_probability
    # the reward is the oracle's: the training's best is scored by the CNN and beats a random sequence
    assert designer.final_metrics["best_fraction"] == pytest.approx(designer.score.fraction(designer.training_best[-1]))
    assert designer.final_metrics["best_fraction"] > random_probability
    buffer = io.BytesIO()
    torch.save(model_state(designer.trained), buffer)
    buffer.seek(0)
    loaded = model_from_state(torch.load(buffer, weights_only=False))
    assert loaded.oracle.classes == cnn.classes and loaded.score(optimum) == pytest.approx(designer.score(optimum))


def test_an_oracle_class_the_cnn_does_not_know_names_the_fix(oracle_designer):
    from lifedl.errors import LifedlError

    cnn, _ = oracle_designer
    with pytest.raises(LifedlError, match=r"oracle_class 'bound' is not a class of the cnn oracle .*'positive'"):
        dqn.OracleScore(cnn.trained, "bound", "sim.h5ad")


def test_the_oracle_designer_without_its_cnn_names_the_fix():
    import anndata as ad

    from lifedl.errors import LifedlError

    architecture = get_architecture("dqn_oracle")
    adata = ad.AnnData(uns={"motif": {"name": "MAFK6", "pwm": MOTIF}})
    with pytest.raises(LifedlError, match=r"uses the trained model of \['cnn'\].*models=\{'cnn': model\}"):
        architecture.setup(adata, architecture.resolve_params({}), DatasetSpec(id="x", kind="sequences"), seed=0)


def test_the_agent_is_tuned_in_another_environment_than_the_scored_one(tmp_path, capsys):
    import anndata as ad

    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    adata = ad.AnnData(uns={"motif": {"name": "MAFK6", "pwm": MOTIF}})
    params = get_architecture("dqn").resolve_params(
        {"episodes": 20, "warmup_steps": 50, "search": {"gamma": [0.5, 0.9]}, "search_trial": {"motif": "POU5F1"}}
    )
    model = fit_architecture(adata, "dqn", params, TrainingContext(seed=0, work_dir=tmp_path), DatasetSpec(id="t"))
    printed = capsys.readouterr().out
    assert "search 2/2" in printed and "chosen in {'motif': 'POU5F1'}" in printed
    assert model.motif_name == "MAFK6" and model.final_metrics["search_settings"] == 2  # scored where it was not tuned
    assert model.params["gamma"] in (0.5, 0.9) and model.params["search"] == {}
