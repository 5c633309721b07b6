"""The neural sequence classifiers: ``cnn``, ``cnn_mc_dropout``, ``cnn_embed``, ``bilstm`` and ``transformer``.

Each reads sequences (DNA or peptides, padded where their lengths differ) as integer codes (``lifedl.data.sequences``) through one of the networks of
``lifedl.nn.sequence`` and is trained on cross-entropy against the labels of the non-test rows;
held-out measures are those of the plan's validation rows. What each learned is shown by its
figures: first-layer filters as motifs (cnn), the learned k-mer embedding (cnn_embed), gradient
norms (bilstm) and attention maps (transformer). ``cnn_mc_dropout`` is the one-hot CNN whose
predictions average ``mc_samples`` passes with dropout on (MC dropout), scored against the deterministic cnn.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.batches import predict_batches, take_rows
from lifedl.data.sequences import (
    DNA,
    MAX_KMERS,
    alphabet_name,
    alphabet_of,
    sequence_codes,
    sequence_lengths,
    training_rows,
    unequal_lengths,
)
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import labelled_share
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.sequence import SequenceBiLSTM, SequenceCNN, SequenceTransformer
from lifedl.tl.classification import validation_scores


def network_body(arch: str, params: dict, n_classes: int, length: int, alphabet: str) -> nn.Module:
    embedding = {
        "embedding_dim": params.get("embedding_dim", 0),
        "embedding_k": params.get("embedding_k", 1),
        "n_letters": len(alphabet),
    }
    if arch in ("cnn", "cnn_mc_dropout", "cnn_embed"):
        return SequenceCNN(
            params["n_filters"],
            params["filter_width"],
            params["n_hidden"],
            params["dropout"],
            n_classes,
            reverse_complement=params["reverse_complement"],
            **embedding,
        )
    if arch == "bilstm":
        return SequenceBiLSTM(params["n_hidden"], params["n_layers"], params["dropout"], n_classes, **embedding)
    if arch in ("transformer", "transformer_finetuned", "transformer_mlm"):
        return SequenceTransformer(
            params["d_model"],
            params["n_heads"],
            params["n_layers"],
            params["dropout"],
            n_classes,
            length,
            token_stride=params["token_stride"],
            **embedding,
        )
    raise ValueError(f"no sequence network for architecture '{arch}'")


class SequenceClassifier(nn.Module):
    """A network over codes with the loss the generic plan minimises: cross-entropy of its class logits."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.body(codes)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"cross_entropy": F.cross_entropy(self(batch["sequence"]), batch["label"])}


