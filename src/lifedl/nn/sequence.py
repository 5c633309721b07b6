"""Networks that read sequences: a convolutional net (DeepBind), a bidirectional LSTM and a small transformer.

Each takes an N x L tensor of integer codes over an alphabet of ``n_letters`` letters (DNA: A=0 C=1 G=2 T=3;
peptides: the 20 amino acids) and returns class logits. The input is one-hot letters, or, with
``embedding_dim > 0``, a learned embedding of the overlapping k-mers (``embedding_k`` letters each:
n_letters^k tokens), the lecture's one-hot versus learned embedding. Sequences shorter than L end in the pad
code ``n_letters``: a padded position is a zero vector, and each network masks it where it pools or attends,
so a sequence's output does not depend on how much padding its batch holds. A batch without padding takes
the unmasked path, the same arithmetic as before padding existed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def kmer_tokens(codes: torch.Tensor, k: int, stride: int = 1, n_letters: int = 4) -> torch.Tensor:
    """N x L' indices of the k-mers starting every ``stride`` letters (codes, all below ``n_letters``, read as a
    base-``n_letters`` number); L' = (L - k) // stride + 1."""
    codes = codes.long()
    windows = codes.shape[1] - k + 1
    tokens = torch.zeros_like(codes[:, :windows])
    for offset in range(k):
        tokens = tokens * n_letters + codes[:, offset : offset + windows]
    return tokens[:, ::stride]


def kmer_mask(codes: torch.Tensor, k: int, stride: int, n_letters: int) -> torch.Tensor | None:
    """N x L' booleans, True where the k-mer lies wholly inside the sequence; None where nothing is padded."""
    letters = codes < n_letters
    if bool(letters.all()):
        return None
    # a k-mer is inside where its last letter is (padding is a suffix)
    return letters[:, k - 1 :][:, ::stride]


def without_padding(codes: torch.Tensor, n_letters: int, room: int = 0) -> torch.Tensor:
    """The columns up to the batch's longest sequence (plus ``room``): positions every sequence pads carry nothing
    but cost time (peptides of 7-174 letters are mostly padding). Exact, as the networks mask the padding."""
    letters = codes < n_letters
    if bool(letters.all()):
        return codes
    longest = int(letters.sum(dim=1).max())
    return codes[:, : min(codes.shape[1], longest + room)]


class SequenceInput(nn.Module):
    """Codes -> (N x L' x C features, N x L' mask or None): one-hot letters (C = n_letters, L' = L) or learned
    embeddings of the k-mers starting every ``stride`` letters (C = embedding_dim, L' = (L - k) // stride + 1).
    Padded positions are zero vectors; the mask (True: a real letter or k-mer) is None where nothing is padded."""

    def __init__(self, embedding_dim: int = 0, embedding_k: int = 1, stride: int = 1, n_letters: int = 4):
        super().__init__()
        self.k, self.stride, self.n_letters = embedding_k, stride, n_letters
        self.embedding = nn.Embedding(n_letters**embedding_k, embedding_dim) if embedding_dim > 0 else None
        self.channels = embedding_dim if embedding_dim > 0 else n_letters

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        codes = codes.long()
        if self.embedding is None:
            mask = kmer_mask(codes, 1, 1, self.n_letters)
            if mask is None:
                return F.one_hot(codes, self.n_letters).float(), None
            return F.one_hot(codes, self.n_letters + 1)[..., : self.n_letters].float(), mask
        mask = kmer_mask(codes, self.k, self.stride, self.n_letters)
        if mask is None:
            return self.embedding(kmer_tokens(codes, self.k, self.stride, self.n_letters)), None
        # a k-mer reaching into the padding is read as if the pad were the last letter, then zeroed
        letters = codes.clamp(max=self.n_letters - 1)
        return self.embedding(kmer_tokens(letters, self.k, self.stride, self.n_letters)) * mask[..., None], mask

    def length(self, sequence_length: int) -> int:
        if self.embedding is None:
            return sequence_length
        return (sequence_length - self.k) // self.stride + 1


