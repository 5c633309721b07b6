"""DNA and peptide sequences: the GC and k-mer baselines, the CNN (one-hot, MC dropout, k-mer embedding), the BiLSTM, the
transformer, and the deep Q-network designers. Why each default is what it is: docs/architectures.md."""

from lifedl.models.registry import family

# mc_samples: dropout passes averaged at prediction (MC dropout; 0 = the deterministic network), as the cell
# classifiers.
CNN_NETWORK = {
    "n_filters": 32,
    "filter_width": 15,
    "n_hidden": 32,
    "dropout": 0.1,
    "reverse_complement": False,
    "mc_samples": 0,
}
# Peptides (20 letters, 7-174 long): filters of 9 amino acids, about two and a half turns of an alpha helix,
# where a DNA filter spans 15 letters; the shortest peptides are then read with zero padding past their end.
PEPTIDE_CNN = {"filter_width": 9}
# gradient_clip: the largest gradient norm a step applies (0: no clipping); the norm is logged either way.
SEQUENCE_TRAINING = {
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 64,
    "max_epochs": 30,
    "patience": 5,
    "gradient_clip": 0.0,
}
# The deep Q-network designer (lifedl.models.dqn). motif "": the data set's planted motif; length 0: the motif's
# width (one window: designing a binding site); episode_steps 0: length. An agent has no validation rows: gamma and
# the hidden units are chosen per run in another environment than the scored one (search_trial: the MAFK motif,
# which no data set's dqn is scored on; lifedl.train.plans.search_on_validation), by the greedy policy's fraction
# of the optimum (docs/architectures.md).
DQN = {
    "motif": "",
    "length": 0,
    "episode_steps": 0,
    "episodes": 200,
    "n_hidden": 128,
    "learning_rate": 1e-3,
    "batch_size": 64,
    "gamma": 0.5,
    "replay_size": 10000,
    "warmup_steps": 500,
    "target_sync": 200,
    "epsilon_final": 0.05,
    "exploration_fraction": 0.5,
    "search": {"gamma": [0.5, 0.9], "n_hidden": [128, 256]},
    "search_metric": "policy_fraction",
    "search_trial": {"motif": "MAFK"},
}

# The transformers' shape (lifedl.models.sequence.TRANSFORMER_SHAPE); a fine-tuned one has its pre-trained one's.
TRANSFORMER_NETWORK = {"d_model": 32, "n_heads": 4, "n_layers": 2, "dropout": 0.1, "embedding_dim": 32}
LETTER_TOKENS = {"embedding_k": 1, "token_stride": 1}
TRANSFORMER_TRAINING = {**SEQUENCE_TRAINING, "gradient_clip": 1.0}
# the share of the training rows whose labels a classifier reads (1: all; the learning curve's fewer), every
# validation row kept
ALL_LABELS = {"label_fraction": 1.0}

baseline = family(
    module="lifedl.models.kmer",
    data_kind="sequences",
    task="classifier",
    plan="none",
    baseline="",
    needs=("labels",),
    deterministic=True,
)
network = family(
    module="lifedl.models.sequence",
    data_kind="sequences",
    task="classifier",
    baseline="kmer",
    needs=("labels",),
    capabilities=frozenset({"gradient_norms", "probability_draws"}),
)
pretrainer = family(
    module="lifedl.models.pretraining",
    data_kind="sequences",
    task="pretraining",
    baseline="",
    default_run=False,
    capabilities=frozenset({"gradient_norms"}),
)
designer = family(module="lifedl.models.dqn", data_kind="sequences", task="designer", plan="agent", baseline="")

