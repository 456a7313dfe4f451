"""Pooling against torch.nn.functional, and the tiled fast path against reduce_window."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from jax import lax

from jaxnets.layers import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d


def _nchw(x):
    return torch.tensor(np.asarray(x)).permute(0, 3, 1, 2)


def _pool(layer, x):
    out_shape, params, state = layer.init(jax.random.key(0), x.shape[1:])
    y, _ = layer.apply(params, state, x)
    assert y.shape == (x.shape[0], *out_shape)
    return np.asarray(y)


@pytest.mark.parametrize(
    "size, stride, padding",
    [(2, None, 0), (3, 2, 1), (2, 1, 0), ((3, 2), (2, 1), (1, 1)), (3, 3, 0)],
)
def test_max_pool2d_matches_torch(rng, size, stride, padding):
    x = rng.normal(size=(2, 9, 7, 3)).astype(np.float32)
    y = _pool(max_pool2d(size, strides=stride, padding=padding), x)
    expected = F.max_pool2d(_nchw(x), size, stride=stride, padding=padding)
    np.testing.assert_allclose(y, expected.permute(0, 2, 3, 1).numpy(), rtol=1e-6)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("size, stride, padding", [(2, None, 0), (3, 2, 1), ((3, 2), 1, (1, 0))])
def test_avg_pool2d_matches_torch(rng, size, stride, padding, count_include_pad):
    x = rng.normal(size=(2, 9, 7, 3)).astype(np.float32)
    layer = avg_pool2d(size, strides=stride, padding=padding, count_include_pad=count_include_pad)
    expected = F.avg_pool2d(
        _nchw(x), size, stride=stride, padding=padding, count_include_pad=count_include_pad
    )
    np.testing.assert_allclose(_pool(layer, x), expected.permute(0, 2, 3, 1).numpy(), rtol=1e-5)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("size, stride, padding", [(2, None, 0), (3, 2, 1)])
def test_pool1d_matches_torch(rng, kind, size, stride, padding):
    x = rng.normal(size=(2, 11, 3)).astype(np.float32)
    layer = (max_pool1d if kind == "max" else avg_pool1d)(size, strides=stride, padding=padding)
    reference = F.max_pool1d if kind == "max" else F.avg_pool1d
    expected = reference(torch.tensor(x).permute(0, 2, 1), size, stride=stride, padding=padding)
    np.testing.assert_allclose(_pool(layer, x), expected.permute(0, 2, 1).numpy(), rtol=1e-5)


def test_tiled_max_pool_gradient_equals_reduce_window_without_ties(rng):
    # Distinct values: the gradient goes to each window's unique maximum either way.
    x = jnp.asarray(rng.permutation(2 * 9 * 7 * 3).reshape(2, 9, 7, 3), jnp.float32)
    layer = max_pool2d(2)

    def tiled(x):
        return jnp.sum(layer.apply({}, {}, x)[0] ** 2)

    def reference(x):
        window = (1, 2, 2, 1)
        return jnp.sum(lax.reduce_window(x, -jnp.inf, lax.max, window, window, "VALID") ** 2)

    np.testing.assert_array_equal(jax.grad(tiled)(x), jax.grad(reference)(x))


def test_pool_rejects_window_larger_than_input():
    with pytest.raises(ValueError, match="larger than spatial axis 1 of `x`"):
        max_pool2d((2, 5)).init(jax.random.key(0), (4, 4, 1))


def test_pool_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`size`"):
        max_pool2d(0)
    with pytest.raises(ValueError, match="`strides`"):
        avg_pool2d(2, strides=-2)
    with pytest.raises(ValueError, match="`x` must have shape"):
        max_pool2d(2).apply({}, {}, jnp.zeros((4, 4, 1)))