def _reverse_complement(codes: torch.Tensor) -> torch.Tensor:
    return (3 - codes.long()).flip(-1)


def masked_max(states: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Max of N x L x C states over the positions the mask keeps (all where it is None)."""
    if mask is None:
        return states.amax(dim=1)
    return states.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)


def masked_mean(states: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of N x L x C states over the positions the mask keeps (all where it is None)."""
    if mask is None:
        return states.mean(dim=1)
    keep = mask[..., None]
    return (states * keep).sum(dim=1) / keep.sum(dim=1)


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
        n_letters: int = 4,
    ):
        super().__init__()
        if reverse_complement and n_letters != 4:
            raise ValueError(f"reverse_complement reads DNA (4 letters); this alphabet has {n_letters}")
        self.input = SequenceInput(embedding_dim, embedding_k, n_letters=n_letters)
        self.reverse_complement = reverse_complement
        self.conv = nn.Conv1d(self.input.channels, n_filters, filter_width)
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(n_filters, n_hidden)
        self.output = nn.Linear(n_hidden, n_classes)

    def _pooled(self, codes: torch.Tensor) -> torch.Tensor:
        # room for a window starting at the longest sequence's last letter (it reads zeros past the end)
        codes = without_padding(codes, self.input.n_letters, room=self.conv.kernel_size[0] - 1)
        features, mask = self.input(codes)
        scores = F.relu(self.conv(features.transpose(1, 2)))  # N x n_filters x windows
        if mask is not None:
            # windows starting in the padding are no match; one reaching past a short sequence's end sees zeros
            # there (zero padding at the border). Scores are >= 0 after the ReLU and every sequence starts a
            # window, so zeroing the others leaves the maximum over the real ones.
            scores = scores * mask[:, None, : scores.shape[-1]]
        return scores.amax(dim=-1)  # N x n_filters: the best match anywhere

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        pooled = self._pooled(codes)
        if self.reverse_complement:
            pooled = torch.maximum(pooled, self._pooled(_reverse_complement(codes)))
        return self.output(F.relu(self.hidden(self.dropout(pooled))))

    def first_layer_filters(self):
        """n_filters x n_letters x width weights (rows in the alphabet's order) of a one-hot CNN; None with an
        embedding."""
        if self.input.embedding is not None:
            return None
        return self.conv.weight.detach().cpu().numpy().copy()


