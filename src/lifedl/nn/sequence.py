"""Networks that read DNA: a convolutional net (DeepBind), a bidirectional LSTM and a small transformer.

Each takes an N x L tensor of integer codes (A=0 C=1 G=2 T=3) and returns class logits. The input
is one-hot letters, or, with ``embedding_dim > 0``, a learned embedding of the overlapping k-mers
(``embedding_k`` letters each: 4^k tokens), the lecture's one-hot versus learned embedding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def kmer_tokens(codes: torch.Tensor, k: int, stride: int = 1) -> torch.Tensor:
    """N x L' indices of the k-mers starting every ``stride`` letters (codes read as a base-4 number);
    L' = (L - k) // stride + 1."""
    codes = codes.long()
    windows = codes.shape[1] - k + 1
    tokens = torch.zeros_like(codes[:, :windows])
    for offset in range(k):
        tokens = tokens * 4 + codes[:, offset : offset + windows]
    return tokens[:, ::stride]


class SequenceInput(nn.Module):
    """Codes -> N x L' x C features: one-hot letters (C = 4, L' = L) or learned embeddings of the k-mers
    starting every ``stride`` letters (C = embedding_dim, L' = (L - k) // stride + 1)."""

    def __init__(self, embedding_dim: int = 0, embedding_k: int = 1, stride: int = 1):
        super().__init__()
        self.k, self.stride = embedding_k, stride
        self.embedding = nn.Embedding(4**embedding_k, embedding_dim) if embedding_dim > 0 else None
        self.channels = embedding_dim if embedding_dim > 0 else 4

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            return F.one_hot(codes.long(), 4).float()
        return self.embedding(kmer_tokens(codes, self.k, self.stride))

    def length(self, sequence_length: int) -> int:
        if self.embedding is None:
            return sequence_length
        return (sequence_length - self.k) // self.stride + 1


def _reverse_complement(codes: torch.Tensor) -> torch.Tensor:
    return (3 - codes.long()).flip(-1)


class SequenceCNN(nn.Module):
    """Convolution, ReLU, global max over positions, dense (Alipanahi et al. 2015). Each first-layer filter
    scans for one short pattern; the max keeps its best match anywhere. With ``reverse_complement`` the
    filters also scan the other strand and keep the better of the two."""

    def __init__(
        self,
        n_filters: int,
        filter_width: int,
        n_hidden: int,
        dropout: float,
        n_classes: int,
        embedding_dim: int = 0,
        embedding_k: int = 1,
        reverse_complement: bool = False,
    ):
        super().__init__()
        self.input = SequenceInput(embedding_dim, embedding_k)
        self.reverse_complement = reverse_complement
        self.conv = nn.Conv1d(self.input.channels, n_filters, filter_width)
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(n_filters, n_hidden)
        self.output = nn.Linear(n_hidden, n_classes)

    def _pooled(self, codes: torch.Tensor) -> torch.Tensor:
        features = self.input(codes).transpose(1, 2)  # N x C x L'
        return F.relu(self.conv(features)).amax(dim=-1)  # N x n_filters: the best match anywhere

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        pooled = self._pooled(codes)
        if self.reverse_complement:
            pooled = torch.maximum(pooled, self._pooled(_reverse_complement(codes)))
        return self.output(F.relu(self.hidden(self.dropout(pooled))))

    def first_layer_filters(self):
        """n_filters x 4 x width weights (rows A, C, G, T) of a one-hot CNN; None with an embedding."""
        if self.input.embedding is not None:
            return None
        return self.conv.weight.detach().cpu().numpy().copy()


class SequenceBiLSTM(nn.Module):
    """A bidirectional LSTM over the letters; its outputs, max- and mean-pooled over positions, feed a dense
    classifier. The recurrence makes the gradient a product over positions, which can explode: the training
    plan clips its norm (``gradient_clip``) and logs it per epoch."""

    def __init__(self, n_hidden: int, n_layers: int, dropout: float, n_classes: int, embedding_dim=0, embedding_k=1):
        super().__init__()
        self.input = SequenceInput(embedding_dim, embedding_k)
        self.lstm = nn.LSTM(
            self.input.channels,
            n_hidden,
            num_layers=n_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(4 * n_hidden, n_classes)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.input(codes))  # N x L x 2 n_hidden
        pooled = torch.cat([states.amax(dim=1), states.mean(dim=1)], dim=-1)
        return self.output(self.dropout(pooled))


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """length x dim positional encoding of Vaswani et al. 2017: sin on even, cos on odd dimensions."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return encoding


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention that also hands back its weights (N x heads x L x L,
    each row a distribution over the positions attended to)."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"d_model {dim} is not divisible by n_heads {n_heads}")
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, length, dim = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(n, length, dim)
        return self.out(attended), weights


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer: x + attention(norm x), then x + feed-forward(norm x)."""

    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, n_heads)
        self.feed_forward = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attention(self.norm1(x))
        x = x + self.dropout(attended)
        return x + self.dropout(self.feed_forward(self.norm2(x))), weights


class SequenceTransformer(nn.Module):
    """Token embeddings (one-hot letters projected, or learned k-mers) plus sinusoidal positions, a stack of
    self-attention layers, mean pooling over positions, a linear classifier."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_layers: int,
        dropout: float,
        n_classes: int,
        length: int,
        embedding_dim: int = 0,
        embedding_k: int = 1,
        token_stride: int = 1,
    ):
        super().__init__()
        self.input = SequenceInput(embedding_dim, embedding_k, token_stride)
        self.project = nn.Linear(self.input.channels, d_model)
        self.register_buffer("positions", sinusoidal_positions(self.input.length(length), d_model), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, n_classes)

    def encode(self, codes: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.project(self.input(codes)) + self.positions
        attention = []
        for layer in self.layers:
            x, weights = layer(x)
            attention.append(weights)
        return self.norm(x), attention

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.output(self.encode(codes)[0].mean(dim=1))

    @torch.no_grad()
    def attention_maps(self, codes: torch.Tensor) -> torch.Tensor:
        """n_layers x N x heads x L' x L' attention weights (in evaluation mode: no dropout)."""
        was_training = self.training
        self.eval()
        maps = torch.stack(self.encode(codes)[1])
        self.train(was_training)
        return maps