ENTRIES = (
    baseline("gc", "logistic regression on GC content alone: how far composition separates the classes", {"C": 1.0}),
    baseline(
        "kmer",
        "logistic regression on k-mer frequencies (reverse complements pooled), k and C chosen on the validation "
        "rows; the sequence baseline",
        # shorter_kmers: the frequencies of every shorter k-mer beside the k-mers' (composition + dipeptides at k 2)
        {"k_values": [1, 2, 3, 4, 5, 6], "C_values": [0.01, 0.1, 1.0, 10.0], "shorter_kmers": False},
        # peptides: amino-acid composition (k 1) or composition + dipeptides (k 2), the peptide field's classic
        # features; 20^3 tripeptides would outnumber the training peptides. C up to 100: on modlAMP's peptides
        # validation chose 10, the top of the DNA grid
        alphabet_defaults={
            "protein": {"k_values": [1, 2], "shorter_kmers": True, "C_values": [0.01, 0.1, 1.0, 10.0, 100.0]}
        },
    ),
    network(
        "cnn",
        "1-D CNN on one-hot DNA: convolution, ReLU, global max pooling, dense (DeepBind)",
        {**CNN_NETWORK, "embedding_dim": 0, "embedding_k": 1, **SEQUENCE_TRAINING},
        alphabet_defaults={"protein": PEPTIDE_CNN},
        figures=("cnn_motif", "filter_logos"),
        capabilities=frozenset({"motif_filters", "gradient_norms", "probability_draws"}),
    ),
    network(
        "cnn_mc_dropout",
        "the same one-hot CNN with dropout kept on at prediction, averaged over mc_samples passes (MC dropout)",
        {**CNN_NETWORK, "mc_samples": 30, "embedding_dim": 0, "embedding_k": 1, **SEQUENCE_TRAINING},
        alphabet_defaults={"protein": PEPTIDE_CNN},
        baseline="cnn",
        figures=("sequence_calibration",),
        default_run=False,
    ),
    network(
        "cnn_embed",
        "the same CNN on a learned embedding of overlapping k-mers instead of one-hot letters",
        # 3-mers and a width of 13 k-mers see the same 15 letters as the one-hot CNN's filters.
        {**CNN_NETWORK, "filter_width": 13, "embedding_dim": 8, "embedding_k": 3, **SEQUENCE_TRAINING},
        alphabet_defaults={"protein": {**PEPTIDE_CNN, "embedding_k": 1}},  # one learned vector per amino acid
        figures=("kmer_embedding",),
    ),
    network(
        "bilstm",
        "bidirectional LSTM over one-hot DNA, max- and mean-pooled, with gradient-norm clipping",
        {
            "n_hidden": 32,
            "n_layers": 1,
            "dropout": 0.1,
            "embedding_dim": 0,
            "embedding_k": 1,
            **SEQUENCE_TRAINING,
            "learning_rate": 3e-3,
            "gradient_clip": 1.0,
        },
        figures=("gradient_norms",),
        capabilities=frozenset({"gradient_norms"}),
    ),
    network(
        "transformer",
        "transformer encoder over k-mer tokens: sinusoidal positions, multi-head self-attention, mean pooling",
        {
            **TRANSFORMER_NETWORK,
            # 4-mers every 2 letters, chosen on validation (docs/architectures.md)
            "embedding_k": 4,
            "token_stride": 2,  # k-mers every token_stride letters: attention costs (L / stride)^2
            **TRANSFORMER_TRAINING,
            **ALL_LABELS,
        },
        alphabet_defaults={"protein": LETTER_TOKENS},
        figures=("attention_maps",),
        capabilities=frozenset({"gradient_norms"}),
    ),
    pretrainer(
        "transformer_mlm",
        "the transformer pre-trained by masked-token prediction (BERT) on the non-test sequences without labels: "
        "15 % of the letters hidden and predicted from the rest, beside the letters' frequencies",
        # one token per letter: overlapping k-mers would spell out a hidden one's letters
        {**TRANSFORMER_NETWORK, **LETTER_TOKENS, **TRANSFORMER_TRAINING, "hidden_share": 0.15},
    ),
    network(
        "transformer_finetuned",
        "the same transformer (one token per letter) started from transformer_mlm's encoder and fine-tuned on the "
        "labels; against the same network from scratch on the same share of the labels (the learning curve)",
        {**TRANSFORMER_NETWORK, **LETTER_TOKENS, **TRANSFORMER_TRAINING, **ALL_LABELS},
        uses_models=("transformer_mlm",),
        compared_with=("transformer",),
        capabilities=frozenset({"gradient_norms"}),
        default_run=False,
    ),
    designer(
        "dqn",
        "deep Q-network designing DNA by point edits toward a JASPAR motif's optimum (replay, target network, "
        "epsilon-greedy); against random edits and greedy hill climbing on the same budget",
        DQN,
        figures=("design_curves",),
    ),
    designer(
        "dqn_oracle",
        "the same deep Q-network rewarded by a learned oracle, the data set's trained cnn (its probability of "
        "oracle_class), instead of the motif; the designs' PWM score says whether the oracle's taste is the motif",
        # its reward is the data set's own classifier, so there is no unscored environment to tune it in
        {**DQN, "oracle_class": "positive", "search": {}, "search_trial": {}},
        figures=("oracle_design_curves",),
        uses_models=("cnn",),
        default_run=False,
    ),
)
