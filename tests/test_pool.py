"""Pooling against torch.nn.functional, and the tiled fast path against reduce_window."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from jax.test_util import check_grads

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


@pytest.mark.parametrize("size, stride, padding", [(2, None, 0), ((3, 2), None, 0), (3, 2, 1)])
def test_max_pool_gradient_matches_torch_including_ties(rng, size, stride, padding):
    # Small integers make many windows hold tied maxima; both route to the first one.
    x = rng.integers(0, 3, size=(2, 9, 7, 3)).astype(np.float32)
    g = rng.normal(size=_pool(max_pool2d(size, strides=stride, padding=padding), x).shape)
    layer = max_pool2d(size, strides=stride, padding=padding)

    def f(x):
        return jnp.sum(layer.apply({}, {}, x)[0] * g)

    x_torch = _nchw(x).requires_grad_()
    out = F.max_pool2d(x_torch, size, stride=stride, padding=padding)
    out.backward(_nchw(g.astype(np.float32)))
    expected = x_torch.grad.permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(jax.grad(f)(jnp.asarray(x)), expected, rtol=1e-6)


def test_avg_pool_gradient_matches_finite_differences(rng):
    with jax.enable_x64(True):
        x = jnp.asarray(rng.normal(size=(2, 5, 4, 3)))
        for layer in (avg_pool2d(2), avg_pool2d(3, strides=2, padding=1)):
            check_grads(lambda x, layer=layer: layer.apply({}, {}, x)[0], (x,), order=1)


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


@pytest.mark.parametrize(
    "layer",
    [max_pool2d(3, strides=2, padding=1), avg_pool2d(3, padding=1, count_include_pad=False)],
)
def test_padded_pooling_gradients_under_jit(rng, layer):
    # lax.reduce_window has a gradient only when it can tell the reduction is a max or
    # a sum, which a traced init value hid under jit.
    x = jnp.asarray(rng.normal(size=(2, 9, 7, 3)).astype(np.float32))

    def f(x):
        return jnp.sum(layer.apply({}, {}, x)[0] ** 2)

    np.testing.assert_allclose(jax.jit(jax.grad(f))(x), jax.grad(f)(x), rtol=1e-6)
