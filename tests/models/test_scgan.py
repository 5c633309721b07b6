"""scGAN: the WGAN-GP pieces, generation, checkpoints, training, and the realism measures."""

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from fast_training import FAST_PARAMS, fit

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import DatasetSpec
from lifedl.errors import LifedlError
from lifedl.models import get_architecture
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.scgan import Generator, ScGAN, ScGANModel, gradient_penalty
from lifedl.pl.scgan import gene_means_figure, realism_umap_figure
from lifedl.pp.counts import counts_matrix, library_size_normalise
from lifedl.tl.realism import classifier_auroc, gene_mean_correlation, mmd, realism_table
from lifedl.train.context import TrainingContext
from lifedl.train.loops import GANTraining
from lifedl.train.plans import fit_architecture

PARTS = ["train/critic", "train/generator", "train/gradient_penalty", "train/loss", "train/wasserstein_distance"]


def _params(**overrides):
    return get_architecture("scgan").resolve_params({**FAST_PARAMS["scgan"], **overrides})


def _train(adata, tmp_path, labels_key="", callbacks=(), **overrides):
    """The notebook API: a fresh directory of its own inside ``tmp_path``, so it never resumes."""
    return fit("scgan", adata, tmp_path, roles={"labels": labels_key}, callbacks=callbacks, **overrides)


def _train_in(adata, work_dir, labels_key="", callbacks=(), **overrides):
    """Trained with ``work_dir`` itself as the run's directory: a second call resumes from its last.ckpt."""
    context = TrainingContext(seed=0, work_dir=work_dir, callbacks=list(callbacks))
    return fit_architecture(adata, "scgan", _params(**overrides), context, DatasetSpec(id="test", labels=labels_key))


@pytest.fixture(scope="module")
def cells():
    """300 training cells (and 30 each to validate and test, which the GAN never reads)."""
    adata = simulate_counts(SimulationParams(n_cells=360, n_genes=120, n_types=3, seed=5, mean_library_size=1500))
    adata.obs["lifedl_split"] = pd.Categorical(np.repeat(["train", "validation", "test"], [300, 30, 30]))
    return adata


@pytest.fixture(scope="module")
def conditional_model(cells, tmp_path_factory):
    return _train(cells, tmp_path_factory.mktemp("cscgan"), labels_key="cell_type", conditional=True)


def test_lsn_layer_gives_every_generated_cell_the_fixed_total():
    generator = Generator(n_genes=50, n_latent=8, layers=[16, 32], library_size=20_000.0).train()
    cells = generator(torch.randn(40, 8)).detach()
    assert cells.min() >= 0
    torch.testing.assert_close(cells.sum(dim=1), torch.full((40,), 20_000.0), rtol=1e-5, atol=0)


class _Recording(torch.nn.Module):
    def __init__(self, critic):
        super().__init__()
        self.critic, self.inputs = critic, []

    def forward(self, x, labels=None):
        self.inputs.append(x.detach().clone())
        return self.critic(x)


def test_gradient_penalty_is_taken_on_random_points_between_real_and_generated_cells():
    real, fake = torch.rand(64, 10), torch.rand(64, 10) + 2.0
    critic = _Recording(torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)))
    gradient_penalty(critic, real, fake)
    (points,) = critic.inputs
    direction = fake - real
    t = ((points - real) * direction).sum(1) / (direction**2).sum(1)
    torch.testing.assert_close(points, real + t[:, None] * direction)  # on the line through real_i and fake_i
    assert t.min() >= 0 and t.max() <= 1  # between them
    assert t.std() > 0.1  # one epsilon per cell, not one per batch


def test_gradient_penalty_is_zero_for_a_unit_slope_linear_critic_and_positive_for_a_steeper_one():
    weight = torch.randn(10)
    weight = weight / weight.norm()
    real, fake = torch.randn(32, 10), torch.randn(32, 10)
    assert gradient_penalty(lambda x, labels=None: x @ weight, real, fake).item() < 1e-10
    steep = gradient_penalty(lambda x, labels=None: x @ (3 * weight), real, fake).item()
    assert steep == pytest.approx(4.0, rel=1e-5)  # (||3 w|| - 1)^2


def _cells_for_test():
    return simulate_counts(SimulationParams(n_cells=80, n_genes=120, n_types=2, seed=9, mean_library_size=1500))


