"""The deep generative decoder: representations without an encoder, under a learned mixture prior."""

import lightning as L
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from fast_training import FAST_PARAMS, fit

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.errors import LifedlError
from lifedl.models import get_architecture
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.dgd import _network
from lifedl.nn.optim import frozen
from lifedl.pl.dgd import dgd_latent_figure, dgd_subcluster_figure, generation_figure
from lifedl.pp.counts import counts_matrix
from lifedl.train.context import TrainingContext
from lifedl.train.loops import DGDTraining
from lifedl.train.plans import fit_architecture

SMALL = SimulationParams(n_cells=400, n_genes=300, n_types=4, seed=3, mean_library_size=1500)  # = small_counts
EPOCHS = 20


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models take many tiny steps, which a second thread does not speed up; on a shared CPU its
    OpenMP barriers made them several times slower. The session's setting comes back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class History(L.Callback):
    """Per-epoch train/* and val/* metrics, and the network's weights when training ends (the last epoch's)."""

    def __init__(self):
        self.epochs, self.final_state = [], {}

    def on_train_epoch_end(self, trainer, module):
        self.epochs.append(dict(module.epoch_means))

    def on_train_end(self, trainer, module):
        self.final_state = {k: v.detach().clone() for k, v in module.network.state_dict().items()}


def _train(adata, work_dir, callbacks=(), seed=0, **overrides):
    """The notebook API: a fresh directory of its own inside ``work_dir``, so it never resumes."""
    return fit("dgd", adata, work_dir, seed=seed, callbacks=callbacks, **overrides)


