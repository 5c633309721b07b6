"""The sequence-design environment and its baselines (lifedl.tl.design): an exact optimum, rewards that add up,
and budgets of evaluations that are kept."""

import itertools

import numpy as np
import pytest

from lifedl.data.sequences import MOTIFS
from lifedl.tl.design import PWMScore, SequenceDesignEnv, greedy_hill_climbing, random_edits

SMALL = np.array([[0.7, 0.1, 0.1], [0.1, 0.1, 0.6], [0.1, 0.7, 0.1], [0.1, 0.1, 0.2]])  # A, C, G, T x 3 columns


def test_the_optimum_equals_the_best_of_every_sequence():
    score = PWMScore(SMALL)
    best = max(score(np.array(codes)) for codes in itertools.product(range(4), repeat=4))
    assert score.optimum == pytest.approx(best)
    assert score(score.optimal_sequence(4)) == pytest.approx(score.optimum)
    assert score.fraction(score.optimum) == pytest.approx(1.0) and score.fraction(score.worst) == pytest.approx(0.0)
    ctcf = PWMScore(MOTIFS["CTCF"])  # JASPAR MA0139.1: the optimum is its consensus
    assert ctcf(ctcf.optimal_sequence(25)) == pytest.approx(ctcf.optimum)


def test_rewards_add_up_to_the_change_in_score_and_episodes_end():
    score = PWMScore(MOTIFS["CTCF"])
    env = SequenceDesignEnv(score, 23, max_steps=10)
    observation, info = env.reset(seed=3)
    assert observation.shape == (92,) and observation.sum() == 23
    start, total, truncated, steps = info["score"], 0.0, False, 0
    rng = np.random.default_rng(0)
    while not truncated:
        observation, reward, terminated, truncated, info = env.step(int(rng.integers(92)))
        total, steps = total + reward, steps + 1
        assert not terminated
    assert steps == 10 and total == pytest.approx(info["score"] - start)
    observation, *_ = env.step(41)  # action 41: position 10 set to letter 1 (C)
    assert env.codes[10] == 1 and observation.reshape(23, 4).argmax(axis=1).tolist() == env.codes.tolist()


def test_baselines_keep_the_budget_and_only_improve():
    score = PWMScore(MOTIFS["CTCF"])
    for curve in (random_edits(score, 23, 500, 23, seed=1), greedy_hill_climbing(score, 23, 500, seed=1)):
        assert len(curve) == 500 and np.all(np.diff(curve) >= 0)
    # an additive landscape: greedy single edits reach the optimum of a one-window sequence
    assert greedy_hill_climbing(score, score.width, 2000, seed=0)[-1] == pytest.approx(score.optimum)
