"""Designing a DNA sequence by point edits, with a known optimum: the reinforcement-learning task of seed 001.

The score of a sequence is its best window under a position weight matrix (JASPAR's letter probabilities as
log-odds against a uniform background), so the optimum is exact: the best letter in every column. Scores are
reported as the fraction of the way from the worst window (the worst letter in every column) to the optimum.

:class:`SequenceDesignEnv` is a `gymnasium` environment: the state is the one-hot sequence, an action sets one
position to one letter (length x 4 actions), the reward is the change in score, and an episode is
``max_steps`` edits from a random sequence. Every step is one evaluation of the score; the baselines
(:func:`random_edits`, :func:`greedy_hill_climbing`) spend the same budget of evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import gymnasium as gym
import numpy as np

BACKGROUND = 0.25  # uniform letter background of the log-odds
PSEUDOCOUNT = 1e-3  # keeps log(0) out of JASPAR columns with an absent letter


class PWMScore:
    """Best-window log-odds of a 4 x width letter-probability matrix (rows A, C, G, T) on integer codes."""

    def __init__(self, pwm: np.ndarray):
        pwm = np.asarray(pwm, dtype=float)
        probabilities = (pwm + PSEUDOCOUNT) / (pwm + PSEUDOCOUNT).sum(axis=0, keepdims=True)
        self.log_odds = np.log(probabilities / BACKGROUND)  # 4 x width
        self.width = self.log_odds.shape[1]
        self.optimum = float(self.log_odds.max(axis=0).sum())
        self.worst = float(self.log_odds.min(axis=0).sum())

    def windows(self, codes: np.ndarray) -> np.ndarray:
        """The log-odds score of every window of the sequence."""
        codes = np.asarray(codes)
        if len(codes) < self.width:
            raise ValueError(f"a sequence of {len(codes)} letters is shorter than the motif ({self.width})")
        columns = np.arange(self.width)
        starts = range(len(codes) - self.width + 1)
        return np.array([self.log_odds[codes[start : start + self.width], columns].sum() for start in starts])

    def __call__(self, codes: np.ndarray) -> float:
        return float(self.windows(codes).max())

    def aligned_frequencies(self, designs: np.ndarray) -> np.ndarray:
        """4 x width letter frequencies of the designs' best windows: what the designs put where the motif goes."""
        counts = np.zeros((4, self.width))
        for codes in designs:
            start = int(self.windows(codes).argmax())
            counts[codes[start : start + self.width], np.arange(self.width)] += 1
        return counts / max(1, len(designs))

    def fraction(self, score):
        """The score (a number or an array of them) as the fraction of the way from the worst window to the optimum
        (1 = the optimum)."""
        return (score - self.worst) / (self.optimum - self.worst)

    def sequence_fractions(self, designs: np.ndarray) -> np.ndarray:
        """Each sequence's score (its best window) as the fraction of the way to the optimum."""
        return self.fraction(np.array([self(codes) for codes in designs]))

    def optimal_sequence(self, length: int) -> np.ndarray:
        """A sequence reaching the optimum: the best letter in every column, then the best letters' first column."""
        best = self.log_odds.argmax(axis=0)
        return np.concatenate([best, np.full(length - self.width, best[0])]).astype(np.int64)


