"""``dqn``: a deep Q-network that designs DNA by point edits (seed 001's agent, actions, rewards, Q-values).

The environment (``lifedl.tl.design.SequenceDesignEnv``) scores a sequence by the data set's planted motif (a
JASPAR matrix), or by the motif named in ``params.motif``; its optimum is exact. The agent is Mnih et al.'s
DQN: an MLP from the one-hot sequence to one Q-value per edit, epsilon-greedy exploration decaying linearly,
a replay buffer, a target network copied every ``target_sync`` steps, Huber loss on
r + gamma max Q_target(s'). Every step the environment scores one sequence: the training's evaluations are
the budget the baselines (random edits, greedy hill climbing) get in the design step.

``dqn_oracle`` is the same agent rewarded by a learned oracle instead: the data set's trained ``cnn``
(``Architecture.uses_models``; fitted on the training sequences, so the agent never sees its test data) and
its probability of ``oracle_class``. Its optimum is not known; the planted motif still measures whether what
the oracle likes is the real site (the designs' PWM fraction).

The agent collects its own data, so the plan ``agent`` (``lifedl.train.loops``) only hands it a logger:
return, the Q-value of the start state, the TD loss and epsilon go to MLflow once per episode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.sequences import MOTIFS
from lifedl.data.spec import DatasetSpec
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, model_from_state, model_state
from lifedl.tl.design import PWMScore, SequenceDesignEnv

Logger = Callable[[dict[str, float], int], None]


def target_motif(adata: ad.AnnData, params: dict, where: str) -> tuple[str, np.ndarray]:
    """(name, 4 x width probabilities): ``params.motif`` from the built-in JASPAR matrices, else the data set's
    planted motif."""
    if params["motif"]:
        if params["motif"] not in MOTIFS:
            raise LifedlError(f"{where}: params.dqn.motif '{params['motif']}' is not one of {sorted(MOTIFS)}.")
        return params["motif"], MOTIFS[params["motif"]]
    if "motif" not in adata.uns:
        raise LifedlError(
            f"{where}: the data set has no planted motif (uns['motif']) to design for; set params.dqn.motif to "
            f"one of {sorted(MOTIFS)} in config/config.yaml."
        )
    return str(adata.uns["motif"]["name"]), np.asarray(adata.uns["motif"]["pwm"], dtype=float)


class OracleScore:
    """A trained sequence classifier's log-odds of one class (the learned oracle) as the design score: like the
    PWM's log-odds, each edit that moves the oracle is rewarded even while its probability is still near 0.
    ``fraction`` is the probability (1 = the oracle is sure)."""

    def __init__(self, classifier, wanted: str, where: str):
        if wanted not in classifier.classes:
            raise LifedlError(
                f"{where}: params.dqn_oracle.oracle_class '{wanted}' is not a class of the {classifier.arch} oracle "
                f"({classifier.classes}); set it to one of them in config/config.yaml."
            )
        self.classifier, self.index = classifier, classifier.classes.index(wanted)

    def __call__(self, codes: np.ndarray) -> float:
        # the network directly: one sequence per call, the environment's hot loop (the CNN pools over any length)
        with torch.no_grad():
            logits = self.classifier.network(torch.as_tensor(np.asarray(codes, dtype=np.int64)[None]))[0]
        log_p = torch.log_softmax(logits, dim=-1)
        others = torch.logsumexp(torch.cat([log_p[: self.index], log_p[self.index + 1 :]]), dim=0)
        return float(log_p[self.index] - others)

    @staticmethod
    def fraction(score):
        """The oracle's probability of the class, from its log-odds (a number or an array)."""
        return 1.0 / (1.0 + np.exp(-np.asarray(score, dtype=float)))


def design_score(pwm_score: PWMScore, oracle, params: dict, where: str):
    """The agent's reward: the motif's PWM, or with an ``oracle`` its log-odds of ``params['oracle_class']``."""
    return pwm_score if oracle is None else OracleScore(oracle, params["oracle_class"], where)


def q_network(length: int, n_hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(length * 4, n_hidden),
        nn.ReLU(),
        nn.Linear(n_hidden, n_hidden),
        nn.ReLU(),
        nn.Linear(n_hidden, length * 4),
    )


