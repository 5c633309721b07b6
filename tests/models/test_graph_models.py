"""Molecular graphs (RDKit featurisation, scaffold split) and the graph regressors on a planted additive property."""

import io

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from local_index import MOLECULES as SMILES
from local_index import planted_property

from lifedl.data.batches import batch_loader
from lifedl.data.graphs import featurise, normalised_adjacency, parse_smiles, scaffold_split
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.errors import LifedlError
from lifedl.models import get_architecture, graph
from lifedl.models.base import FitResult

SPEC = DatasetSpec(id="mols", kind="graphs", labels="property", split="split")


def _molecules() -> ad.AnnData:
    prop = planted_property(SMILES)
    obs = pd.DataFrame(
        {"smiles": SMILES, "property": prop, "calc": np.asarray(prop) + 1.0},
        index=[f"m{i}" for i in range(len(SMILES))],
    )
    obs["split"] = np.where(np.arange(len(SMILES)) % 5 == 0, "test", "train")
    adata = ad.AnnData(X=np.zeros((len(SMILES), 0), dtype=np.float32), obs=obs)
    add_splits(adata, SPEC)  # the sheet's test rows stay test; validation drawn from the rest, as the qc rule does
    return adata


def test_featurise_pads_graphs_and_normalises_adjacency():
    graphs = featurise(["CCO", "C"], "test")
    assert graphs["features"].shape[:2] == (2, 3) and graphs["mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert (graphs["features"][1, 1:] == 0).all() and (graphs["adjacency"][1, 1:] == 0).all()
    ethanol = graphs["adjacency"][0]
    np.testing.assert_allclose(ethanol, ethanol.T)
    # C-C-O: degrees with self-loops 2, 3, 2; entry (i, j) = 1 / sqrt(d_i d_j)
    np.testing.assert_allclose(ethanol[0, 1], 1 / np.sqrt(6), rtol=1e-6)
    np.testing.assert_allclose(normalised_adjacency(np.zeros((1, 1))), [[1.0]])
    with pytest.raises(LifedlError, match="cannot parse the SMILES of 1 molecule.*row 1, 'C1CC'"):
        featurise(["CC", "C1CC"], "test")


def test_scaffold_split_keeps_each_scaffold_on_one_side():
    from rdkit.Chem.Scaffolds import MurckoScaffold

    split = scaffold_split(SMILES, "test", test_fraction=0.2)
    scaffolds = [MurckoScaffold.MurckoScaffoldSmiles(mol=m) for m in parse_smiles(SMILES, "test")]
    sides = pd.DataFrame({"scaffold": scaffolds, "split": split}).groupby("scaffold")["split"].nunique()
    assert (sides == 1).all()
    assert 0.1 <= (split == "test").mean() <= 0.4
    assert split[SMILES.index("CCCC")] == "train"  # the acyclic molecules are the largest group


def _train(setup, params, epochs=60):
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(setup.network.parameters(), lr=params["learning_rate"])
    loader = batch_loader(setup.arrays, 16, shuffle=True, seed=0)
    losses = []
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        total = []
        for batch in loader:
            loss = sum(setup.network.loss(batch).values())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total.append(loss.item())
        losses.append(np.mean(total))
    return losses


def test_gcn_learns_an_additive_property_and_round_trips():
    adata = _molecules()
    params = {**get_architecture("gcn").defaults, "learning_rate": 1e-2}
    setup = graph.setup(adata, params, SPEC, seed=0, arch="gcn")
    assert set(setup.arrays) == {"features", "adjacency", "mask", "target"}
    losses = _train(setup, params)
    assert losses[-1] < 0.2 * losses[0]
    model = setup.finish(FitResult({}, np.arange(28), np.arange(28, 33)))  # 33 training molecules
    test = adata[adata.obs["split"] == "test"]
    predicted = model.predict(test)
    assert np.sqrt(np.mean((predicted - test.obs["property"]) ** 2)) < 0.5 * test.obs["property"].std()
    buffer = io.BytesIO()
    torch.save(model.checkpoint(), buffer)
    buffer.seek(0)
    loaded = graph.from_checkpoint(torch.load(buffer, weights_only=False))
    np.testing.assert_allclose(loaded.predict(test), predicted, rtol=1e-5)


def test_baselines_fingerprint_ridge_and_shipped_column():
    adata = _molecules()
    ridge = graph.setup(adata, get_architecture("fingerprint").defaults, SPEC, 0, "fingerprint").finish(None)
    assert ridge.final_metrics["alpha"] in get_architecture("fingerprint").defaults["alphas"]
    assert ridge.predict(adata).shape == (adata.n_obs,)
    physics = graph.setup(adata, {"column": "calc"}, SPEC, 0, "physics").finish(None)
    np.testing.assert_allclose(physics.predict(adata), adata.obs["property"] + 1.0)
    with pytest.raises(LifedlError, match="the data has no column 'dft' .*set params.physics.column"):
        graph.from_checkpoint(physics.checkpoint() | {"params": {"column": "dft"}}).predict(adata)
    with pytest.raises(LifedlError, match="no column 'dft'"):  # at setup: before any run is logged as finished
        graph.setup(adata, {"column": "dft"}, SPEC, 0, "physics")
    unlabelled = adata.copy()
    unlabelled.obs.loc["m1", "property"] = np.nan
    with pytest.raises(LifedlError, match=r"obs\['property'\] must hold a finite number"):
        graph.setup(unlabelled, get_architecture("gcn").defaults, SPEC, 0, "gcn")


@pytest.mark.parametrize(
    "damage, message",
    [
        ("test_target", r"1 row\(s\) lack a number in 'property'.*\['m0: nan'\].*test rows too"),
        ("text_target", r"lack a number in 'property'.*m3: high"),
        ("duplicate", r"1 molecule\(s\) appear in more than one row, e.g. OCCCCO in rows \['m1', 'm2'\]"),
        ("no_column", r"the labels column 'property' .* is not in the data"),
    ],
)
def test_molecule_qc_refuses_what_would_be_scored_wrongly(damage, message):
    """A test row without a target left every score empty and the runs FINISHED; a molecule in two rows could
    be trained on and scored at once."""
    from lifedl.pp.graphs import graph_qc

    adata = _molecules()
    obs = adata.obs
    if damage == "test_target":
        obs["property"] = obs["property"].astype(float)
        obs.loc["m0", "property"] = np.nan  # m0 is a test row
    elif damage == "text_target":
        obs["property"] = obs["property"].astype(object)
        obs.loc["m3", "property"] = "high"
    elif damage == "duplicate":
        obs.loc[["m1", "m2"], "smiles"] = ["OCCCCO", "C(O)CCCO"]  # one diol written two ways
    else:
        obs.drop(columns="property", inplace=True)
    with pytest.raises(LifedlError, match=message):
        graph_qc(adata, SPEC)
    graph_qc(_molecules(), SPEC)  # the undamaged data passes
