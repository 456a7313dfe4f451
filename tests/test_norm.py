"""Batch, layer and RMS normalization against torch.nn.BatchNorm1d / BatchNorm2d,
LayerNorm and RMSNorm: outputs and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxnets.layers import batch_norm, layer_norm, rms_norm


def _run_both(x_batches, torch_bn, to_torch, from_torch, momentum=0.8):
    layer = batch_norm(momentum=momentum)
    _, params, state = layer.init(jax.random.key(0), x_batches[0].shape[1:])
    params = {
        "scale": jnp.linspace(0.5, 2.0, params["scale"].size),
        "bias": jnp.linspace(-1.0, 1.0, params["bias"].size),
    }
    with torch.no_grad():
        torch_bn.weight.copy_(torch.tensor(np.asarray(params["scale"])))
        torch_bn.bias.copy_(torch.tensor(np.asarray(params["bias"])))
    torch_bn.train()
    for x in x_batches:
        y, state = layer.apply(params, state, x, train=True)
        expected = from_torch(torch_bn(to_torch(x)).detach())
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(state["mean"], torch_bn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["var"], torch_bn.running_var.numpy(), rtol=1e-5, atol=1e-6)
    torch_bn.eval()
    x = x_batches[0][:3] + 1.0
    y, unchanged = layer.apply(params, state, x, train=False)
    np.testing.assert_allclose(y, from_torch(torch_bn(to_torch(x)).detach()), rtol=1e-4, atol=1e-5)
    assert unchanged is state


def test_batch_norm_matches_torch_batchnorm1d(rng):
    batches = [(rng.normal(size=(8, 5)) * 3 + 2).astype(np.float32) for _ in range(3)]
    _run_both(batches, torch.nn.BatchNorm1d(5, momentum=0.2), torch.tensor, lambda t: t.numpy())


def test_batch_norm_matches_torch_batchnorm2d_per_channel(rng):
    batches = [(rng.normal(size=(4, 6, 5, 3)) * 2 - 1).astype(np.float32) for _ in range(3)]
    _run_both(
        batches,
        torch.nn.BatchNorm2d(3, momentum=0.2),
        lambda x: torch.tensor(x).permute(0, 3, 1, 2),
        lambda t: t.permute(0, 2, 3, 1).numpy(),
    )


def test_training_output_has_zero_mean_unit_variance_per_channel(rng):
    x = (rng.normal(size=(16, 4, 4, 3)) * 5 + 7).astype(np.float32)
    layer = batch_norm()
    _, params, state = layer.init(jax.random.key(0), (4, 4, 3))
    y, _ = layer.apply(params, state, x, train=True)
    np.testing.assert_allclose(y.mean((0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var((0, 1, 2)), 1.0, rtol=1e-3)


def test_batch_norm_rejects_bad_input():
    layer = batch_norm()
    _, params, state = layer.init(jax.random.key(0), (3,))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 3\)"):
        layer.apply(params, state, jnp.zeros((4, 5)))
    with pytest.raises(ValueError, match="more than one value per feature"):
        layer.apply(params, state, jnp.zeros((1, 3)), train=True)
    with pytest.raises(ValueError, match="`momentum`"):
        batch_norm(momentum=1.5)


@pytest.mark.parametrize("num_axes", [1, 2])
@pytest.mark.parametrize("kind", ["layer", "rms"])
def test_layer_and_rms_norm_match_torch_outputs_and_gradients(rng, kind, num_axes):
    x = (rng.normal(size=(3, 4, 6)) * 3 + 2).astype(np.float32)
    normalized = x.shape[-num_axes:]
    pairs = {"layer": (layer_norm, torch.nn.LayerNorm), "rms": (rms_norm, torch.nn.RMSNorm)}
    make, module = pairs[kind]
    layer, module = make(num_axes=num_axes, eps=1e-4), module(normalized, 1e-4)
    _, params, state = layer.init(jax.random.key(0), x.shape[1:])
    params = {k: jnp.asarray(rng.normal(size=v.shape), jnp.float32) for k, v in params.items()}
    with torch.no_grad():
        module.weight.copy_(torch.tensor(np.asarray(params["scale"])))
        if kind == "layer":
            module.bias.copy_(torch.tensor(np.asarray(params["bias"])))
    g = rng.normal(size=x.shape).astype(np.float32)

    def loss(params, x):
        return jnp.sum(layer.apply(params, state, x)[0] * g)

    d_params, d_x = jax.grad(loss, (0, 1))(params, jnp.asarray(x))
    x_t = torch.tensor(x, requires_grad=True)
    y_t = module(x_t)
    (y_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(layer.apply(params, state, x)[0], y_t.detach(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_x, x_t.grad, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d_params["scale"], module.weight.grad, rtol=1e-4, atol=1e-5)
    if kind == "layer":
        np.testing.assert_allclose(d_params["bias"], module.bias.grad, rtol=1e-4, atol=1e-5)


def test_layer_norm_is_per_example_the_same_in_training_and_evaluation(rng):
    x = (rng.normal(size=(5, 7)) * 4 - 3).astype(np.float32)
    layer = layer_norm(use_scale=False, use_bias=False)
    _, params, state = layer.init(jax.random.key(0), (7,))
    assert params == {}
    y, _ = layer.apply(params, state, x, train=True)
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(-1), 1.0, rtol=1e-3)
    np.testing.assert_array_equal(layer.apply(params, state, x)[0], y)
    np.testing.assert_allclose(layer.apply(params, state, x[:1])[0], y[:1], rtol=1e-6)


def test_layer_and_rms_norm_reject_bad_input():
    layer = layer_norm(num_axes=2)
    with pytest.raises(ValueError, match=r"at least num_axes=2 axes, got \(5,\)"):
        layer.init(jax.random.key(0), (5,))
    _, params, state = layer.init(jax.random.key(0), (3, 5))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 3, 5\)"):
        layer.apply(params, state, jnp.zeros((2, 4, 5)))
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="`num_axes` must be a positive int"):
            rms_norm(num_axes=bad)
    with pytest.raises(ValueError, match="`eps` must be a positive number"):
        layer_norm(eps=0.0)
