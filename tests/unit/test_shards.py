"""A sharded data set's QC and highly variable genes, a block at a time, against run_qc on the whole matrix."""

import itertools

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.shards import Shards, write_shards
from lifedl.errors import LifedlError
from lifedl.pp.qc import QCParams, run_qc
from lifedl.pp.shards import qc_shards

PARAMS = QCParams(min_genes=30, min_cells=5, n_top_genes=150, max_pct_mito=15.0, outlier_mads=4.0)


@pytest.fixture(scope="module")
def cells():
    adata = simulate_counts(SimulationParams(n_cells=2400, n_genes=400, n_types=4, seed=7, mean_library_size=800))
    names = list(adata.var_names)
    names[:12] = [f"MT-{i}" for i in range(12)]  # mitochondrial genes, so the mito filter has work to do
    adata.var_names = names
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    return adata


def _sharded(cells, directory, n_shards=3):
    bounds = np.linspace(0, cells.n_obs, n_shards + 1).astype(int)
    blocks = (
        ad.AnnData(X=cells.X[a:b], obs=cells.obs.iloc[a:b], var=cells.var[[]]) for a, b in itertools.pairwise(bounds)
    )
    return write_shards(blocks, directory)


def test_sharded_qc_keeps_the_cells_and_genes_run_qc_keeps(cells, tmp_path):
    in_memory = cells.copy()
    in_memory.layers["counts"] = in_memory.X.copy()
    expected = run_qc(in_memory, PARAMS)
    shards = _sharded(cells, tmp_path / "raw")
    assert shards.n_obs == (800, 800, 800) and shards.n_cells == cells.n_obs
    for block_rows in (10_000, 333):  # a shard at a time, and blocks that cut across the shards' rows
        kept = qc_shards(shards, PARAMS, tmp_path / f"qc{block_rows}", block_rows=block_rows)
        obs = kept.obs()
        assert list(obs.index) == list(expected.obs_names)  # the same cells, in order
        assert list(kept.var_names) == list(expected.var_names)  # the same seurat_v3 genes
        counts = sp.vstack([kept.read_shard(i) for i in range(len(kept.files))])
        assert (counts != expected.layers["counts"]).nnz == 0
        for column in ("total_counts", "n_genes_by_counts", "pct_counts_mt"):
            np.testing.assert_allclose(obs[column], expected.obs[column], rtol=1e-6)
    assert 0 < expected.n_obs < cells.n_obs  # the filters removed some cells: the comparison says something


def test_shards_name_the_file_that_does_not_fit(cells, tmp_path):
    shards = _sharded(cells, tmp_path / "raw", n_shards=2)
    other = ad.AnnData(X=cells.X[:10, :-1], var=cells.var.iloc[:-1])
    other.write_h5ad(tmp_path / "raw" / "shard_99999.h5ad")
    with pytest.raises(LifedlError, match=r"shard_99999.h5ad: its genes differ from shard_00000.h5ad's"):
        Shards.open(tmp_path / "raw")
    dense = ad.AnnData(X=cells.X[:10].toarray(), var=cells.var)
    (tmp_path / "raw" / "shard_99999.h5ad").unlink()
    dense.write_h5ad(tmp_path / "raw" / "shard_99998.h5ad")
    with pytest.raises(LifedlError, match=r"shard_99998.h5ad: X is not a CSR sparse matrix"):
        Shards.open(tmp_path / "raw")
    with pytest.raises(LifedlError, match="no .h5ad shards"):
        Shards.open(tmp_path / "empty")
    assert shards.n_cells == cells.n_obs


def test_a_vae_trains_and_embeds_on_shards_a_shard_at_a_time(cells, tmp_path, monkeypatch):
    """Training reads each shard once per epoch (batches shuffled by shards, then within each, never mixed), and
    the embedding read from disk is the in-memory embedding of the same model."""
    from lifedl.data.shards import ShardedCounts
    from lifedl.data.spec import DatasetSpec
    from lifedl.models import get_architecture
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import embed_on_shards, fit_on_shards

    shards = _sharded(cells, tmp_path / "raw", n_shards=4)
    reads = []
    read_shard = Shards.read_shard
    monkeypatch.setattr(Shards, "read_shard", lambda self, shard: reads.append(shard) or read_shard(self, shard))
    spec = DatasetSpec("sharded", kind="cells", labels="cell_type")
    params = get_architecture("vae").resolve_params({"max_epochs": 3, "n_hidden": 32, "n_latent": 4})
    model = fit_on_shards(shards, "vae", params, TrainingContext(seed=0, work_dir=tmp_path / "work"), spec)
    assert model.final_metrics["epochs_trained"] == 3
    # per epoch at most each of the 4 shards once for training and once for validation (in order): a shard already
    # in memory is not read again
    assert set(reads) == {0, 1, 2, 3} and len(reads) <= 3 * 2 * 4, reads
    validation = [0, 1, 2, 3]
    assert reads[4:8] == validation and reads[:4] != validation  # training's first epoch: the shards shuffled

    embedding = embed_on_shards(model, shards)
    in_memory = cells.copy()
    in_memory.layers["counts"] = in_memory.X
    np.testing.assert_allclose(embedding, model.embed(in_memory), rtol=1e-5, atol=1e-5)
    assert embedding.shape == (cells.n_obs, 4)
    sampler_rows = ShardedCounts(shards).blocks()
    assert [len(rows) for rows in sampler_rows] == [600] * 4


