"""Reference mapping (lifedl.models.mapping): scArches' surgery trained through the workflow's own training plan
leaves the reference VAE's weights unchanged to the bit and embeds a reference cell exactly as the reference does;
surgery lowers the query's held-out loss below the reference model's and transfers labels above chance; checkpoints
alone embed the same."""

import numpy as np
import pandas as pd
import pytest
import torch
from fast_training import fit

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import split_of
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.mapping import BATCH_INPUT_LAYERS, reference_rows
from lifedl.nn.surgery import add_query_batches
from lifedl.tl.mapping import mapping_scores

ROLES = {"labels": "cell_type", "condition": "condition", "control": "control"}
VAE = {"max_epochs": 40, "patience": 40, "n_latent": 6, "n_hidden": 64, "dropout": 0.0, "learning_rate": 1e-2}
# the simulated batch effect: at this size the reference model alone already mixes the two batches; surgery is
# measured on Kang 2018 (docs/results.md), here its mechanics


@pytest.fixture(scope="module")
def cells():
    """Two batches with a strong batch effect: batch 0 the reference ('control'), batch 1 the query."""
    params = SimulationParams(n_cells=900, n_genes=200, n_types=4, n_batches=2, batch_effect_sd=0.8, seed=11)
    adata = simulate_counts(params)
    batches = adata.obs["batch"].astype(str)
    adata.obs["condition"] = np.where(batches == min(batches), "control", "query")
    rng = np.random.default_rng(0)
    adata.obs["lifedl_split"] = pd.Categorical(
        rng.choice(["train", "validation", "test"], adata.n_obs, p=[0.6, 0.2, 0.2])
    )
    return adata


@pytest.fixture(scope="module")
def reference(cells, tmp_path_factory):
    return fit("reference_vae", cells, tmp_path_factory.mktemp("reference"), roles=ROLES, **VAE)


@pytest.fixture(scope="module")
def mapped(cells, reference, tmp_path_factory):
    before = {name: value.clone() for name, value in reference.network.state_dict().items()}
    model = fit(
        "scarches",
        cells,
        tmp_path_factory.mktemp("scarches"),
        roles=ROLES,
        models={"reference_vae": reference},
        max_epochs=30,
        patience=30,
        learning_rate=1e-2,
    )
    return model, before


def _scores(model, cells):
    spec = DatasetSpec("simulated", labels="cell_type", condition="condition", control="control")
    latent, reference = model.embed(cells), reference_rows(cells, spec)
    return mapping_scores(latent, cells.obs["cell_type"], reference, split_of(cells), cells.obs["condition"])[0]


def test_surgery_leaves_the_reference_weights_unchanged_to_the_bit(mapped, reference):
    model, before = mapped
    for name, value in reference.network.state_dict().items():
        assert torch.equal(value, before[name]), name
    inside = model.network.state_dict()
    assert torch.equal(inside["encoder.body.0.reference.weight"], before["encoder.body.0.weight"])
    assert torch.equal(inside["decoder_body.0.reference.weight"], before["decoder_body.0.weight"])
    assert inside["encoder.body.0.query_weight"].abs().sum() > 0
    assert model.final_metrics["fit_seconds"] > 0


def test_a_reference_cell_is_embedded_as_the_reference_embeds_it(mapped, reference, cells):
    control = cells[(cells.obs["condition"] == "control").to_numpy()][:50].copy()
    np.testing.assert_array_equal(mapped[0].embed(control), reference.embed(control))


def _query_validation_loss(model, cells):
    """The negative ELBO per cell of the query's validation cells (which the surgery stopped on), at the latent
    means: what surgery minimises, for the reference model alone (query cells read as reference cells) and after."""
    rows = ((cells.obs["condition"] == "query") & (cells.obs["lifedl_split"] == "validation")).to_numpy()
    fields = model.trained.fields(cells[rows])
    batch = {"counts": torch.as_tensor(fields["counts"].toarray()), "batch": torch.as_tensor(fields["batch"])}
    with torch.no_grad():
        return float(sum(model.network.eval().loss(batch).values()))


def test_surgery_fits_the_query_better_than_the_reference_alone_and_transfers_labels(mapped, reference, cells):
    assert _query_validation_loss(mapped[0], cells) < _query_validation_loss(reference, cells)
    assert _scores(mapped[0], cells)["label_accuracy"] > 0.5  # four types: chance is about a quarter


def test_a_query_cell_starts_where_the_reference_puts_it(reference, cells):
    """Before training, the new batch's columns are the reference batch's: a query cell is embedded as the reference
    model embeds it."""
    query = add_query_batches(reference.network, BATCH_INPUT_LAYERS, 1).eval()
    counts = torch.as_tensor(cells.layers["counts"][:20].toarray(), dtype=torch.float32)
    as_query, as_reference = torch.ones(20, dtype=torch.long), torch.zeros(20, dtype=torch.long)
    torch.testing.assert_close(query.encode(counts, as_query)[0], reference.network.encode(counts, as_reference)[0])


@pytest.mark.parametrize("arch", ["ingest", "retrained_vae"])
def test_the_baselines_transfer_labels_above_chance(cells, tmp_path, arch):
    model = fit(arch, cells, tmp_path, roles=ROLES, **(VAE if arch == "retrained_vae" else {}))
    assert _scores(model, cells)["label_accuracy"] > 0.5  # four types: chance is about 0.25


def test_checkpoints_alone_embed_the_same(mapped, cells, tmp_path):
    save_checkpoint(mapped[0].trained, tmp_path / "scarches.ckpt")
    again = load_model(tmp_path / "scarches.ckpt")
    np.testing.assert_array_equal(again.embed(cells[:40].copy()), mapped[0].embed(cells[:40].copy()))