class DQNModel(TrainedModel):
    def __init__(self, arch, params, network, motif_name, pwm, length, training_best, final_metrics=None, oracle=None):
        self.arch, self.params, self.network = arch, dict(params), network.eval()
        self.motif_name, self.pwm, self.length = motif_name, np.asarray(pwm, dtype=float), int(length)
        self.pwm_score = PWMScore(self.pwm)  # the planted truth, whichever score the agent was rewarded by
        self.oracle = oracle  # the trained classifier rewarding dqn_oracle; None: the PWM rewards
        self.score = design_score(self.pwm_score, oracle, params, arch)
        self.training_best = np.asarray(training_best, dtype=float)  # best score after each training evaluation
        self.final_metrics = dict(final_metrics or {})

    @property
    def episode_steps(self) -> int:
        return self.params["episode_steps"] or self.length

    def design(self, n_starts: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The greedy policy run for one episode from ``n_starts`` random sequences: the best sequence each
        episode met and its score."""
        env = SequenceDesignEnv(self.score, self.length, self.episode_steps)
        rng = np.random.default_rng(seed)
        designed, scores = [], []
        for _ in range(n_starts):
            observation, info = env.reset(seed=int(rng.integers(2**31)))
            best, best_codes, truncated = info["score"], env.codes.copy(), False
            while not truncated:
                with torch.no_grad():
                    action = int(self.network(torch.as_tensor(observation)).argmax())
                observation, _, _, truncated, info = env.step(action)
                if info["score"] > best:
                    best, best_codes = info["score"], env.codes.copy()
            designed.append(best_codes)
            scores.append(best)
        return np.array(designed), np.array(scores)

    def own_state(self) -> dict[str, Any]:
        return {
            "motif_name": self.motif_name,
            "pwm": self.pwm,
            "length": self.length,
            "training_best": self.training_best,
            "state_dict": self.network.state_dict(),
            "oracle": None if self.oracle is None else model_state(self.oracle),
        }


def _epsilon(step: int, total: int, params: dict) -> float:
    decay_steps = max(1, round(params["exploration_fraction"] * total))
    return max(params["epsilon_final"], 1.0 - (1.0 - params["epsilon_final"]) * step / decay_steps)


def learn(network: nn.Module, score: PWMScore, length: int, params: dict, seed: int, log: Logger) -> np.ndarray:
    """Train ``network`` in place; return the best score after each evaluation (environment step)."""
    steps_per_episode = params["episode_steps"] or length
    total = params["episodes"] * steps_per_episode
    env = SequenceDesignEnv(score, length, steps_per_episode)
    rng = np.random.default_rng(seed)
    target = copy.deepcopy(network)
    optimiser = torch.optim.Adam(network.parameters(), lr=params["learning_rate"])
    size = min(params["replay_size"], total)
    states = np.zeros((size, length * 4), dtype=np.float32)
    next_states, actions, rewards = (
        np.zeros_like(states),
        np.zeros(size, dtype=np.int64),
        np.zeros(size, dtype=np.float32),
    )
    best_curve, best, step = np.empty(total), -np.inf, 0
    for episode in range(params["episodes"]):
        state, _ = env.reset(seed=int(rng.integers(2**31)))
        with torch.no_grad():
            q_start = float(network(torch.as_tensor(state)).max())
        episode_return, losses, truncated = 0.0, [], False
        while not truncated:
            epsilon = _epsilon(step, total, params)
            if rng.random() < epsilon:
                action = int(rng.integers(env.action_space.n))
            else:
                with torch.no_grad():
                    action = int(network(torch.as_tensor(state)).argmax())
            next_state, reward, _, truncated, info = env.step(action)
            slot = step % size  # a ring buffer: the oldest transition goes first
            states[slot], actions[slot], rewards[slot], next_states[slot] = state, action, reward, next_state
            best = max(best, info["score"])
            best_curve[step] = best
            episode_return += reward
            state, step = next_state, step + 1
            if step >= params["warmup_steps"] and step >= params["batch_size"]:
                losses.append(
                    _update(
                        network,
                        target,
                        optimiser,
                        (states, actions, rewards, next_states),
                        min(step, size),
                        rng,
                        params,
                    )
                )
            if step % params["target_sync"] == 0:
                target.load_state_dict(network.state_dict())
        log(
            {
                "train/return": episode_return,
                "train/q_start": q_start,
                "train/loss": float(np.mean(losses)) if losses else float("nan"),
                "train/epsilon": epsilon,
                "train/final_fraction": score.fraction(info["score"]),
                "train/best_fraction": score.fraction(best),
            },
            episode,
        )
    return best_curve


def _update(network, target, optimiser, buffer, filled: int, rng: np.random.Generator, params: dict) -> float:
    states, actions, rewards, next_states = buffer
    rows = rng.integers(0, filled, params["batch_size"])
    state, next_state = torch.as_tensor(states[rows]), torch.as_tensor(next_states[rows])
    with torch.no_grad():  # episodes end by a step limit the state does not show: always bootstrap
        wanted = torch.as_tensor(rewards[rows]) + params["gamma"] * target(next_state).max(dim=1).values
    predicted = network(state).gather(1, torch.as_tensor(actions[rows])[:, None]).squeeze(1)
    loss = F.smooth_l1_loss(predicted, wanted)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "dqn", models=None) -> Setup:
    motif_name, pwm = target_motif(adata, params, spec.where)
    pwm_score = PWMScore(pwm)
    length = params["length"] or pwm_score.width
    if length < pwm_score.width:
        raise LifedlError(
            f"{spec.where}: params.{arch}.length {length} is shorter than the motif {motif_name} ({pwm_score.width})."
        )
    oracle = (models or {}).get("cnn")
    score = design_score(pwm_score, oracle, params, spec.where)
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = q_network(length, params["n_hidden"])
    trained: dict[str, np.ndarray] = {}

    def learn_here(log: Logger) -> dict[str, float]:
        trained["best"] = learn(network, score, length, params, seed, log)
        print(
            f"{arch}: best {score.fraction(trained['best'][-1]):.3f} in {len(trained['best'])} evaluations "
            f"({'the oracle probability' if oracle is not None else 'fraction of the optimum'})",
            flush=True,
        )
        return {"evaluations": float(len(trained["best"])), "best_fraction": score.fraction(trained["best"][-1])}

    def finish(result: FitResult) -> DQNModel:
        model = DQNModel(arch, params, network, motif_name, pwm, length, trained["best"], result.metrics, oracle)
        _, scores = model.design(20, seed)
        model.final_metrics["policy_fraction"] = float(score.fraction(scores).mean())
        return model

    return Setup(network=network, arrays={}, finish=finish, learn=learn_here)


def from_checkpoint(checkpoint: dict) -> DQNModel:
    params = checkpoint["params"]
    network = q_network(checkpoint["length"], params["n_hidden"])
    network.load_state_dict(checkpoint["state_dict"])
    return DQNModel(
        checkpoint["arch"],
        params,
        network,
        checkpoint["motif_name"],
        checkpoint["pwm"],
        checkpoint["length"],
        checkpoint["training_best"],
        checkpoint["final_metrics"],
        None if checkpoint.get("oracle") is None else model_from_state(checkpoint["oracle"]),
    )