class SequenceDesignEnv(gym.Env):
    """Point edits to a sequence of ``length`` letters, rewarded by the change in ``score`` (a callable on codes)."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, score: Callable[[np.ndarray], float], length: int, max_steps: int):
        self.score, self.length, self.max_steps = score, int(length), int(max_steps)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(self.length * 4,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.length * 4)
        self.codes = np.zeros(self.length, dtype=np.int64)
        self.current, self.steps = 0.0, 0

    def observation(self) -> np.ndarray:
        one_hot = np.zeros((self.length, 4), dtype=np.float32)
        one_hot[np.arange(self.length), self.codes] = 1.0
        return one_hot.ravel()

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self.codes = self.np_random.integers(0, 4, self.length)
        self.current, self.steps = self.score(self.codes), 0
        return self.observation(), {"score": self.current}

    def step(self, action: int):
        position, letter = divmod(int(action), 4)
        self.codes = self.codes.copy()
        self.codes[position] = letter
        score = self.score(self.codes)
        reward, self.current = score - self.current, score
        self.steps += 1
        return self.observation(), reward, False, self.steps >= self.max_steps, {"score": score}


def random_edits(score: PWMScore, length: int, budget: int, episode_length: int, seed: int) -> np.ndarray:
    """Best score so far after each of ``budget`` evaluations, editing at random (the environment's random policy,
    a new random sequence every ``episode_length`` edits)."""
    env = SequenceDesignEnv(score, length, episode_length)
    rng = np.random.default_rng(seed)
    env.reset(seed=int(rng.integers(2**31)))
    best = np.empty(budget)
    for evaluation in range(budget):
        _, _, _, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        best[evaluation] = max(info["score"], best[evaluation - 1] if evaluation else -np.inf)
        if truncated:
            env.reset(seed=int(rng.integers(2**31)))
    return best


def greedy_hill_climbing(score: PWMScore, length: int, budget: int, seed: int) -> np.ndarray:
    """Best score so far after each of ``budget`` evaluations: from a random sequence, try single edits in random
    order and keep one whenever it raises the score; start again from a new random sequence at a local optimum."""
    rng = np.random.default_rng(seed)
    best = np.empty(budget)
    evaluation, overall = 0, -np.inf
    while evaluation < budget:
        codes = rng.integers(0, 4, length)
        current = score(codes)
        improved = True
        while improved and evaluation < budget:
            improved = False
            for action in rng.permutation(length * 4):
                position, letter = divmod(int(action), 4)
                if codes[position] == letter:
                    continue  # no edit: costs no evaluation
                candidate = codes.copy()
                candidate[position] = letter
                value = score(candidate)
                overall = max(overall, value)
                best[evaluation] = overall
                evaluation += 1
                if value > current:
                    codes, current, improved = candidate, value, True
                    break
                if evaluation >= budget:
                    break
    return best


BASELINE_SEEDS = (0, 1, 2)  # the baselines' seeds: mean and sd over these
BASELINES = ("random_edits", "greedy_hill_climbing")


def evaluations_to_reach(curve: np.ndarray, level: float = 0.95) -> float:
    """Evaluations a best-so-far curve (fractions of the optimum) needed to reach ``level``; NaN if never."""
    reached = np.flatnonzero(curve >= level)
    return float(reached[0] + 1) if len(reached) else float("nan")


def baseline_curves(
    score: PWMScore, length: int, budget: int, episode_length: int, seeds=BASELINE_SEEDS
) -> dict[tuple[str, int], np.ndarray]:
    """Best-so-far fraction of the optimum per evaluation of both baselines, on a designer's budget, per seed."""
    curves = {}
    for seed in seeds:
        curves[("random_edits", seed)] = score.fraction(random_edits(score, length, budget, episode_length, seed))
        curves[("greedy_hill_climbing", seed)] = score.fraction(greedy_hill_climbing(score, length, budget, seed))
    return curves


def baseline_summary(curves: dict[tuple[str, int], np.ndarray], seeds=BASELINE_SEEDS) -> dict[str, float]:
    """Per baseline, the best fraction reached (mean and sd over seeds) and the mean evaluations to 95 %."""
    row = {}
    for method in BASELINES:
        best = np.array([curves[(method, seed)][-1] for seed in seeds])
        needed = np.array([evaluations_to_reach(curves[(method, seed)]) for seed in seeds])
        row.update({f"{method}_best_fraction_mean": best.mean(), f"{method}_best_fraction_sd": best.std(ddof=1)})
        row[f"{method}_evaluations_to_95pct_mean"] = (
            float(np.nanmean(needed)) if np.isfinite(needed).any() else float("nan")
        )
    return row


def curve_points(curves: dict[tuple[str, int], np.ndarray], budget: int) -> list[dict]:
    """The curves as table rows: every evaluation up to 100, then 200 points (the figure's curves, a small file)."""
    points = np.unique(np.r_[np.arange(min(100, budget)), np.linspace(0, budget - 1, 200).astype(int)])
    return [
        {"method": method, "seed": seed, "evaluation": int(point) + 1, "best_fraction": curve[point]}
        for (method, seed), curve in curves.items()
        for point in points
    ]