class SequenceModel(TrainedModel):
    def __init__(
        self, arch: str, network: SequenceClassifier, params, classes, length: int, final_metrics=None, alphabet=DNA
    ):
        self.arch, self.network = arch, network.eval()
        self.params, self.classes, self.length = dict(params), [str(c) for c in classes], int(length)
        self.alphabet = alphabet
        self.final_metrics = dict(final_metrics or {})

    def _draws(self, codes: np.ndarray, seed: int = 0) -> np.ndarray:
        """mc_samples x n x classes probabilities, dropout kept on (MC dropout, a mask per sequence and draw);
        one deterministic pass where mc_samples is 0."""
        mc_samples = self.params.get("mc_samples", 0)  # declared by the CNNs only
        self.network.train(mc_samples > 0)
        device = next(self.network.parameters()).device  # where the plan left it

        def probabilities(batch):
            return torch.softmax(self.network(batch["sequence"].to(device)), dim=-1)

        try:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                draws = [predict_batches(probabilities, {"sequence": codes}) for _ in range(max(1, mc_samples))]
        finally:
            self.network.eval()
        return np.stack(draws)

    def _proba(self, codes: np.ndarray) -> np.ndarray:
        return self._draws(codes).mean(axis=0)

    def probability_draws(self, adata: ad.AnnData, seed: int = 0) -> np.ndarray:
        return self._draws(self.codes(adata), seed)

    def codes(self, adata: ad.AnnData, what: str = "the sequences to predict") -> np.ndarray:
        codes = sequence_codes(adata, what)
        if alphabet_of(adata) != self.alphabet:
            raise LifedlError(
                f"{what} are {alphabet_name(alphabet_of(adata))} sequences, but this {self.arch} was trained on "
                f"{alphabet_name(self.alphabet)} ({self.alphabet})."
            )
        if codes.shape[1] != self.length:
            raise LifedlError(
                f"{what} are {codes.shape[1]} long, but this {self.arch} was trained on sequences "
                f"{self.length} long; cut or pad them to {self.length}."
            )
        return codes

    def predict_proba(self, adata: ad.AnnData) -> np.ndarray:
        """n x len(classes) class probabilities, columns in ``classes`` order."""
        return self._proba(self.codes(adata))

    def first_layer_filters(self) -> np.ndarray | None:
        """A one-hot CNN's n_filters x letters x width first-layer weights (rows in ``alphabet`` order); None for
        other networks."""
        body = self.network.body
        return body.first_layer_filters() if isinstance(body, SequenceCNN) else None

    def kmer_embedding(self) -> np.ndarray | None:
        """letters^k x embedding_dim learned k-mer vectors (rows in base-letters order of the k-mers), or None."""
        embedding = self.network.body.input.embedding
        return None if embedding is None else embedding.weight.detach().cpu().numpy().copy()

    def attention_maps(self, adata: ad.AnnData) -> np.ndarray:
        """n_layers x n x heads x L' x L' attention weights of a transformer on the given sequences."""
        body = self.network.body
        if not isinstance(body, SequenceTransformer):
            raise LifedlError(f"{self.arch} has no attention; attention maps come from a transformer.")
        return body.attention_maps(torch.as_tensor(self.codes(adata, "the sequences to attend over"))).numpy()

    def own_state(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "length": self.length,
            "alphabet": self.alphabet,
            "state_dict": self.network.state_dict(),
        }


MAX_ATTENTION_GIB = 4.0  # attention weights one training batch may hold, all layers together


def check_attention_memory(params: dict, length: int, where: str) -> None:
    """Refuse, before allocating, a transformer whose attention weights (batch x heads x tokens^2 per layer, in
    float32) would exceed MAX_ATTENTION_GIB: self-attention's memory grows with the square of the length."""
    tokens = (length - params["embedding_k"]) // params["token_stride"] + 1
    gib = params["batch_size"] * params["n_heads"] * tokens**2 * 4 * params["n_layers"] / 2**30
    if gib > MAX_ATTENTION_GIB:
        stride = params["token_stride"] * int(np.ceil(np.sqrt(gib / MAX_ATTENTION_GIB)))
        raise LifedlError(
            f"{where}: the transformer on sequences of {length} letters attends over {tokens} tokens: its attention "
            f"weights would take {gib:.1f} GiB per batch (batch_size {params['batch_size']} x n_heads "
            f"{params['n_heads']} x tokens^2 x n_layers {params['n_layers']}; the limit is {MAX_ATTENTION_GIB:g} "
            f"GiB). Set params.transformer.token_stride to {stride} or more (fewer tokens), or lower batch_size, "
            "in config/config.yaml; or use the cnn, whose cost grows linearly with the length."
        )


# the network's shape: a fine-tuned transformer must have its pre-trained encoder's
TRANSFORMER_SHAPE = ("d_model", "n_heads", "n_layers", "embedding_dim", "embedding_k", "token_stride")