def _train_in(adata, work_dir, callbacks=(), seed=0, **overrides):
    """Trained with ``work_dir`` itself as the run's directory: a second call resumes from its last.ckpt."""
    params = get_architecture("dgd").resolve_params({**FAST_PARAMS["dgd"], **overrides})
    context = TrainingContext(seed=seed, work_dir=work_dir, callbacks=list(callbacks))
    return fit_architecture(adata, "dgd", params, context, DatasetSpec(id="test"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One DGD trained for EPOCHS epochs on small_counts' cells, with its per-epoch history."""
    adata = simulate_counts(SMALL)
    history = History()
    model = _train(
        adata,
        tmp_path_factory.mktemp("dgd"),
        [history],
        max_epochs=EPOCHS,
        patience=EPOCHS,
        learning_rate=3e-3,
        representation_learning_rate=0.05,
    )
    adata.obsm["X_dgd"] = model.embed(adata)
    model.annotate(adata)
    return model, adata, history


def test_training_loss_falls_and_the_mixture_density_improves(trained):
    model, cells, history = trained
    assert len(history.epochs) == EPOCHS
    train_loss = [e["train/loss"] for e in history.epochs]
    # train/prior is -log p(z) per cell (plus the hyper-prior's share): lower means a higher mixture density
    prior = [e["train/prior"] for e in history.epochs]
    assert np.isfinite(train_loss).all() and np.isfinite(prior).all()
    assert min(train_loss[-3:]) < 0.8 * train_loss[0]
    assert min(prior[-3:]) < prior[0] - 5.0
    assert min(e["val/loss"] for e in history.epochs[-3:]) < 0.9 * history.epochs[0]["val/loss"]
    assert model.final_metrics["epochs_trained"] == EPOCHS and np.isfinite(model.final_metrics["best_val_loss"])
    test = (cells.obs["lifedl_split"] == "test").to_numpy()  # the split fit_architecture drew: never trained on
    scores = model.test_scores(cells[test], cells[~test])
    assert np.isfinite(scores["test_gmm_log_density_per_cell"])
    assert -5000 < scores["test_loglik_fitted_z_per_cell"] < 0  # the full NB log-likelihood per cell


def test_representations_of_new_cells_converge(trained):
    model, _, _ = trained
    # New cells from the same generative process as the training cells
    new = simulate_counts(SimulationParams(n_cells=60, n_genes=300, n_types=4, seed=3, mean_library_size=1500))
    counts = counts_matrix(new, model.gene_names)
    model.params["embed_steps"] = 40
    try:
        z, losses = model.fit_representations(counts)
    finally:
        model.params["embed_steps"] = FAST_PARAMS["dgd"]["embed_steps"]
    assert z.shape == (60, 4) and len(losses) == 41 and np.isfinite(losses).all()
    drop = losses[0] - losses[-1]
    assert drop > 0.3  # the optimisation improves on the best component mean it starts from
    assert abs(losses[-1] - losses[-11]) < 0.05 * drop  # and has settled by the last steps


def test_embedding_freezes_the_network_while_it_steps_and_changes_no_gradient(trained):
    model, adata, _ = trained
    network = model.network
    before = {name: value.clone() for name, value in network.state_dict().items()}
    model.embed(adata[:30].copy())
    assert all(parameter.requires_grad and parameter.grad is None for parameter in network.parameters())
    for name, value in network.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    # Freezing and the chunk's coordinates change which gradients are worked out, not the representations' own
    x = torch.from_numpy(counts_matrix(adata[:30], model.gene_names).toarray())
    z = torch.randn(30, network.n_latent, generator=torch.Generator().manual_seed(0), requires_grad=True)
    (expected,) = torch.autograd.grad(network.loss_per_cell(x, z, None)["reconstruction"].sum(), [z])
    with frozen(network):
        reconstruction = network.loss_per_cell(x, z, None, torch.nonzero(x).T)["reconstruction"]
        (gradient,) = torch.autograd.grad(reconstruction.sum(), [z])
    torch.testing.assert_close(gradient, expected)


def test_annotate_writes_the_most_likely_component(trained):
    model, adata, _ = trained
    components = adata.obs["dgd_component"]
    assert components.dtype == "category" and len(components) == adata.n_obs
    with torch.no_grad():
        expected = model.network.mixture.component_log_probs(torch.as_tensor(adata.obsm["X_dgd"])).argmax(-1)
    assert components.astype(str).tolist() == [str(k) for k in expected.tolist()]
    assert set(components.cat.categories) <= {str(k) for k in range(FAST_PARAMS["dgd"]["n_components"])}
    with pytest.raises(LifedlError, match="obsm\\['X_dgd'\\]"):
        model.annotate(simulate_counts(SMALL))


def test_checkpoint_round_trip_embeds_samples_and_annotates_identically(trained, tmp_path):
    model, adata, _ = trained
    save_checkpoint(model, tmp_path / "model.ckpt")
    loaded = load_model(tmp_path / "model.ckpt")
    cells = adata[:50].copy()
    np.testing.assert_array_equal(loaded.embed(cells), model.embed(cells))
    np.testing.assert_array_equal(loaded.sample(20, 1500, seed=4), model.sample(20, 1500, seed=4))
    assert loaded.final_metrics == model.final_metrics


def test_sample_gives_integer_counts_at_the_requested_library_sizes(trained, tmp_path):
    model, adata, _ = trained
    library_sizes = np.full(200, 2000.0)
    counts = model.sample(200, library_sizes, seed=1)
    assert counts.shape == (200, adata.n_vars) and np.issubdtype(counts.dtype, np.integer) and counts.min() >= 0
    assert abs(counts.sum(1).mean() / 2000.0 - 1) < 0.1
    np.testing.assert_array_equal(counts, model.sample(200, library_sizes, seed=1))
    assert not np.array_equal(counts, model.sample(200, library_sizes, seed=2))
    with pytest.raises(LifedlError, match="library_sizes"):
        model.sample(3, [100.0, -1.0, 5.0])
    # The VAE generates the same way, from z ~ N(0, I).
    vae_model = fit("vae", adata, tmp_path)
    vae_counts = vae_model.sample(50, 1500, seed=0)
    assert vae_counts.shape == (50, adata.n_vars) and np.issubdtype(vae_counts.dtype, np.integer)
    assert vae_counts.min() >= 0 and abs(vae_counts.sum(1).mean() / 1500 - 1) < 0.15


def test_validation_cells_never_reach_the_decoder(tmp_path):
    # Direct: a validation step, run as Lightning runs it (inference mode), leaves gradients only on the
    # held-out representations of its batch.
    params = get_architecture("dgd").resolve_params(FAST_PARAMS["dgd"])
    network = _network(300, params)
    module = DGDTraining(network, 10, 6, params, seed=0)
    counts = torch.from_numpy(counts_matrix(simulate_counts(SMALL)[:4]).toarray())
    before = {k: v.clone() for k, v in network.state_dict().items()}
    with torch.inference_mode():
        module.validation_step({"counts": counts, "row": torch.tensor([0, 2, 3, 5])}, 0)
    assert all(p.grad is None for p in network.parameters()) and module.train_representations.grad is None
    gradient = module.val_representations.grad
    assert gradient[[0, 2, 3, 5]].abs().sum(-1).min() > 0 and gradient[[1, 4]].abs().sum() == 0
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())

    # End to end: scrambling the held-out cells' counts changes the validation loss, not one decoder weight.
    adata = simulate_counts(SMALL)
    add_splits(adata, DatasetSpec(id="small"))
    split = adata.obs["lifedl_split"].to_numpy()
    train_index, val_index = np.flatnonzero(split == "train"), np.flatnonzero(split == "validation")
    rows = np.arange(adata.n_obs)
    rows[val_index] = np.random.default_rng(0).choice(train_index, len(val_index))  # held-out cells get others' counts
    scrambled = adata.copy()
    scrambled.layers["counts"] = adata.layers["counts"][rows]
    runs = []
    for name, data in (("real", adata), ("scrambled", scrambled)):
        history = History()
        _train(data, tmp_path / name, [history], max_epochs=4, patience=4)
        runs.append(history)
    assert runs[0].epochs[-1]["val/loss"] != runs[1].epochs[-1]["val/loss"]
    assert runs[0].epochs[-1]["train/loss"] == runs[1].epochs[-1]["train/loss"]
    for key, value in runs[0].final_state.items():
        assert torch.equal(value, runs[1].final_state[key]), key


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    adata = simulate_counts(SimulationParams(n_cells=150, n_genes=60, n_types=3, seed=5))
    settings = {"patience": 12, "batch_size": 64}
    straight = _train_in(adata, tmp_path / "straight", max_epochs=12, **settings)
    _train_in(adata, tmp_path / "resumed", max_epochs=10, **settings)  # writes last.ckpt at epoch 10
    assert (tmp_path / "resumed" / "last.ckpt").is_file()
    resumed = _train_in(adata, tmp_path / "resumed", max_epochs=12, **settings)
    assert resumed.final_metrics == straight.final_metrics
    for key, value in straight.network.state_dict().items():
        assert torch.equal(value, resumed.network.state_dict()[key]), key


def test_non_integer_counts_are_a_clear_error(tmp_path):
    adata = simulate_counts(SimulationParams(n_cells=200, n_genes=50, seed=1))
    adata.layers["counts"] = adata.layers["counts"] * 0.5
    with pytest.raises(LifedlError, match="non-integer"):
        _train(adata, tmp_path)


def test_figures_have_their_panels(trained):
    model, adata, _ = trained
    latent = dgd_latent_figure(adata, "cell_type")
    assert len(latent.axes) == 2
    subclusters = dgd_subcluster_figure(adata, seed=0)
    assert len(subclusters.axes) == 3  # sub-clusters, marker dot plot, its colour bar
    samples = {"dgd": model.sample(100, 1500, seed=0), "vae": model.sample(100, 1500, seed=1)}
    generation = generation_figure(adata, samples)
    assert len(generation.axes) == 6  # real + 2 models on the real PCA; library sizes + 2 gene-mean panels
    for figure in (latent, subclusters, generation):
        plt.close(figure)
    with pytest.raises(LifedlError, match="shape"):
        generation_figure(adata, {"bad": np.zeros((5, 3))})