def test_one_critic_step_lowers_the_critic_loss_and_leaves_the_generator_alone():
    torch.manual_seed(0)
    params = _params()
    network = ScGAN(120, params)
    critic_optimizer, _ = GANTraining(network, params, seed=0).configure_optimizers()
    real = torch.as_tensor(library_size_normalise(counts_matrix(_cells_for_test()), 20_000.0)[:64].toarray())
    labels = torch.zeros(64, dtype=torch.long)
    generator_before = {k: v.detach().clone() for k, v in network.generator.named_parameters()}

    def loss():
        torch.manual_seed(1)  # the same generated cells and interpolates before and after the step
        return network.critic_loss(real, labels, 64)["loss"]

    before = loss()
    critic_optimizer.zero_grad()
    before.backward()
    critic_optimizer.step()
    assert loss().item() < before.item()
    for name, value in network.generator.named_parameters():
        assert torch.equal(value, generator_before[name]), name


def test_generate_is_deterministic_per_seed_with_the_model_genes_and_types(conditional_model, cells):
    first, again, other = (conditional_model.generate(60, seed=s) for s in (3, 3, 4))
    assert first.shape == (60, cells.n_vars)
    assert list(first.var_names) == list(cells.var_names)
    np.testing.assert_array_equal(first.X, again.X)
    assert not np.allclose(first.X, other.X)
    np.testing.assert_allclose(first.X.sum(axis=1), 20_000.0, rtol=1e-4)
    assert set(first.obs["cell_type"]) <= set(cells.obs["cell_type"])
    chosen = conditional_model.generate(3, seed=0, cell_types=["type_2", "type_0", "type_2"])
    assert list(chosen.obs["cell_type"]) == ["type_2", "type_0", "type_2"]
    with pytest.raises(LifedlError, match="not seen in training"):
        conditional_model.generate(1, seed=0, cell_types=["type_9"])
    # Real cells on the generator's scale, with their types under the same obs column.
    real = conditional_model.prepare(cells)
    np.testing.assert_allclose(np.asarray(real.X.sum(axis=1)).ravel(), 20_000.0, rtol=1e-4)
    assert list(real.obs["cell_type"]) == list(cells.obs["cell_type"])


def test_checkpoint_round_trip_generates_identical_cells(conditional_model, tmp_path):
    save_checkpoint(conditional_model, tmp_path / "model.ckpt")
    loaded = load_model(tmp_path / "model.ckpt")
    assert isinstance(loaded, ScGANModel) and loaded.cell_types == conditional_model.cell_types
    original, restored = conditional_model.generate(50, seed=7), loaded.generate(50, seed=7)
    np.testing.assert_array_equal(original.X, restored.X)
    assert list(original.obs["cell_type"]) == list(restored.obs["cell_type"])


def test_conditioning_needs_a_cell_type_column(cells, tmp_path):
    with pytest.raises(LifedlError, match="names no cell-type column"):
        _train(cells, tmp_path, conditional=True)
    with pytest.raises(LifedlError, match="labels='celltype' names no obs column"):
        _train(cells, tmp_path, labels_key="celltype", conditional=True)


class _EpochParts(L.Callback):
    def __init__(self):
        self.keys, self.all_keys, self.realism = [], [], []

    def on_train_epoch_end(self, trainer, module):  # where EpochMetricsLogger reads them
        self.keys.append(sorted(k for k in module.epoch_means if k.startswith("train/")))
        self.all_keys.append(set(module.epoch_means))
        if "realism/auroc" in module.epoch_means:
            self.realism.append(module.epoch_means["realism/auroc"])


def test_training_brings_generated_gene_means_towards_the_real_ones_and_logs_every_part(cells, tmp_path):
    parts = _EpochParts()
    params = _params(max_epochs=20)
    torch.manual_seed(0)
    untrained = ScGANModel("scgan", ScGAN(cells.n_vars, params).generator, cells.var_names, params)
    model = _train(cells, tmp_path, callbacks=[parts], max_epochs=20)
    assert parts.keys == [PARTS] * 20
    real = model.prepare(cells)
    before = gene_mean_correlation(real, untrained.generate(300, seed=1))
    after = gene_mean_correlation(real, model.generate(300, seed=1))
    assert after > before + 0.3 and after > 0.5
    # 300 cells in minibatches of 64: 5 critic updates per epoch, one generator update per 5 critic updates
    assert model.final_metrics["critic_updates"] == 100 and model.final_metrics["generator_updates"] == 20


