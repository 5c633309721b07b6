"""Biological sequences as a data kind: integer codes, FASTA and labelled-CSV reading, QC, and a simulator with a
planted motif.

A data set of kind ``sequences`` holds one sequence per row of ``X`` as ``uint8`` codes over its alphabet
(``uns['alphabet']``: DNA ``ACGT``, A=0 C=1 G=2 T=3, or the 20 amino acids of PROTEIN in alphabetical order), the
class labels and the split in ``obs``. Sequences of unequal length (peptides) are padded at their end with the
code ``len(alphabet)`` (the pad code), never truncated; the networks mask the padding (``lifedl.nn.sequence``).
DNA read from FASTA keeps one length (a window around each peak: the strand-aware models need it). The simulator
plants a real transcription-factor motif (sampled from its position weight matrix) in the positives; each
negative gets the same letters in shuffled order, so positives and negatives have the same composition and only
the letters' order tells them apart.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lifedl.data.spec import DatasetSpec, stratified_test
from lifedl.data.splits import split_of
from lifedl.errors import LifedlError

ALPHABET = DNA = "ACGT"
PROTEIN = "ACDEFGHIKLMNPQRSTVWY"  # the 20 standard amino acids, one-letter codes
ALPHABETS = {"DNA": DNA, "protein": PROTEIN}
ALPHABET_KEY = "alphabet"
MAX_KMERS = 4**8  # distinct k-mers a model may count or embed: 4^8 DNA 8-mers; 20^4 amino-acid 4-mers would be 160,000


def alphabet_name(alphabet: str) -> str:
    """'DNA' or 'protein' for a known alphabet, else the letters themselves."""
    return next((name for name, letters in ALPHABETS.items() if letters == alphabet), alphabet)


@functools.cache
def _code_of_byte(alphabet: str) -> np.ndarray:
    """Letter -> code for every byte value; 255 marks a letter outside the alphabet (either case)."""
    table = np.full(256, 255, dtype=np.uint8)
    for code, letter in enumerate(alphabet):
        table[ord(letter)] = table[ord(letter.lower())] = code
    return table


# JASPAR MA0139.1 (CTCF, Homo sapiens; JASPAR CORE vertebrates): the position frequency matrix,
# counts of A, C, G, T at each of its 19 positions (consensus TGGCCACCAGGGGGCGCTA).
_CTCF_MA0139_1 = np.array(
    [
        [87, 167, 281, 56, 8, 744, 40, 107, 851, 5, 333, 54, 12, 56, 104, 372, 82, 117, 402],  # A
        [291, 145, 49, 800, 903, 13, 528, 433, 11, 0, 3, 12, 0, 8, 733, 13, 482, 322, 181],  # C
        [76, 414, 449, 21, 0, 65, 334, 48, 32, 903, 566, 504, 890, 775, 5, 507, 307, 73, 266],  # G
        [459, 187, 134, 36, 2, 91, 11, 324, 18, 3, 9, 341, 8, 71, 67, 17, 37, 396, 59],  # T
    ],
    dtype=float,
)

# JASPAR MA1115.1 (POU5F1, Oct4; consensus ATGCAAATGAN) and MA0496.1 (MAFK), counts as in JASPAR 2024.
_POU5F1_MA1115_1 = np.array(
    [
        [4982, 3603, 12693, 83, 717, 533, 11756, 10560, 12280, 2556, 3476],
        [1290, 2785, 122, 130, 192, 10310, 132, 690, 270, 2104, 2450],
        [1996, 1908, 229, 67, 11571, 548, 118, 1026, 257, 2071, 3551],
        [4846, 4818, 70, 12834, 634, 1723, 1108, 838, 307, 6383, 3637],
    ],
    dtype=float,
)
_MAFK_MA0496_1 = np.array(
    [
        [17128, 15239, 17367, 34765, 10333, 0, 2669, 60790, 0, 0, 57894, 23471, 27164, 20865, 17282],
        [29664, 13278, 9271, 4862, 17432, 261, 58121, 0, 0, 60742, 430, 9775, 3962, 5229, 9289],
        [4539, 3886, 21340, 8031, 29271, 0, 0, 0, 55539, 48, 0, 9853, 1268, 1575, 2699],
        [9459, 28387, 12812, 13132, 3754, 60529, 0, 0, 5251, 0, 2466, 17691, 28396, 33121, 31520],
    ],
    dtype=float,
)


def _probabilities(counts: np.ndarray) -> np.ndarray:
    return counts / counts.sum(axis=0, keepdims=True)


# Motif name -> 4 x width matrix of letter probabilities (rows A, C, G, T; each column sums to 1).
MOTIFS: dict[str, np.ndarray] = {
    "CTCF": _probabilities(_CTCF_MA0139_1),
    "POU5F1": _probabilities(_POU5F1_MA1115_1),
    "MAFK": _probabilities(_MAFK_MA0496_1),
}
MOTIF_SOURCES = {"CTCF": "JASPAR MA0139.1", "POU5F1": "JASPAR MA1115.1", "MAFK": "JASPAR MA0496.1"}
# What tells the classes apart (seed 003's tasks, each harder for some architectures):
# presence: one motif or its shuffled letters; which: which of k motifs (k classes); spacing: motifs A and B
# at a fixed gap or at a random gap; order: A before B or B before A.
SIMULATION_TASKS = ("presence", "which", "spacing", "order")


def encode(sequences: list[str], names: list[str] | None = None, alphabet: str = DNA, pad: bool = False) -> np.ndarray:
    """Sequences over ``alphabet`` (either case) as an N x L ``uint8`` array of codes (a letter's index in it).

    With ``pad``, sequences may differ in length: each is padded at its end with the pad code ``len(alphabet)``
    to the longest (L); without, they must share one length. ``names`` (one per sequence) name the offending
    sequence in errors; else its index does."""
    sequences = list(sequences)
    if not sequences:
        return np.zeros((0, 0), dtype=np.uint8)

    def called(index: int) -> str:
        return f"sequence '{names[index]}'" if names is not None else f"sequence {index}"

    lengths = np.array([len(sequence) for sequence in sequences])
    if not pad and (lengths != lengths[0]).any():
        index = int(np.flatnonzero(lengths != lengths[0])[0])
        raise LifedlError(
            f"{called(index)} has length {lengths[index]}, but {called(0)} has length {lengths[0]}: every sequence "
            "must have one length; trim or pad them to a common length (e.g. a fixed window around each peak)."
        )
    if (lengths == 0).any():
        raise LifedlError(f"{called(int(np.argmin(lengths)))} is empty; drop it.")
    table, width = _code_of_byte(alphabet), int(lengths.max())
    codes = np.full((len(sequences), width), len(alphabet), dtype=np.uint8)
    try:
        raw = np.frombuffer("".join(sequences).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raw = None
    letters = None if raw is None else table[raw]
    if letters is None or (letters == 255).any():
        index = next(i for i, s in enumerate(sequences) if set(s.upper()) - set(alphabet))
        bad = sorted(set(sequences[index].upper()) - set(alphabet))
        raise LifedlError(
            f"{called(index)} has letters {bad} outside the {alphabet_name(alphabet)} alphabet {alphabet}: only "
            "these letters (either case) are read; drop the sequences with ambiguity codes (N, X, B, Z, ...) or "
            "other letters, or replace those letters."
        )
    codes[np.arange(width)[None, :] < lengths[:, None]] = letters  # row-major: each sequence's letters in order
    return codes


def sequence_lengths(codes, alphabet: str = DNA) -> np.ndarray:
    """Letters per sequence: the codes before the padding (all of them where nothing is padded)."""
    return (np.atleast_2d(np.asarray(codes)) < len(alphabet)).sum(axis=1)


def unequal_lengths(codes, alphabet: str = DNA) -> np.ndarray | None:
    """Letters per sequence where the lengths differ (training batches then group similar lengths,
    lifedl.data.batches.EpochShuffledBatches); None where every sequence has the same length."""
    lengths = sequence_lengths(codes, alphabet)
    return lengths if len(np.unique(lengths)) > 1 else None


def alphabet_of(adata: ad.AnnData) -> str:
    """The data set's alphabet (``uns['alphabet']``; DNA where none is recorded)."""
    return str(adata.uns.get(ALPHABET_KEY, DNA))


def decode(codes, alphabet: str = DNA) -> list[str]:
    """The letters of N x L codes (inverse of :func:`encode`; padding dropped)."""
    codes = np.atleast_2d(np.asarray(codes)).astype(np.intp)
    letters = np.frombuffer((alphabet + " ").encode("ascii"), dtype=np.uint8)[np.minimum(codes, len(alphabet))]
    return [row.tobytes().decode("ascii").rstrip(" ") for row in letters]


def gc_content(codes) -> np.ndarray:
    """Fraction of G or C per sequence."""
    codes = np.atleast_2d(np.asarray(codes))
    return ((codes == 1) | (codes == 2)).mean(axis=1)


def confound(codes, alphabet: str = DNA) -> tuple[str, np.ndarray, float]:
    """What could tell the classes apart without reading motifs, to match the classes on before scoring:
    (name, value per sequence, bin width). DNA: the GC content (bins of 0.02); other alphabets: the length
    (bins of 2 letters; peptide classes often differ in length, e.g. antimicrobial peptides run longer)."""
    if alphabet == DNA:
        return "gc", gc_content(codes), 0.02
    return "length", sequence_lengths(codes, alphabet).astype(float), 2.0


def reverse_complement(codes) -> np.ndarray:
    """Reverse complement of N x L codes (A<->T, C<->G: code 3 - c)."""
    return (3 - np.asarray(codes))[..., ::-1]


def consensus(pwm: np.ndarray) -> str:
    """The most probable letter at each position of a 4 x width matrix."""
    return "".join(ALPHABET[i] for i in np.asarray(pwm).argmax(axis=0))


@dataclasses.dataclass(frozen=True)
class SequenceSimulationParams:
    n_sequences: int = 2000
    length: int = 100
    motif: str = "CTCF"  # a key of MOTIFS; for which/spacing/order several joined by '+', e.g. POU5F1+MAFK
    task: str = "presence"  # one of SIMULATION_TASKS
    spacing: int = 5  # spacing task: letters between the end of motif A and the start of B in the positives
    positive_fraction: float = 0.5
    test_fraction: float = 0.2
    gc: float = 0.5  # GC content of the background
    seed: int = 0


def _check_params(params: SequenceSimulationParams) -> list[np.ndarray]:
    """The PWMs of the task's motifs, after checking that they and the sequences fit the task."""
    if params.task not in SIMULATION_TASKS:
        raise ValueError(f"unknown task '{params.task}'; known tasks: {list(SIMULATION_TASKS)}.")
    names = params.motif.split("+")
    unknown = [name for name in names if name not in MOTIFS]
    if unknown:
        raise ValueError(f"unknown motif(s) {unknown}; known motifs: {sorted(MOTIFS)}.")
    wanted = {"presence": "one motif", "which": "at least two motifs", "spacing": "two motifs", "order": "two motifs"}
    count_ok = {"presence": len(names) == 1, "which": len(names) >= 2}.get(params.task, len(names) == 2)
    if not count_ok:
        raise ValueError(f"task '{params.task}' needs {wanted[params.task]}, got motif={params.motif}.")
    pwms = [MOTIFS[name] for name in names]
    widths = [pwm.shape[1] for pwm in pwms]
    needed = sum(widths) + params.spacing + 1 if params.task in ("spacing", "order") else max(widths)
    if params.length < needed:
        raise ValueError(
            f"task '{params.task}' with motif {params.motif} needs sequences at least {needed} long, "
            f"but length is {params.length}."
        )
    if params.n_sequences < 2:
        raise ValueError(f"n_sequences must be at least 2, got {params.n_sequences}.")
    if params.spacing < 0:
        raise ValueError(f"spacing must be at least 0, got {params.spacing}.")
    for name in ("positive_fraction", "test_fraction", "gc"):
        value = getattr(params, name)
        if not 0 < value < 1:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}.")
    return pwms


