"""Variational dropout, zoneout and a learned initial state, for any cell, read off cells
whose equations make every mask visible (identity weights, identity activation)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import elman, gru, lstm
from jaxnets.rnn import bidirectional, recurrent, stacked_rnn, unroll

B, T, H = 8, 6, 16


def _linear_elman(w_x, w_h):
    cell = elman(H, activation="identity")
    return cell, {"w_x": w_x, "w_h": w_h, "b": jnp.zeros((H,))}


def test_evaluation_is_the_plain_rnn_and_training_needs_a_key(rng):
    cell = gru(H)
    layer = recurrent(cell, dropout=0.3, recurrent_dropout=0.3)
    _, params, state = layer.init(jax.random.key(0), (T, 3))
    x = jnp.asarray(rng.normal(size=(B, T, 3)), jnp.float32)
    np.testing.assert_array_equal(layer.apply(params, state, x)[0], unroll(cell, params, x)[1])
    with pytest.raises(ValueError, match="`key` is required when train=True with dropout"):
        layer.apply(params, state, x, train=True)


def test_input_dropout_drops_the_same_features_at_every_step():
    cell, params = _linear_elman(jnp.eye(H), jnp.zeros((H, H)))
    layer = recurrent(cell, dropout=0.5)
    x = jnp.ones((B, T, H))
    ys, _ = layer.apply(params, {}, x, key=jax.random.key(3), train=True)
    ys = np.asarray(ys)
    assert set(np.unique(ys)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    np.testing.assert_array_equal(ys, np.repeat(ys[:, :1], T, axis=1))  # one mask per sequence
    assert not np.array_equal(ys[0], ys[1])  # and one per sequence, not per batch
    assert 0.3 < (ys == 0).mean() < 0.7


def test_recurrent_dropout_masks_the_fed_back_state_with_one_mask_per_sequence():
    cell, params = _linear_elman(jnp.zeros((H, H)), jnp.eye(H))
    layer = recurrent(cell, recurrent_dropout=0.5)
    ys, _ = layer.apply(
        params, {}, jnp.zeros((B, T, H)), key=jax.random.key(4), train=True,
        carry=jnp.ones((B, H)),
    )  # fmt: skip
    ys = np.asarray(ys)
    # h_t = (h_{t-1} * m) / (1 - p): the kept units double at every step, the others stay 0.
    kept = ys[:, 0] != 0
    for t in range(T):
        np.testing.assert_array_equal(ys[:, t], np.where(kept, 2.0 ** (t + 1), 0.0))
    assert 0.3 < kept.mean() < 0.7


def test_recurrent_dropout_drops_an_lstms_h_not_its_memory_cell(rng):
    cell = lstm(H, forget_bias=20.0)  # f = 1: the new c is the old one plus i * g
    params = cell.init(jax.random.key(0), 3)
    layer = recurrent(cell, recurrent_dropout=0.9, return_carry=True)
    x = jnp.asarray(rng.normal(size=(B, 1, 3)), jnp.float32)
    zeros = cell.initial_carry(params, (B,))
    carry = zeros._replace(c=zeros.c + 5.0)  # h = 0: the gates do not depend on h's mask
    (_, final), _ = layer.apply(params, {}, x, key=jax.random.key(0), train=True, carry=carry)
    # c was not masked: 5 + i * g lies in [4, 6] (a masked c would be 0 or 50, +- 1).
    assert (np.abs(np.asarray(final.c) - 5.0) <= 1.0).all()


def test_zoneout_keeps_each_unit_or_takes_its_update_and_blends_in_evaluation():
    cell, params = _linear_elman(jnp.eye(H), jnp.zeros((H, H)))
    layer = recurrent(cell, zoneout=0.3)
    x = jnp.broadcast_to(jnp.arange(1.0, T + 1)[None, :, None], (B, T, H))  # step t brings t+1
    ys = np.asarray(layer.apply(params, {}, x, key=jax.random.key(5), train=True)[0])
    previous = np.concatenate([np.zeros((B, 1, H)), ys[:, :-1]], axis=1)
    kept, updated = ys == previous, ys == np.asarray(x)
    assert (kept | updated).all()
    assert 0.2 < kept[:, 1:].mean() < 0.4  # a fresh draw per unit and step
    expected, h = [], np.zeros((B, H))
    for t in range(T):
        h = 0.3 * h + 0.7 * (t + 1)
        expected.append(h)
    np.testing.assert_allclose(layer.apply(params, {}, x)[0], np.stack(expected, 1), rtol=1e-6)


def test_a_learned_initial_state_is_a_param_with_a_gradient(rng):
    cell = gru(H)
    layer = recurrent(cell, learn_initial_state=True)
    _, params, state = layer.init(jax.random.key(0), (T, 3))
    assert set(params) == {"cell", "initial_carry"}
    assert params["initial_carry"].shape == (H,) and not params["initial_carry"].any()
    x = jnp.asarray(rng.normal(size=(B, T, 3)), jnp.float32)
    h0 = jnp.asarray(rng.normal(size=(H,)), jnp.float32)
    params = {**params, "initial_carry": h0}
    ys, _ = layer.apply(params, state, x)
    want = unroll(cell, params["cell"], x, carry=jnp.broadcast_to(h0, (B, H)))[1]
    np.testing.assert_allclose(ys, want, rtol=1e-6)
    grads = jax.grad(lambda p: jnp.sum(layer.apply(p, state, x)[0] ** 2))(params)
    assert np.abs(np.asarray(grads["initial_carry"])).sum() > 0


def test_stacked_and_bidirectional_layers_take_every_option(rng):
    x = jnp.asarray(rng.normal(size=(B, T, 3)), jnp.float32)
    options = {"dropout": 0.2, "recurrent_dropout": 0.2, "zoneout": 0.1,
               "learn_initial_state": True}  # fmt: skip
    for layer in (
        stacked_rnn(lstm(H), 2, **options),
        stacked_rnn(gru(H), 2, bidirectional=True, **options),
        bidirectional(lstm(H), gru(H), **options),
    ):
        _, params, state = layer.init(jax.random.key(0), (T, 3))
        a = layer.apply(params, state, x, key=jax.random.key(1), train=True)[0]
        b = layer.apply(params, state, x, key=jax.random.key(2), train=True)[0]
        c = layer.apply(params, state, x)[0]
        assert a.shape == b.shape == c.shape and not np.allclose(a, b)
        assert np.isfinite(np.asarray(c)).all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dropout": 1.0}, ValueError, r"`dropout` must be in \[0, 1\), got 1.0"),
        ({"zoneout": -0.1}, ValueError, r"`zoneout` must be in \[0, 1\)"),
        ({"recurrent_dropout": "0.5"}, TypeError, r"`recurrent_dropout` must be a float"),
    ],
)
def test_bad_rates_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        recurrent(gru(4), **kwargs)