def pretrained_encoder(pretrained: TrainedModel, params: dict, alphabet: str, length: int, where: str) -> dict:
    """The pre-trained transformer's encoder weights (its state_dict without a classifier), once its shape,
    alphabet and length are checked against the network about to be fine-tuned."""
    differing = {name: (params[name], pretrained.params[name]) for name in TRANSFORMER_SHAPE}
    differing = {name: pair for name, pair in differing.items() if pair[0] != pair[1]}
    if differing:
        raise LifedlError(
            f"{where}: transformer_finetuned's network differs from its pre-trained transformer_mlm's "
            f"(name: (its, pre-trained)) {differing}; give both the same values under 'params:' in the config."
        )
    if (pretrained.alphabet, pretrained.length) != (alphabet, length):
        raise LifedlError(
            f"{where}: the transformer_mlm was pre-trained on {alphabet_name(pretrained.alphabet)} sequences "
            f"{pretrained.length} long, these are {alphabet_name(alphabet)} {length} long; pre-train it on this "
            "data set."
        )
    return pretrained.encoder_state()


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "cnn", models=None) -> Setup:
    codes, labels, classes, split = training_rows(adata, spec, arch)
    kept = labelled_share(labels, split, params.get("label_fraction", 1.0), seed)
    if not kept.all():
        print(
            f"{arch}: the labels of {int((kept & (split == 'train')).sum())} of {int((split == 'train').sum())} "
            f"training rows (label_fraction {params['label_fraction']:g}); all {int((split != 'train').sum())} "
            "validation rows",
            flush=True,
        )
        codes, labels, split = codes[kept], labels[kept], split[kept]
    alphabet, length = alphabet_of(adata), codes.shape[1]
    widest = params.get("filter_width", 1) + params.get("embedding_k", 1) - 1
    shortest = int(sequence_lengths(codes, alphabet).min())
    if params.get("embedding_dim", 0) > 0 and params["embedding_k"] > shortest:
        raise LifedlError(
            f"{spec.where}: {arch} reads k-mers of {params['embedding_k']} letters, but the shortest sequence has "
            f"{shortest}; set a smaller embedding_k under 'params_per_dataset: {spec.id}: {arch}:' in "
            "config/config.yaml."
        )
    if params.get("embedding_dim", 0) > 0 and len(alphabet) ** params["embedding_k"] > MAX_KMERS:
        raise LifedlError(
            f"{spec.where}: {arch} would embed {len(alphabet)}^{params['embedding_k']} k-mers of "
            f"{alphabet_name(alphabet)} letters (the limit is {MAX_KMERS:,}); set a smaller embedding_k under "
            f"'params_per_dataset: {spec.id}: {arch}:' in config/config.yaml (peptides: 1, one vector per amino acid)."
        )
    if params.get("reverse_complement") and alphabet != DNA:
        raise LifedlError(
            f"{spec.where}: {arch} has reverse_complement on, but these are {alphabet_name(alphabet)} sequences: "
            f"only DNA has a second strand; set reverse_complement to false for {spec.id}."
        )
    if widest > length:
        raise LifedlError(
            f"{spec.where}: {arch} filter_width {params.get('filter_width', 1)} (with k-mers of "
            f"{params.get('embedding_k', 1)}) is longer than the sequences ({length}); set a shorter "
            f"filter_width or embedding_k under 'params: {arch}:' in config/config.yaml."
        )
    if arch.startswith("transformer"):
        check_attention_memory(params, length, spec.where)
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = SequenceClassifier(network_body(arch, params, len(classes), length, alphabet))
    if arch == "transformer_finetuned":  # the encoder starts where pre-training left it; the classifier is new
        encoder = pretrained_encoder(models["transformer_mlm"], params, alphabet, length, spec.where)
        missing, unexpected = network.body.load_state_dict(encoder, strict=False)
        assert not unexpected and set(missing) == {"output.weight", "output.bias"}, (missing, unexpected)
    index = {name: code for code, name in enumerate(classes)}
    arrays = {"sequence": codes, "label": np.array([index[label] for label in labels], dtype=np.int64)}

    def finish(result: FitResult) -> SequenceModel:
        model = SequenceModel(arch, network, params, classes, length, result.metrics, alphabet)
        held_out = take_rows(arrays, np.asarray(result.val_index, dtype=np.int64))
        if len(held_out["label"]):
            truth = np.asarray(classes)[held_out["label"]]
            model.final_metrics.update(validation_scores(truth, model._proba(held_out["sequence"]), classes))
        return model

    return Setup(network=network, arrays=arrays, finish=finish, split=split, lengths=unequal_lengths(codes, alphabet))


def from_checkpoint(checkpoint: dict) -> SequenceModel:
    arch, params, classes = checkpoint["arch"], checkpoint["params"], checkpoint["classes"]
    alphabet = checkpoint.get("alphabet", DNA)  # checkpoints from before peptides read DNA only
    network = SequenceClassifier(network_body(arch, params, len(classes), checkpoint["length"], alphabet))
    network.load_state_dict(checkpoint["state_dict"])
    return SequenceModel(arch, network, params, classes, checkpoint["length"], checkpoint["final_metrics"], alphabet)