class SequenceBiLSTM(nn.Module):
    """A bidirectional LSTM over the letters; its outputs, max- and mean-pooled over positions, feed a dense
    classifier. The recurrence makes the gradient a product over positions, which can explode: the training
    plan clips its norm (``gradient_clip``) and logs it per epoch."""

    def __init__(
        self, n_hidden: int, n_layers: int, dropout: float, n_classes: int, embedding_dim=0, embedding_k=1, n_letters=4
    ):
        super().__init__()
        self.input = SequenceInput(embedding_dim, embedding_k, n_letters=n_letters)
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
        features, mask = self.input(without_padding(codes, self.input.n_letters))
        if mask is None:
            states, _ = self.lstm(features)  # N x L x 2 n_hidden
        else:  # packed: the backward direction starts at each sequence's own end, not in its padding
            lengths = mask.sum(dim=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(features, lengths, batch_first=True, enforce_sorted=False)
            states, _ = nn.utils.rnn.pad_packed_sequence(
                self.lstm(packed)[0], batch_first=True, total_length=features.shape[1]
            )
        pooled = torch.cat([masked_max(states, mask), masked_mean(states, mask)], dim=-1)
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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``mask`` (N x L, True: a real token) keeps padded tokens from being attended to."""
        n, length, dim = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attention(self.norm1(x), mask)
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
        n_letters: int = 4,
    ):
        super().__init__()
        self.input = SequenceInput(embedding_dim, embedding_k, token_stride, n_letters)
        self.project = nn.Linear(self.input.channels, d_model)
        self.register_buffer("positions", sinusoidal_positions(self.input.length(length), d_model), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, n_classes)

    def encode(
        self, codes: torch.Tensor, hidden: torch.Tensor | None = None, fill: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
        """Token states, each layer's attention weights, and the token mask (None: nothing padded). ``hidden``
        (N x L' booleans, L' the tokens of the codes without their common padding): tokens whose own embedding is
        replaced by the ``fill`` vector before the positions are added (masked-token pre-training)."""
        features, mask = self.input(without_padding(codes, self.input.n_letters))
        x = self.project(features)
        if hidden is not None:
            x = torch.where(hidden[..., None], fill.to(x.dtype), x)
        x = x + self.positions[: features.shape[1]]
        attention = []
        for layer in self.layers:
            x, weights = layer(x, mask)
            attention.append(weights)
        return self.norm(x), attention, mask

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        states, _, mask = self.encode(codes)
        return self.output(masked_mean(states, mask))

    @torch.no_grad()
    def attention_maps(self, codes: torch.Tensor) -> torch.Tensor:
        """n_layers x N x heads x L' x L' attention weights (in evaluation mode: no dropout)."""
        was_training = self.training
        self.eval()
        maps = torch.stack(self.encode(codes)[1])
        self.train(was_training)
        return maps


class MaskedTokenNetwork(nn.Module):
    """BERT's pre-training task (Devlin et al. 2019; seed 003) on a :class:`SequenceTransformer` that reads one
    token per letter: ``hidden_share`` of each sequence's real letters are hidden (their embedding replaced by a
    learned fill vector; BERT's 10 % random and 10 % kept letters are left out) and predicted from the others by a
    linear head over the alphabet. Training draws new letters to hide every step; evaluation hides the same ones
    every epoch (a generator seeded by ``eval_seed``), so the validation loss is comparable across epochs. The
    trained ``body`` starts a classifier's training (lifedl.models.sequence: ``transformer_finetuned``)."""

    def __init__(self, body: SequenceTransformer, hidden_share: float = 0.15, eval_seed: int = 0):
        super().__init__()
        if body.input.embedding is not None and (body.input.k, body.input.stride) != (1, 1):
            # overlapping k-mers around a hidden one spell out its letters: nothing would be left to predict
            raise ValueError(
                f"masked-token pre-training reads one token per letter; this transformer reads {body.input.k}-mers "
                f"every {body.input.stride} letters (set embedding_k 1 and token_stride 1)"
            )
        if not 0 < hidden_share < 1:
            raise ValueError(f"hidden_share must lie between 0 and 1, not {hidden_share}")
        self.body, self.hidden_share, self.eval_seed = body, hidden_share, eval_seed
        d_model = body.project.out_features
        self.fill = nn.Parameter(torch.randn(d_model) * 0.02)
        self.head = nn.Linear(d_model, body.input.n_letters)

    def hidden_letters(self, codes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """N x L booleans: the real letters to hide, each with probability ``hidden_share``, at least one per
        sequence (its first letter where the draw hid none)."""
        letters = codes < self.body.input.n_letters
        draw = torch.rand(codes.shape, generator=generator, device=codes.device if generator is None else "cpu")
        hidden = (draw.to(codes.device) < self.hidden_share) & letters
        none = ~hidden.any(dim=1)
        hidden[none, 0] = True  # every sequence has a first letter
        return hidden

    def forward(self, codes: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """N x L' x n_letters logits of every token given the others, with ``hidden`` ones replaced by the fill."""
        states, _, _ = self.body.encode(codes, hidden, self.fill)
        return self.head(states)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        codes = without_padding(batch["sequence"].long(), self.body.input.n_letters)
        generator = None if self.training else torch.Generator().manual_seed(self.eval_seed)
        hidden = self.hidden_letters(codes, generator)
        logits = self(codes, hidden)
        return {"masked_cross_entropy": F.cross_entropy(logits[hidden], codes[hidden])}
