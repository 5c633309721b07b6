"""scArches' surgery (lifedl.nn.surgery) on lifedl's count VAE: only the new batches' columns train, the reference
weights stay the same to the bit, and a reference cell is embedded exactly as the reference model embeds it."""

import pytest
import torch

from lifedl.models.mapping import BATCH_INPUT_LAYERS
from lifedl.models.vae import vae_network
from lifedl.nn.surgery import WithQueryColumns, add_query_batches, trainable_parameters

PARAMS = {"n_latent": 4, "n_hidden": 16, "n_layers": 1, "dropout": 0.1, "likelihood": "nb"}


@pytest.fixture
def reference():
    torch.manual_seed(0)
    return vae_network(30, PARAMS, "mlp", 2, None)


def _counts(n, seed):
    return torch.poisson(torch.full((n, 30), 2.0), generator=torch.Generator().manual_seed(seed))


def test_only_the_new_columns_train_and_the_reference_weights_do_not_move(reference):
    before = {name: value.clone() for name, value in reference.state_dict().items()}
    query = add_query_batches(reference, BATCH_INPUT_LAYERS, 1)
    assert trainable_parameters(query) == ["encoder.body.0.query_weight", "decoder_body.0.query_weight"]
    assert query.n_batches == 3 and reference.n_batches == 2
    optimiser = torch.optim.AdamW(query.parameters(), lr=1e-2, weight_decay=1e-2)  # decay would move frozen weights
    query.train()
    for step in range(20):
        batch = {"counts": _counts(64, step), "batch": torch.full((64,), 2)}
        loss = sum(query.loss(batch).values())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    moved = query.encoder.body[0].query_weight
    assert moved.abs().sum() > 0  # the new batch's column learnt something
    for name, value in reference.state_dict().items():  # the trained reference itself is untouched
        assert torch.equal(value, before[name]), name
    surgered = query.state_dict()
    for name, value in before.items():  # and so are its weights inside the query model, to the bit
        inside = name.replace("encoder.body.0.", "encoder.body.0.reference.").replace(
            "decoder_body.0.", "decoder_body.0.reference."
        )
        assert torch.equal(surgered[inside], value), name


def test_a_reference_cell_is_embedded_and_decoded_as_the_reference_model_does(reference):
    query = add_query_batches(reference, BATCH_INPUT_LAYERS, 2)
    with torch.no_grad():
        query.encoder.body[0].query_weight.normal_()  # as if trained: a reference cell's one-hot never reads them
        query.decoder_body[0].query_weight.normal_()
    reference.eval(), query.eval()
    counts, batches = _counts(10, 99), torch.tensor([0, 1] * 5)
    torch.testing.assert_close(query.encode(counts, batches)[0], reference.encode(counts, batches)[0], rtol=0, atol=0)
    z = torch.randn(10, 4)
    torch.testing.assert_close(query.decode(z, batches)[0], reference.decode(z, batches)[0], rtol=0, atol=0)
    # a query cell (batch 2 or 3) reads its own column
    assert not torch.equal(query.encode(counts, torch.full((10,), 3))[0], query.encode(counts, batches)[0])


def test_surgery_extends_linear_layers_only(reference):
    with pytest.raises(TypeError, match="linear layers"):
        add_query_batches(reference, ["encoder.body.1"], 1)  # a LayerNorm
    assert isinstance(add_query_batches(reference, BATCH_INPUT_LAYERS, 1).decoder_body[0], WithQueryColumns)
