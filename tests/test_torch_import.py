"""Whole PyTorch models into jaxnets models and back: equal outputs on LeNet-5, the Keras
convnet, a normalized 1-d convnet and an embedding-LSTM; named errors for state_dicts
that do not fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from jaxnets.cells import lstm  # noqa: E402
from jaxnets.interop import export_torch_model, load_torch_model  # noqa: E402
from jaxnets.layers import (  # noqa: E402
    activation,
    batch_norm,
    conv1d,
    dense,
    embedding,
    flatten,
    layer_norm,
    serial,
)
from jaxnets.models import keras_convnet, lenet5  # noqa: E402
from jaxnets.rnn import recurrent, stacked_rnn  # noqa: E402


def _torch_keras_convnet():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def _torch_lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
    )  # fmt: skip


@pytest.mark.parametrize(
    "ours, theirs, size",
    [(keras_convnet(), _torch_keras_convnet, 28), (lenet5(), _torch_lenet5, 32)],
    ids=["keras_convnet", "lenet5"],
)
def test_convnets_give_torchs_outputs(rng, ours, theirs, size):
    torch.manual_seed(0)
    module = theirs()
    params, state = load_torch_model(ours, (size, size, 1), module.state_dict())
    x = rng.normal(size=(4, size, size, 1)).astype(np.float32)
    y, _ = ours.apply(params, state, x)
    want = module(torch.from_numpy(x).permute(0, 3, 1, 2)).detach().numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


class _NormalizedConv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm1d(8)
        self.ln = nn.LayerNorm(8)
        self.out = nn.Linear(8 * 10, 4)

    def forward(self, x):  # x (B, L, C), channels last as in jaxnets
        h = self.bn(self.conv(x.transpose(1, 2))).relu()
        h = self.ln(h.transpose(1, 2))  # over the channels of each step
        return self.out(h.transpose(1, 2).flatten(1))  # torch's (C, L) flattening


def test_normalization_layers_and_running_statistics_carry_over(rng):
    torch.manual_seed(0)
    module = _NormalizedConv1d()
    module.train()
    for _ in range(3):  # running statistics away from their init
        module(torch.from_numpy(rng.normal(size=(16, 10, 3)).astype(np.float32) * 2 + 1))
    module.eval()
    with torch.no_grad():
        module.ln.weight.uniform_(0.5, 1.5)
        module.ln.bias.uniform_(-0.5, 0.5)
    ours = serial(
        conv1d(8, 3, padding=1), batch_norm(), activation(jax.nn.relu), layer_norm(),
        flatten(), dense(4),
    )  # fmt: skip
    params, state = load_torch_model(ours, (10, 3), module.state_dict())
    np.testing.assert_allclose(state["batch_norm"]["var"], module.bn.running_var.numpy())
    x = rng.normal(size=(5, 10, 3)).astype(np.float32)
    y, _ = ours.apply(params, state, x)
    np.testing.assert_allclose(y, module(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


class _EmbeddingLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 20)

    def forward(self, ids):
        return self.head(self.lstm(self.embed(ids))[0])


def test_an_embedding_lstm_language_model(rng):
    torch.manual_seed(0)
    module = _EmbeddingLSTM()
    ours = serial(embedding(20, 6), stacked_rnn(lstm(8), 2), dense(20))
    params, state = load_torch_model(ours, (7,), module.state_dict())
    ids = rng.integers(0, 20, size=(3, 7))
    y, _ = ours.apply(params, state, jnp.asarray(ids))
    want = module(torch.from_numpy(ids)).detach().numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    one = serial(embedding(20, 6), recurrent(lstm(8)), dense(20))
    single = _EmbeddingLSTM()
    single.lstm = nn.LSTM(6, 8, batch_first=True)
    params, state = load_torch_model(one, (7,), single.state_dict())
    np.testing.assert_allclose(
        one.apply(params, state, jnp.asarray(ids))[0],
        single(torch.from_numpy(ids)).detach().numpy(), rtol=1e-5, atol=1e-5,
    )  # fmt: skip


def test_state_dicts_that_do_not_fit_are_named():
    model = keras_convnet()
    state = _torch_keras_convnet().state_dict()
    with pytest.raises(ValueError, match=r"no module left for layer 'dense_1'"):
        load_torch_model(model, (28, 28, 1), {k: v for k, v in state.items() if "11." not in k})
    with pytest.raises(ValueError, match=r"modules no layer of the model reads: \['extra'\]"):
        load_torch_model(model, (28, 28, 1), {**state, "extra.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"layer 'dense' needs w of shape \(576, 64\); torch"):
        load_torch_model(model, (28, 28, 1), {**state, "9.weight": torch.zeros(64, 575)})
    with pytest.raises(ValueError, match=r"reads \['bias', 'weight'\] from torch module '0'"):
        load_torch_model(model, (28, 28, 1), {k: v for k, v in state.items() if k != "0.bias"})
    lm = _EmbeddingLSTM().state_dict()
    with pytest.raises(ValueError, match=r"has no 'bias_hh_l1'"):
        load_torch_model(
            serial(embedding(20, 6), stacked_rnn(lstm(8), 2), dense(20)), (7,),
            {k: v for k, v in lm.items() if k != "lstm.bias_hh_l1"},
        )  # fmt: skip


def _load(module, state_dict):
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state_dict.items()})
    return module.eval()


def _away_from_init(tree, rng):
    # Nonzero biases and statistics, so that a dropped or misplaced tensor shows.
    return jax.tree.map(lambda a: a + jnp.asarray(rng.uniform(0.1, 0.5, a.shape), a.dtype), tree)


@pytest.mark.parametrize(
    "ours, theirs, shape, to_torch",
    [
        (keras_convnet(), _torch_keras_convnet, (28, 28, 1), lambda x: x.permute(0, 3, 1, 2)),
        (lenet5(), _torch_lenet5, (32, 32, 1), lambda x: x.permute(0, 3, 1, 2)),
        (
            serial(
                conv1d(8, 3, padding=1), batch_norm(), activation(jax.nn.relu), layer_norm(),
                flatten(), dense(4),
            ),
            _NormalizedConv1d,
            (10, 3),
            lambda x: x,
        ),
    ],
    ids=["keras_convnet", "lenet5", "normalized_conv1d"],
)  # fmt: skip
def test_exported_models_give_jaxnets_outputs_in_torch(rng, ours, theirs, shape, to_torch):
    _, params, state = ours.init(jax.random.key(5), shape)
    params, state = _away_from_init(params, rng), _away_from_init(state, rng)
    module = theirs()
    exported = export_torch_model(ours, shape, params, state, module.state_dict())
    assert list(exported) == list(module.state_dict())
    _load(module, exported)
    x = rng.normal(size=(3, *shape)).astype(np.float32)
    y, _ = ours.apply(params, state, x)
    np.testing.assert_allclose(
        module(to_torch(torch.from_numpy(x))).detach().numpy(), y, rtol=1e-5, atol=1e-5
    )
    # And back: the loaded params are the ones exported.
    back, back_state = load_torch_model(ours, shape, exported)
    jax.tree.map(np.testing.assert_array_equal, back, params)
    jax.tree.map(np.testing.assert_array_equal, back_state, state)


def test_an_exported_embedding_lstm_gives_jaxnets_outputs(rng):
    ours = serial(embedding(20, 6), stacked_rnn(lstm(8), 2), dense(20))
    _, params, state = ours.init(jax.random.key(6), (7,))
    params = _away_from_init(params, rng)
    module = _EmbeddingLSTM()
    _load(module, export_torch_model(ours, (7,), params, state, module.state_dict()))
    ids = rng.integers(0, 20, size=(3, 7))
    np.testing.assert_allclose(
        module(torch.from_numpy(ids)).detach().numpy(),
        ours.apply(params, state, jnp.asarray(ids))[0], rtol=1e-5, atol=1e-5,
    )  # fmt: skip


def test_exports_that_do_not_fit_are_named():
    model = keras_convnet()
    _, params, state = model.init(jax.random.key(0), (28, 28, 1))
    like = _torch_keras_convnet().state_dict()
    with pytest.raises(ValueError, match=r"no module left for layer 'dense_1'"):
        export_torch_model(
            model, (28, 28, 1), params, state, {k: v for k, v in like.items() if "11." not in k}
        )
    with pytest.raises(ValueError, match=r"torch key '9.weight' has shape \(64, 575\)"):
        export_torch_model(
            model, (28, 28, 1), params, state, {**like, "9.weight": torch.zeros(64, 575)}
        )
    with pytest.raises(ValueError, match=r"`params` are not 'keras_convnet'"):
        export_torch_model(model, (28, 28, 1), {**params, "dense_1": {}}, state, like)
    lm = serial(embedding(20, 6), recurrent(lstm(8)), dense(20))
    _, params, state = lm.init(jax.random.key(0), (7,))
    no_bias = _EmbeddingLSTM()
    no_bias.lstm = nn.LSTM(6, 8, batch_first=True, bias=False)
    with pytest.raises(ValueError, match=r"reads \['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0'"):
        export_torch_model(lm, (7,), params, state, no_bias.state_dict())
