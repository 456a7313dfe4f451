"""Dense, activation, flatten and embedding layers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax.test_util import check_grads

from jaxnets.layers import activation, dense, embedding, flatten


def test_dense_matches_numpy(rng):
    layer = dense(4, activation=jnp.tanh)
    out_shape, params, state = layer.init(jax.random.key(0), (3,))
    x = rng.normal(size=(2, 3)).astype(np.float32)
    y, _ = layer.apply(params, state, x)
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    assert out_shape == (4,) and params["w"].shape == (3, 4) and state == {}
    np.testing.assert_allclose(y, np.tanh(x @ w + b), rtol=1e-6)


def test_dense_applies_to_the_last_axis_of_a_sequence(rng):
    layer = dense(4)
    out_shape, params, _ = layer.init(jax.random.key(0), (5, 3))
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    y, _ = layer.apply(params, {}, x)
    assert out_shape == (5, 4)
    np.testing.assert_allclose(y[:, 2], layer.apply(params, {}, x[:, 2])[0], rtol=1e-6)


def test_dense_gradients_match_finite_differences(rng):
    with jax.enable_x64(True):
        layer = dense(4, activation=jax.nn.sigmoid, dtype=jnp.float64)
        _, params, _ = layer.init(jax.random.key(1), (3,))
        x = jnp.asarray(rng.normal(size=(2, 3)))
        check_grads(lambda p, x: layer.apply(p, {}, x)[0], (params, x), order=2)


def test_dense_rejects_wrong_input_features():
    layer = dense(4)
    _, params, _ = layer.init(jax.random.key(0), (3,))
    with pytest.raises(
        ValueError, match=r"dense.apply: `x` must have shape \(\.\.\., 3\), got \(2, 5\)"
    ):
        layer.apply(params, {}, jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match="`features`"):
        dense(0)
    with pytest.raises(TypeError, match="`input_shape`"):
        layer.init(jax.random.key(0), 3)


def test_activation_and_flatten(rng):
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    relu = activation(jax.nn.relu)
    assert relu.name == "relu"
    assert relu.init(jax.random.key(0), (3, 4, 5))[0] == (3, 4, 5)
    np.testing.assert_array_equal(relu.apply({}, {}, x)[0], np.maximum(x, 0))
    out_shape, _, _ = flatten().init(jax.random.key(0), (3, 4, 5))
    y, _ = flatten().apply({}, {}, x)
    assert out_shape == (60,)
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    with pytest.raises(TypeError, match="`fn`"):
        activation("relu")


def test_embedding_matches_torch_lookup(rng):
    layer = embedding(7, 3)
    out_shape, params, _ = layer.init(jax.random.key(0), (5,))
    ids = rng.integers(0, 7, size=(2, 5)).astype(np.int32)
    y, _ = layer.apply(params, {}, ids)
    reference = torch.nn.functional.embedding(
        torch.tensor(ids, dtype=torch.long), torch.tensor(np.asarray(params["table"]))
    )
    assert out_shape == (5, 3)
    np.testing.assert_array_equal(y, reference.numpy())


def test_embedding_out_of_range_ids_are_named_or_nan_under_jit_and_floats_are_rejected():
    layer = embedding(7, 3)
    _, params, _ = layer.init(jax.random.key(0), (2,))
    with pytest.raises(ValueError, match=r"`x` holds id 7, outside the vocabulary \[0, 7\)"):
        layer.apply(params, {}, jnp.array([[0, 7]]))
    y = jax.jit(lambda ids: layer.apply(params, {}, ids)[0])(jnp.array([[0, 7]]))
    assert np.isfinite(y[0, 0]).all() and np.isnan(y[0, 1]).all()
    with pytest.raises(TypeError, match="`x` must hold integer ids"):
        layer.apply(params, {}, jnp.zeros((1, 2)))