def test_parts_of_a_simulation_share_its_genes_and_not_its_cells():
    params = SimulationParams(n_cells=300, n_genes=120, n_types=3, seed=4)
    first, second = simulate_counts(params, part=0), simulate_counts(params, part=1)
    for name in first.uns["gene_programs"]:
        assert list(first.uns["gene_programs"][name]) == list(second.uns["gene_programs"][name])
    assert (first.X != second.X).nnz > 0 and not set(first.obs_names) & set(second.obs_names)
    whole = simulate_counts(params)
    assert list(whole.uns["gene_programs"]["type_0_up"]) == list(first.uns["gene_programs"]["type_0_up"])


def test_shuffled_batches_mix_the_cells_of_two_shards_at_a_time():
    """Every row once per epoch; each batch draws on the two shards in memory together (shards are often
    samples: a batch of one sample's cells only would bias each step), never on a third."""
    from lifedl.data.batches import EpochShuffledBatches

    blocks = np.split(np.arange(2400), [600, 1200, 1800])
    shard_of = np.repeat(np.arange(4), 600)
    sampler = EpochShuffledBatches(2400, 128, seed=3, blocks=blocks, blocks_together=2)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert sorted(np.concatenate(batches)) == list(range(2400))
        pairs = [frozenset(shard_of[batch]) for batch in batches]
        assert all(len(pair) <= 2 for pair in pairs) and sum(len(pair) == 2 for pair in pairs) > len(pairs) // 2
        assert len(set(pairs) - {pair for pair in pairs if len(pair) == 1}) == 2  # two groups of two shards


def test_predict_batches_returns_every_row_in_order_and_refuses_a_row_count_that_differs():
    """Predictions are copied batch by batch into one array (no list of small results pinning the heap between
    the batches' dense buffers); rows come back in order, whatever the batch size, sparse or dense."""
    import torch

    from lifedl.data.batches import predict_batches

    counts = sp.random(1000, 40, density=0.2, format="csr", random_state=0, dtype=np.float32)
    dense = counts.toarray()
    for batch_size in (1, 64, 1000, 4096):
        out = predict_batches(lambda batch: batch["counts"].sum(dim=1, keepdim=True), {"counts": counts}, batch_size)
        assert out.shape == (1000, 1) and out.dtype == np.float32
        np.testing.assert_allclose(out[:, 0], dense.sum(axis=1), rtol=1e-6)
    fields = []
    predict_batches(lambda batch: fields.append(set(batch)) or batch["counts"][:, :1], {"counts": counts}, 300)
    assert fields == [{"counts"}] * 4  # no stored coordinates: a prediction reads none
    codes = np.arange(10)[:, None].repeat(3, axis=1)
    assert predict_batches(lambda batch: batch["x"] * 2, {"x": codes}, 4).tolist() == (codes * 2).tolist()
    with pytest.raises(ValueError, match="returned at least 16 rows for 10 input rows"):
        predict_batches(lambda batch: torch.cat([batch["x"], batch["x"]]), {"x": codes}, 4)


def test_batches_carry_the_stored_coordinates_of_each_sparse_field(cells, tmp_path):
    """From memory or from shards, a batch's ``counts_nonzero`` names exactly the non-zero entries of its dense
    ``counts`` (what the NB likelihood reads instead of torch.nonzero); a repeated CSR coordinate is summed once."""
    import torch

    from lifedl.data.batches import FieldBatches, nonzero_key, stored_coordinates
    from lifedl.data.shards import ShardedCounts

    rows = np.array([5, 700, 1300, 2399, 3])  # across three shards
    on_disk = FieldBatches({"counts": ShardedCounts(_sharded(cells, tmp_path / "raw"))})[rows]
    in_memory = FieldBatches({"counts": cells.X, "label": np.arange(cells.n_obs)})[rows]
    for batch in (on_disk, in_memory):
        assert next(iter(batch)) == "counts"  # the first field has one row per cell (the training step counts them)
        expected = torch.nonzero(batch["counts"]).T
        found = batch[nonzero_key("counts")]
        assert found.shape == expected.shape and set(map(tuple, found.T.tolist())) == set(
            map(tuple, expected.T.tolist())
        )
    assert nonzero_key("label") not in in_memory
    repeated = sp.csr_matrix((np.array([1.0, 2.0]), np.array([3, 3]), np.array([0, 2])), shape=(1, 5))
    assert stored_coordinates(repeated).tolist() == [[0], [3]] and repeated.nnz == 2  # the input left as it was
