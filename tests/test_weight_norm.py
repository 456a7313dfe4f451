"""Weight normalization on layers and cells: outputs and gradients equal to PyTorch's
weight_norm parametrization, the unwrapped block's output at init, named errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm  # noqa: E402

from jaxnets.cells import elman, lstm  # noqa: E402
from jaxnets.core import weight_norm  # noqa: E402
from jaxnets.layers import conv2d, dense  # noqa: E402
from jaxnets.rnn import recurrent  # noqa: E402


def _perturb(params, rng):
    # Away from init (where scale == ||direction||) so that the scale does something.
    return jax.tree.map(
        lambda a: jnp.asarray(np.asarray(a) * rng.uniform(0.5, 1.5, np.shape(a)), a.dtype),
        params,
    )


def _set(parametrized, name, direction, scale):
    originals = getattr(parametrized.parametrizations, name)
    with torch.no_grad():
        originals.original0.copy_(torch.from_numpy(np.array(scale)))
        originals.original1.copy_(torch.from_numpy(np.array(direction)))
    return originals


def test_dense_equals_torch_linear_with_weight_norm(rng):
    layer = weight_norm(dense(5))
    _, params, state = layer.init(jax.random.key(0), (3,))
    params = _perturb(params, rng)
    x = rng.normal(size=(4, 3)).astype(np.float32)

    module = torch_weight_norm(nn.Linear(3, 5))
    originals = _set(module, "weight", params["w"]["direction"].T, params["w"]["scale"].T)
    with torch.no_grad():
        module.bias.copy_(torch.from_numpy(np.array(params["b"])))
    want = module(torch.from_numpy(x))
    want.square().sum().backward()

    loss = lambda p: jnp.sum(jnp.square(layer.apply(p, state, x)[0]))  # noqa: E731
    np.testing.assert_allclose(
        layer.apply(params, state, x)[0], want.detach(), rtol=1e-5, atol=1e-6
    )
    grads = jax.grad(loss)(params)
    np.testing.assert_allclose(
        grads["w"]["scale"].T, originals.original0.grad, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        grads["w"]["direction"].T, originals.original1.grad, rtol=1e-4, atol=1e-6
    )


def test_conv2d_equals_torch_conv_with_weight_norm(rng):
    layer = weight_norm(conv2d(4, 3), names="w")
    _, params, state = layer.init(jax.random.key(1), (6, 6, 2))
    assert params["w"]["scale"].shape == (1, 1, 1, 4)
    params = _perturb(params, rng)
    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)

    module = torch_weight_norm(nn.Conv2d(2, 4, 3))
    _set(
        module,
        "weight",
        np.transpose(params["w"]["direction"], (3, 2, 0, 1)),
        np.transpose(params["w"]["scale"], (3, 2, 0, 1)),
    )
    with torch.no_grad():
        module.bias.copy_(torch.from_numpy(np.array(params["b"])))
    want = module(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    y, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(y, want.detach(), rtol=1e-5, atol=1e-5)


def test_lstm_cell_equals_torch_lstm_with_weight_norm(rng):
    cell = weight_norm(lstm(4), names=("w_x", "w_h"))
    layer = recurrent(cell)
    _, params, state = layer.init(jax.random.key(2), (5, 3))
    params = _perturb(params, rng)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)

    module = nn.LSTM(3, 4, batch_first=True)
    for name in ("weight_ih_l0", "weight_hh_l0"):
        torch_weight_norm(module, name)
    for name, ours in (("weight_ih_l0", "w_x"), ("weight_hh_l0", "w_h")):
        _set(module, name, params[ours]["direction"].T, params[ours]["scale"].T)
    with torch.no_grad():
        module.bias_ih_l0.copy_(torch.from_numpy(np.array(params["b"])))
        module.bias_hh_l0.zero_()
    want, _ = module(torch.from_numpy(x))
    y, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(y, want.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("wrap", ["layer", "cell"])
def test_at_init_the_block_computes_what_it_did(rng, wrap):
    if wrap == "layer":
        plain, normed = dense(3), weight_norm(dense(3))
        x = rng.normal(size=(2, 4)).astype(np.float32)
        shape = (4,)
    else:
        plain, normed = recurrent(elman(3)), recurrent(weight_norm(elman(3)))
        x = rng.normal(size=(2, 6, 4)).astype(np.float32)
        shape = (6, 4)
    _, p0, s0 = plain.init(jax.random.key(3), shape)
    _, p1, s1 = normed.init(jax.random.key(3), shape)
    np.testing.assert_allclose(
        normed.apply(p1, s1, x)[0], plain.apply(p0, s0, x)[0], rtol=1e-6, atol=1e-6
    )
    # The scale of each output column is that column's norm; biases stay as they were.
    np.testing.assert_allclose(
        np.ravel(p1["w_x" if wrap == "cell" else "w"]["scale"]),
        np.linalg.norm(p0["w_x" if wrap == "cell" else "w"], axis=0),
        rtol=1e-6,
    )
    assert not isinstance(p1["b"], dict)


def test_scaling_the_direction_changes_nothing(rng):
    # w depends on direction only through direction / ||direction||.
    layer = weight_norm(dense(3))
    _, params, state = layer.init(jax.random.key(4), (4,))
    x = rng.normal(size=(2, 4)).astype(np.float32)
    scaled = {**params, "w": {**params["w"], "direction": 7.0 * params["w"]["direction"]}}
    np.testing.assert_allclose(
        layer.apply(scaled, state, x)[0], layer.apply(params, state, x)[0], rtol=1e-5, atol=1e-6
    )


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\['w_q'\] match no param.*'w_x'"):
        weight_norm(lstm(3), names="w_q").init(jax.random.key(0), 2)
    with pytest.raises(ValueError, match=r"needs a weight of >= 2 axes; \['b'\]"):
        weight_norm(dense(3), names=("w", "b")).init(jax.random.key(0), (2,))
    with pytest.raises(TypeError, match="`block` must be a jaxnets Layer or Cell, got str"):
        weight_norm("dense")
    with pytest.raises(TypeError, match="`names` must be a str"):
        weight_norm(dense(3), names=[1])
