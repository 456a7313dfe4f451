"""Clipping, L1, L2 and decoupled weight decay."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.cells import elman
from jaxnets.layers import dense
from jaxnets.rnn import recurrent
from jaxnets.train import fit, l1_penalty, l2_penalty, mse, optimizer, weights_mask


def test_clipped_update_of_a_huge_gradient_has_the_threshold_norm():
    params = {"w": jnp.ones((3, 3)), "b": jnp.ones(3)}
    grads = {"w": jnp.full((3, 3), 1e6), "b": jnp.full(3, -1e6)}
    opt = optimizer("sgd", 1.0, clip_norm=0.5)
    updates, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(optax.tree.norm(updates), 0.5, rtol=1e-5)
    by_value = optimizer("sgd", 1.0, clip_value=0.1)
    updates, _ = by_value.update(grads, by_value.init(params), params)
    np.testing.assert_allclose(np.abs(updates["w"]), 0.1)


def _exploding_rnn_run(clip_norm):
    # A linear Elman RNN with a recurrent matrix of spectral radius 1.5 over 40 steps:
    # its gradients grow like 1.5^40, and one plain SGD step overflows the next forward.
    model = recurrent(elman(8, activation="identity"), return_sequences=False)
    _, params, state = model.init(jax.random.key(0), (40, 2))
    params = {**params, "w_h": 1.5 * jnp.eye(8), "w_x": jnp.abs(params["w_x"])}
    x = jnp.abs(jnp.asarray(np.random.default_rng(0).normal(size=(32, 40, 2)), jnp.float32))
    y = jnp.zeros((32, 8))
    opt = optimizer("sgd", 0.1, clip_norm=clip_norm) if clip_norm else optimizer("sgd", 0.1)
    return fit(model, params, state, opt, mse, x, y, epochs=3, batch_size=8, key=jax.random.key(1))


def test_clipping_keeps_an_exploding_rnn_finite():
    with pytest.raises(FloatingPointError, match=r"the loss is (nan|inf) at epoch 0, step \d"):
        _exploding_rnn_run(clip_norm=None)
    result = _exploding_rnn_run(clip_norm=1.0)
    assert np.isfinite(result.history.loss).all()
    assert result.history.max_grad_norm[0] > 1e6  # logged before clipping
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(result.params))


def _noisy_linear_problem():
    # y depends on feature 0 only; with 64 noisy rows, least squares still puts a
    # visible weight on feature 1, the noise feature.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (3.0 * x[:, :1] + rng.normal(size=(64, 1))).astype(np.float32)
    return x, y


def _fit_linear(**penalties):
    x, y = _noisy_linear_problem()
    model = dense(1)
    _, params, state = model.init(jax.random.key(0), (2,))
    return fit(
        model, params, state, optimizer("sgd", 0.05), mse, x, y,
        epochs=200, batch_size=64, key=jax.random.key(0), **penalties,
    ).params  # fmt: skip


def test_l1_drives_the_noise_weight_to_zero_and_l2_shrinks_weights():
    x, y = _noisy_linear_problem()
    least_squares = np.linalg.lstsq(np.c_[x, np.ones(64)], y, rcond=None)[0]
    plain, l1, l2 = _fit_linear(), _fit_linear(l1=0.5), _fit_linear(l2=0.5)
    np.testing.assert_allclose(plain["w"][:, 0], least_squares[:2, 0], atol=1e-3)
    assert abs(float(plain["w"][1, 0])) > 0.05
    assert abs(float(l1["w"][1, 0])) < 0.05 * 0.5  # within one SGD step of zero
    assert float(l1["w"][0, 0]) > 2.5
    assert float(jnp.linalg.norm(l2["w"])) < 0.8 * float(jnp.linalg.norm(plain["w"]))


def test_penalties_skip_biases_by_default():
    params = {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([10.0])}
    assert weights_mask(params) == {"w": True, "b": False}
    np.testing.assert_allclose(l1_penalty(params), 3.0)
    np.testing.assert_allclose(l2_penalty(params), 5.0)
    np.testing.assert_allclose(l2_penalty(params, include_biases=True), 105.0)


def test_weight_decay_is_decoupled_and_spares_biases():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    zero = jax.tree.map(jnp.zeros_like, params)
    opt = optimizer("adam", 0.1, weight_decay=0.5)
    updates, _ = opt.update(zero, opt.init(params), params)
    # With zero gradients Adam's own step is 0; only the decay moves the weights.
    np.testing.assert_allclose(updates["w"], -0.1 * 0.5 * np.ones((2, 2)), rtol=1e-6)
    np.testing.assert_array_equal(updates["b"], 0.0)
    reference = optax.adamw(0.1, weight_decay=0.5, mask=weights_mask)
    g = {"w": jnp.full((2, 2), 0.3), "b": jnp.full(2, -0.2)}
    ours, _ = opt.update(g, opt.init(params), params)
    theirs, _ = reference.update(g, reference.init(params), params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours, theirs)