def test_realism_every_scores_generated_cells_during_training_without_changing_the_training(cells, tmp_path):
    parts = _EpochParts()
    scored = _train_in(cells, tmp_path / "scored", callbacks=[parts], max_epochs=4, realism_every=2)
    plain = _train_in(cells, tmp_path / "plain", max_epochs=4)
    assert [("realism/auroc" in keys) for keys in parts.all_keys] == [False, True, False, True]
    assert all(0.5 <= value <= 1 for value in parts.realism)  # 4 epochs: told apart from real cells
    # the measure draws no number from the training's random stream, and leaves batch norm as it found it
    np.testing.assert_array_equal(scored.generate(20, seed=0).X, plain.generate(20, seed=0).X)


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(cells, tmp_path, capsys):
    import lightning as L

    class KilledAt(L.Callback):  # stands in for a killed job: last.ckpt was written after epoch 10
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == 12:
                raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        _train_in(cells, tmp_path / "resumed", callbacks=[KilledAt()], max_epochs=14)
    assert torch.load(tmp_path / "resumed" / "last.ckpt", weights_only=False)["epoch"] == 9
    capsys.readouterr()
    resumed = _train_in(cells, tmp_path / "resumed", max_epochs=14)  # epochs 11 to 14 from last.ckpt
    assert "resuming from" in capsys.readouterr().err
    straight = _train_in(cells, tmp_path / "straight", max_epochs=14)
    np.testing.assert_array_equal(resumed.generate(20, seed=0).X, straight.generate(20, seed=0).X)
    assert resumed.final_metrics == straight.final_metrics  # the update counters came back from last.ckpt too


def _expression(seed, n_cells=240):
    adata = simulate_counts(
        SimulationParams(n_cells=n_cells, n_genes=150, n_types=3, seed=seed, mean_library_size=2000)
    )
    return library_size_normalise(counts_matrix(adata), 20_000.0)


def test_realism_measures_tell_one_distribution_from_two():
    same = _expression(seed=1)
    first, second, different = same[:120], same[120:], _expression(seed=2)[:120]
    assert abs(classifier_auroc(first, second, seed=0) - 0.5) < 0.15
    assert classifier_auroc(first, different, seed=0) > 0.95
    same_mmd, different_mmd = mmd(first, second, seed=0), mmd(first, different, seed=0)
    assert abs(same_mmd) < 0.02 and different_mmd > 0.2


def test_realism_table_puts_the_model_beside_the_real_vs_real_floor():
    real, generated = _expression(seed=3, n_cells=180), _expression(seed=4, n_cells=200)
    table = realism_table(real, generated, seed=0).set_index("comparison")
    assert list(table.index) == ["scgan", "real_vs_real"]
    assert list(table.columns) == ["n_cells", "auroc", "mmd", "mean_correlation", "variance_correlation"]
    assert table.loc["scgan", "n_cells"] == table.loc["real_vs_real", "n_cells"] == 60
    assert table.loc["real_vs_real", "auroc"] < 0.7 < table.loc["scgan", "auroc"]
    assert table.loc["real_vs_real", "mean_correlation"] > table.loc["scgan", "mean_correlation"]
    with pytest.raises(LifedlError, match="same genes"):
        realism_table(real, generated[:, :-1], seed=0)


def test_realism_table_measures_several_samples_against_the_same_real_cells():
    cells, generated = _expression(seed=3, n_cells=360), _expression(seed=4, n_cells=200)
    real, unseen_real = cells[:180], cells[180:]  # the second: cells of the real distribution the table never saw
    single = realism_table(real, generated, seed=0).set_index("comparison")
    table = realism_table(real, {"scgan": generated, "vae": unseen_real}, seed=0).set_index("comparison")
    assert list(table.index) == ["scgan", "vae", "real_vs_real"]
    assert (table["n_cells"] == 60).all()
    # the first sample and the floor are measured exactly as when the GAN is alone: same split, same cells
    pd.testing.assert_frame_equal(table.loc[["scgan", "real_vs_real"]], single)
    assert table.loc["vae", "auroc"] < 0.7 < table.loc["scgan", "auroc"]  # cells of the real distribution


def test_figures_show_real_and_generated_cells(conditional_model, cells):
    real, generated = conditional_model.prepare(cells), conditional_model.generate(200, seed=0)
    umap = realism_umap_figure(real, generated, seed=0)
    titles = [ax.get_title() for ax in umap.axes if ax.get_title()]
    assert titles == ["UMAP of real and generated cells: origin", "UMAP of real and generated cells: cell type"]
    origin = umap.axes[0]
    assert [len(collection.get_offsets()) for collection in origin.collections] == [cells.n_obs, 200]
    means = gene_means_figure(real, generated)
    expected = gene_mean_correlation(real, generated)
    assert means.axes[0].get_title() == f"mean of log1p expression (r = {expected:.3f})"
    assert len(means.axes[0].collections[0].get_offsets()) == cells.n_vars
