"""``transformer_mlm``: the sequence transformer pre-trained by masked-token prediction (BERT, Devlin et al. 2019;
seed 003's pre-trained models adapted to a new task) on the data set's non-test sequences without their labels.

Its measure is how well it predicts hidden letters on the validation rows, beside the letters' frequencies in the
training rows (the unigram baseline, which knows no context). Its encoder starts ``transformer_finetuned``
(lifedl.models.sequence); the learning curve (lifedl.steps.learning_curve) says at which share of the labels that
start stops helping.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import torch

from lifedl.data.batches import predict_batches, take_rows
from lifedl.data.sequences import alphabet_name, alphabet_of, sequence_codes, unequal_lengths
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import TEST, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.models.sequence import check_attention_memory, network_body
from lifedl.nn.sequence import MaskedTokenNetwork, without_padding


class MaskedTokenModel(TrainedModel):
    def __init__(self, arch: str, network: MaskedTokenNetwork, params, length: int, alphabet: str, final_metrics=None):
        self.arch, self.network = arch, network.eval()
        self.params, self.length, self.alphabet = dict(params), int(length), alphabet
        self.final_metrics = dict(final_metrics or {})

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The transformer's weights without its (unused) classifier: what a fine-tuned classifier starts from."""
        return {name: value for name, value in self.network.body.state_dict().items() if not name.startswith("output.")}

    @torch.no_grad()
    def hidden_letter_scores(self, codes: np.ndarray, frequencies: np.ndarray) -> dict[str, float]:
        """Accuracy and cross-entropy (nats) of the hidden letters of ``codes`` (the evaluation draw, the same
        every call), and those of the unigram baseline that predicts every hidden letter by ``frequencies``."""
        self.network.eval()
        n_letters = self.network.body.input.n_letters

        def per_letter(batch):  # N x L: log-probability of each hidden true letter, nan elsewhere
            sequence = without_padding(batch["sequence"].long(), n_letters)
            hidden = self.network.hidden_letters(sequence, torch.Generator().manual_seed(self.network.eval_seed))
            log_p = torch.log_softmax(self.network(sequence, hidden), dim=-1)
            truth = sequence.clamp(max=n_letters - 1)
            right = log_p.argmax(dim=-1) == truth
            scores = torch.stack([log_p.gather(-1, truth[..., None])[..., 0], right.float()], dim=-1)
            padded = torch.full((*batch["sequence"].shape, 2), float("nan"))
            padded[:, : sequence.shape[1]] = torch.where(hidden[..., None], scores, float("nan"))
            return padded

        # batches of the training plan's size: the draw of hidden letters depends on the batch, as in validation
        scores = predict_batches(per_letter, {"sequence": codes}, batch_size=self.params["batch_size"])
        hidden = ~np.isnan(scores[..., 0])
        truth = codes[hidden]
        return {
            "masked_accuracy": float(scores[..., 1][hidden].mean()),
            "masked_cross_entropy": float(-scores[..., 0][hidden].mean()),
            "unigram_accuracy": float(np.mean(truth == int(np.argmax(frequencies)))),
            "unigram_cross_entropy": float(-np.log(frequencies[truth]).mean()),
            "n_hidden_letters": float(hidden.sum()),
        }

    def own_state(self) -> dict[str, Any]:
        return {"length": self.length, "alphabet": self.alphabet, "state_dict": self.network.state_dict()}


def letter_frequencies(codes: np.ndarray, n_letters: int) -> np.ndarray:
    """Each letter's share of the real letters (pad codes left out), at least one count each."""
    counts = np.bincount(codes[codes < n_letters].ravel(), minlength=n_letters) + 1
    return counts / counts.sum()


def _network(params: dict, length: int, alphabet: str) -> MaskedTokenNetwork:
    # n_classes 1: the body's classifier goes unused (encoder_state leaves it out)
    body = network_body("transformer_mlm", params, 1, length, alphabet)
    try:
        return MaskedTokenNetwork(body, params["hidden_share"])
    except ValueError as error:
        raise LifedlError(f"transformer_mlm: {error} under 'params: transformer_mlm:' in the config.") from None


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "transformer_mlm", models=None):
    split = split_of(adata, spec.where)
    keep = (split != TEST) & ~spec.is_unseen_class(adata)  # no label is read; the unseen class stays unseen
    codes = sequence_codes(adata, spec.where, min_sequences=2)[keep]
    alphabet, length = alphabet_of(adata), codes.shape[1]
    check_attention_memory(params, length, spec.where)
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = _network(params, length, alphabet)
    split = split[keep]
    print(
        f"{arch}: {int((split == 'train').sum())} training and {int((split != 'train').sum())} validation "
        f"{alphabet_name(alphabet)} sequences without labels; {params['hidden_share']:.0%} of each one's letters "
        "hidden",
        flush=True,
    )
    arrays = {"sequence": codes}

    def finish(result: FitResult) -> MaskedTokenModel:
        model = MaskedTokenModel(arch, network, params, length, alphabet, result.metrics)
        frequencies = letter_frequencies(take_rows(arrays, result.train_index)["sequence"], len(alphabet))
        held_out = take_rows(arrays, np.asarray(result.val_index, dtype=np.int64))["sequence"]
        if len(held_out):
            scores = model.hidden_letter_scores(held_out, frequencies)
            model.final_metrics.update({f"val_{name}": value for name, value in scores.items()})
        return model

    return Setup(network=network, arrays=arrays, finish=finish, split=split, lengths=unequal_lengths(codes, alphabet))


def from_checkpoint(checkpoint: dict) -> MaskedTokenModel:
    network = _network(checkpoint["params"], checkpoint["length"], checkpoint["alphabet"])
    network.load_state_dict(checkpoint["state_dict"])
    return MaskedTokenModel(
        checkpoint["arch"],
        network,
        checkpoint["params"],
        checkpoint["length"],
        checkpoint["alphabet"],
        checkpoint["final_metrics"],
    )
