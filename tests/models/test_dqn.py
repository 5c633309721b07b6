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