def sample_from_pwm(pwm: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` instances (n x width codes), each position drawn independently from its column of ``pwm``."""
    cumulative = np.cumsum(pwm, axis=0).T  # width x 4
    cumulative[:, -1] = 1.0
    draws = rng.random((n, pwm.shape[1]))
    return (draws[:, :, None] >= cumulative[None, :, :]).sum(axis=-1).astype(np.uint8)


def simulate_sequences(params: SequenceSimulationParams = SequenceSimulationParams()) -> ad.AnnData:
    """Random background sequences with motif instances sampled from JASPAR matrices, labelled by ``params.task``.

    presence: positives carry one instance at a random position, negatives a column-shuffled instance (same
    letters, order permuted) there. which: each sequence one instance of one of the motifs, labelled by it.
    spacing: A then B, B starting ``spacing`` letters after A ends (positives) or at any other gap. order: A
    before B (positives) or B before A, at random gaps. obs records where each instance lies.
    """
    pwms = _check_params(params)
    rng = np.random.default_rng(params.seed)
    n, length = params.n_sequences, params.length
    at, gc = (1 - params.gc) / 2, params.gc / 2
    if params.task == "presence":
        n_positive = min(n - 1, max(1, round(params.positive_fraction * n)))
        positive = rng.permutation(np.arange(n) < n_positive)
        codes = rng.choice(4, size=(n, length), p=[at, gc, gc, at]).astype(np.uint8)
        labels, columns = _plant_presence(codes, pwms[0], positive, rng)
    else:
        codes = rng.choice(4, size=(n, length), p=[at, gc, gc, at]).astype(np.uint8)
        labels, columns = _plant_arrangement(codes, pwms, params, rng)
    test = stratified_test(labels, params.test_fraction, rng)
    obs = pd.DataFrame(
        {
            "label": pd.Categorical(labels, categories=sorted(set(labels))),
            "split": pd.Categorical(np.where(test, "test", "train"), categories=["train", "test"]),
            **columns,
        },
        index=[f"seq{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=codes, obs=obs, var=pd.DataFrame(index=[str(i) for i in range(1, length + 1)]))
    adata.uns[ALPHABET_KEY] = DNA
    names = params.motif.split("+")
    adata.uns["motif"] = {"name": names[0], "pwm": pwms[0].copy(), "consensus": consensus(pwms[0])}
    adata.uns["motifs"] = {name: pwm.copy() for name, pwm in zip(names, pwms)}
    adata.uns["simulation"] = dataclasses.asdict(params)
    return adata


def _place(codes: np.ndarray, instances: np.ndarray, starts: np.ndarray, rows=None) -> None:
    rows = np.arange(len(codes)) if rows is None else rows
    codes[rows[:, None], starts[:, None] + np.arange(instances.shape[1])] = instances


def _plant_presence(codes, pwm, positive, rng) -> tuple[np.ndarray, dict]:
    n, length = codes.shape
    width = pwm.shape[1]
    instances = sample_from_pwm(pwm, n, rng)
    shuffled = rng.permuted(instances, axis=1)
    instances[~positive] = shuffled[~positive]
    starts = rng.integers(0, length - width + 1, size=n)
    _place(codes, instances, starts)
    columns = {
        "motif_start": np.where(positive, starts, -1).astype(np.int64),
        "decoy_start": np.where(positive, -1, starts).astype(np.int64),  # where a negative's shuffled copy lies
    }
    return np.where(positive, "positive", "negative"), columns


def _plant_arrangement(codes, pwms, params: SequenceSimulationParams, rng) -> tuple[np.ndarray, dict]:
    n, length = codes.shape
    names = params.motif.split("+")
    if params.task == "which":  # balanced classes, one instance of the class's motif each
        which = rng.permutation(np.arange(n) % len(pwms))
        starts = np.zeros(n, dtype=np.int64)
        for index, pwm in enumerate(pwms):
            rows = np.flatnonzero(which == index)
            starts[rows] = rng.integers(0, length - pwm.shape[1] + 1, size=len(rows))
            _place(codes, sample_from_pwm(pwm, len(rows), rng), starts[rows], rows)
        return np.asarray(names, dtype=object)[which].astype(str), {"motif_start": starts}
    (a, b), (width_a, width_b) = pwms, (pwms[0].shape[1], pwms[1].shape[1])
    positive = rng.permutation(np.arange(n) < round(params.positive_fraction * n))
    free = length - width_a - width_b  # the largest gap that fits
    gaps = rng.integers(0, free + 1, size=n)
    if params.task == "spacing":  # negatives: any gap but the fixed one
        gaps[positive] = params.spacing
        clash = ~positive & (gaps == params.spacing)
        gaps[clash] = (params.spacing + rng.integers(1, free + 1, size=clash.sum())) % (free + 1)
        a_first = np.ones(n, dtype=bool)
    else:  # order
        a_first = positive
    first = rng.integers(0, free - gaps + 1)
    width_first = np.where(a_first, width_a, width_b)
    second = first + width_first + gaps
    start_a, start_b = np.where(a_first, first, second), np.where(a_first, second, first)
    _place(codes, sample_from_pwm(a, n, rng), start_a)
    _place(codes, sample_from_pwm(b, n, rng), start_b)
    if params.task == "spacing":
        labels = np.where(positive, f"gap_{params.spacing}", "other_gap")
    else:
        labels = np.where(positive, f"{names[0]}_first", f"{names[1]}_first")
    return labels, {"motif_start": start_a.astype(np.int64), "second_motif_start": start_b.astype(np.int64)}


def sequence_codes(adata: ad.AnnData, where: str = "the data", min_sequences: int = 1) -> np.ndarray:
    """``X`` as N x L ``int64`` codes, checked as by :func:`check_sequences` (with at least ``min_sequences`` rows)."""
    _check(adata, where, min_sequences)
    X = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    return X.astype(np.int64)


def check_sequences(adata: ad.AnnData, where: str) -> None:
    """QC of a sequences data set: X holds integer codes over its alphabet, padding only at a sequence's end, at
    least 2 sequences."""
    _check(adata, where, 2)


def _check(adata: ad.AnnData, where: str, min_sequences: int) -> None:
    alphabet = alphabet_of(adata)
    coding = ", ".join(f"{letter}={code}" for code, letter in enumerate(alphabet[:4])) + (
        ", ..." if len(alphabet) > 4 else ""
    )
    if adata.X is None:
        raise LifedlError(f"{where}: no X; a sequences data set holds one sequence per row of X as codes {coding}.")
    X = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    if X.ndim != 2 or X.shape[1] < 1:
        raise LifedlError(f"{where}: X has shape {X.shape}; it must be sequences x positions (integer codes).")
    if adata.n_obs < min_sequences:
        raise LifedlError(
            f"{where}: {adata.n_obs} sequence(s); at least {min_sequences} are needed"
            + (" to train or evaluate a model." if min_sequences > 1 else ".")
        )
    if X.dtype.kind not in "iu":
        raise LifedlError(
            f"{where}: X has dtype {X.dtype}, not integer codes; store sequences with "
            f"lifedl.data.sequences.encode (uint8, {coding})."
        )
    pad = len(alphabet)
    bad = np.flatnonzero(((X < 0) | (X > pad)).any(axis=1))
    if len(bad):
        raise LifedlError(
            f"{where}: sequence {bad[0]} ('{adata.obs_names[bad[0]]}') has codes outside 0..{pad - 1} "
            f"({len(bad)} such sequences); codes are {coding} over the {alphabet_name(alphabet)} alphabet "
            f"{alphabet} ({pad} pads a shorter sequence's end): re-encode the sequences with "
            "lifedl.data.sequences.encode, dropping those with other letters."
        )
    padded = X == pad
    # padding is a suffix: no letter after a pad code, and at least one letter
    bad = np.flatnonzero((padded[:, :-1] & ~padded[:, 1:]).any(axis=1) | padded[:, 0])
    if len(bad):
        raise LifedlError(
            f"{where}: sequence {bad[0]} ('{adata.obs_names[bad[0]]}') has the pad code {pad} before a letter or "
            f"no letter at all ({len(bad)} such sequences); padding only fills a sequence's end. Re-encode them "
            "with lifedl.data.sequences.encode(..., pad=True)."
        )


def training_rows(
    adata: ad.AnnData, spec: DatasetSpec, arch: str
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """The codes and labels (as strings) of the rows a model may train or tune on, the sorted classes, and each
    row's split ('train' or 'validation', :mod:`lifedl.data.splits`).

    Test rows and those of the held-out class are left out: no model or tuning sees them.
    """
    keep, labels = spec.labelled_training_rows(adata, arch, unit="sequence")
    codes = sequence_codes(adata, spec.where, min_sequences=2)[keep]
    return codes, labels, sorted(set(labels)), split_of(adata, spec.where)[keep]


def fasta_text(data: bytes, where: str) -> str:
    """A FASTA file's text, gunzipped first where it is gzip-compressed (``.fa.gz``: by its magic bytes)."""
    import gzip
    import zlib

    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise LifedlError(
                f"{where}: a gzip-compressed file that does not decompress ({error}); is it whole?"
            ) from None
    return data.decode("utf-8-sig", errors="replace")  # -sig: a byte-order mark is no letter before the header


def read_fasta(text: str, where: str) -> tuple[list[str], list[str]]:
    """Headers (up to the first space) and sequences of a FASTA text; sequences may span lines."""
    names, sequences, lines = [], [], None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line.startswith(">"):
            names.append(line[1:].split(maxsplit=1)[0] if line[1:].strip() else f"sequence{len(names)}")
            lines = []
            sequences.append(lines)
        elif line and not line.startswith(";"):
            if lines is None:
                raise LifedlError(f"{where}: line {number} holds letters before any '>' header; is this FASTA?")
            lines.append(line)
    if not names:
        raise LifedlError(f"{where}: no '>' header; a FASTA file starts each sequence with a '>name' line.")
    empty = [name for name, parts in zip(names, sequences) if not parts]
    if empty:  # blamed on the sequences' lengths before, or read as sequences of length 0 when all were empty
        raise LifedlError(
            f"{where}: {len(empty)} header(s) have no sequence after them (e.g. {empty[:3]}); put each sequence's "
            "letters on the lines below its '>name', or drop the empty records."
        )
    return names, ["".join(parts) for parts in sequences]


def sequences_from_fasta(files: list[tuple[str, str, str, str]]) -> ad.AnnData:
    """One sequences data set from FASTA texts, each of one class: ``files`` holds (where, text, label, split).

    Rows are named label:header; obs 'label' and 'split' (train or test) say where each came from."""
    names, sequences, labels, splits, sources = [], [], [], [], []
    for where, text, label, split in files:
        headers, letters = read_fasta(text, where)
        repeated = sorted(header for header, n in Counter(headers).items() if n > 1)
        if repeated:  # rows are named by their headers: two sequences under one name could not be told apart
            raise LifedlError(
                f"{where}: {len(repeated)} header(s) name more than one sequence (e.g. {repeated[:3]}); give each "
                "sequence its own '>name' (e.g. append its position or a running number)."
            )
        names += [f"{label}:{header}" for header in headers]
        sequences += letters
        labels += [label] * len(headers)
        splits += [split] * len(headers)
        sources += [where] * len(headers)
    where = files[0][0] if len(files) == 1 else f"{len(files)} FASTA files"
    try:
        codes = encode(sequences, names)
    except LifedlError as error:
        raise LifedlError(f"{where}: {error}") from error
    _check_each_sequence_once(sequences, names, sources, where)
    obs = pd.DataFrame(
        {
            "label": pd.Categorical(labels, categories=sorted(set(labels))),
            "split": pd.Categorical(splits, categories=sorted(set(splits) | {"train"})),
        },
        index=names,
    )
    adata = ad.AnnData(X=codes, obs=obs, var=pd.DataFrame(index=[str(i) for i in range(1, codes.shape[1] + 1)]))
    adata.uns[ALPHABET_KEY] = DNA
    return adata


def _check_each_sequence_once(sequences: list[str], names: list[str], sources: list[str], where: str) -> None:
    """One record per sequence (either case): a sequence in two records could be trained on and scored at once,
    or carry two labels."""
    letters = pd.Series([sequence.upper() for sequence in sequences])
    repeated = letters[letters.duplicated(keep=False)]
    if len(repeated):
        rows = [f"'{names[i]}' ({sources[i]})" for i in repeated.index[repeated == repeated.iloc[0]]]
        raise LifedlError(
            f"{where}: {repeated.nunique()} sequence(s) appear in more than one record, e.g. in {', '.join(rows)}; "
            "a sequence in two records could be trained on and scored at once, or carry two labels. Keep one record "
            "per sequence (e.g. seqkit rmdup -s), under one label."
        )


def sequences_from_labelled_csv(text: str, where: str, alphabet: str = PROTEIN) -> ad.AnnData:
    """One sequences data set from a scikit-learn-style labelled CSV (as in modlAMP's data sets): a first line
    ``n_samples,n_features,CLASS_0,CLASS_1,...`` (here one feature, the sequence), then one ``sequence,label`` row
    per sample, the label the index of its class name. Sequences of unequal length are padded, not cut.

    A sequence in several rows is kept once where its rows agree on the class and dropped where they disagree
    (it could otherwise be trained on and scored at once, or carry two labels); the counts are printed and kept
    in ``uns['duplicates']``."""
    import csv
    import io

    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]] if rows else []
    if len(header) < 4 or not header[0].isdigit() or header[1] != "1":
        raise LifedlError(
            f"{where}: the first line is {header[:6]}; a labelled sequence CSV starts with "
            "'n_samples,1,CLASS_0,CLASS_1,...' (scikit-learn's layout: one feature, the sequence, then the class "
            "names), followed by 'sequence,label' rows."
        )
    n_samples, class_names, body = int(header[0]), header[2:], rows[1:]
    if len(body) != n_samples:
        raise LifedlError(
            f"{where}: the first line announces {n_samples} samples, but {len(body)} rows follow; is the file whole?"
        )
    sequences, labels = [], []
    for number, row in enumerate(body, start=2):
        cells = [cell.strip() for cell in row]
        if len(cells) != 2 or not cells[1].isdigit() or int(cells[1]) >= len(class_names):
            raise LifedlError(
                f"{where}: line {number} is {row}; each row holds a sequence and its class index 0.."
                f"{len(class_names) - 1} ({', '.join(class_names)})."
            )
        sequences.append(cells[0].upper())
        labels.append(class_names[int(cells[1])])
    table = pd.DataFrame({"sequence": sequences, "label": labels})
    classes_per_sequence = table.groupby("sequence")["label"].nunique()
    conflicting = classes_per_sequence.index[classes_per_sequence > 1]
    repeated = table["sequence"].duplicated(keep=False) & ~table["sequence"].isin(conflicting)
    kept = table[~table["sequence"].isin(conflicting) & ~table["sequence"].duplicated(keep="first")]
    duplicates = {
        "rows_read": len(table),
        "sequences_in_several_rows": int(table.loc[repeated, "sequence"].nunique()),
        "sequences_with_two_classes_dropped": len(conflicting),
        "rows_kept": len(kept),
    }
    if len(kept) < len(table):
        print(
            f"{where}: {duplicates['rows_read']} rows, {duplicates['rows_kept']} kept: "
            f"{duplicates['sequences_in_several_rows']} sequences in several rows of one class kept once, "
            f"{duplicates['sequences_with_two_classes_dropped']} sequences labelled with two classes dropped",
            flush=True,
        )
    names = [f"{label}:{index}" for label, index in zip(kept["label"], kept.index)]
    try:
        codes = encode(kept["sequence"].tolist(), names, alphabet=alphabet, pad=True)
    except LifedlError as error:
        raise LifedlError(f"{where}: {error}") from error
    obs = pd.DataFrame(
        {
            "label": pd.Categorical(kept["label"].to_numpy(), categories=sorted(set(class_names))),
            "length": sequence_lengths(codes, alphabet).astype(np.int64),
        },
        index=names,
    )
    adata = ad.AnnData(X=codes, obs=obs, var=pd.DataFrame(index=[str(i) for i in range(1, codes.shape[1] + 1)]))
    adata.uns[ALPHABET_KEY] = alphabet
    adata.uns["duplicates"] = duplicates
    return adata
