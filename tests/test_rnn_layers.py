"""recurrent, bidirectional and stacked_rnn layers; readouts over valid steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import gru, lstm
from jaxnets.layers import dense, serial
from jaxnets.rnn import bidirectional, readout, recurrent, stacked_rnn, unroll

B, T, D, H = 3, 6, 4, 5
LENGTHS = np.array([6, 2, 4])


def _x(seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(B, T, D)), jnp.float32)


def test_recurrent_layer_equals_unroll_and_reads_the_last_valid_step():
    cell = gru(H)
    layer = recurrent(cell, return_sequences=False, return_carry=True)
    (out_shape, carry_shape), params, state = layer.init(jax.random.key(0), (T, D))
    (y, final), _ = layer.apply(params, state, _x(), lengths=LENGTHS)
    _, ys = unroll(cell, params, _x(), lengths=LENGTHS)
    assert out_shape == (H,) and carry_shape == (H,)
    np.testing.assert_allclose(y, ys[np.arange(B), LENGTHS - 1], rtol=1e-6)
    np.testing.assert_allclose(y, final, rtol=1e-6)


def test_bidirectional_merges_forward_and_reversed_runs():
    fwd, bwd = gru(H), lstm(3)
    for merge, size in (("concat", H + 3), ("sum", None)):
        if size is None:
            fwd, bwd, size = gru(H), gru(H), H
        layer = bidirectional(fwd, bwd, merge=merge)
        out_shape, params, state = layer.init(jax.random.key(0), (T, D))
        ys, _ = layer.apply(params, state, _x(), lengths=LENGTHS)
        _, ys_f = unroll(fwd, params["forward"], _x(), lengths=LENGTHS)
        _, ys_b = unroll(bwd, params["backward"], _x(), lengths=LENGTHS, reverse=True)
        expected = jnp.concatenate([ys_f, ys_b], -1) if merge == "concat" else ys_f + ys_b
        assert out_shape == (T, size)
        np.testing.assert_allclose(ys, expected, rtol=1e-6)
    point = bidirectional(gru(H), gru(H), return_sequences=False)
    _, params, state = point.init(jax.random.key(0), (T, D))
    y, _ = point.apply(params, state, _x(), lengths=LENGTHS)
    _, ys_f = unroll(gru(H), params["forward"], _x(), lengths=LENGTHS)
    _, ys_b = unroll(gru(H), params["backward"], _x(), lengths=LENGTHS, reverse=True)
    np.testing.assert_allclose(y[:, :H], ys_f[np.arange(B), LENGTHS - 1], rtol=1e-6)
    np.testing.assert_allclose(y[:, H:], ys_b[:, 0], rtol=1e-6)


def test_deep_bidirectional_layers_read_both_directions_below():
    layer = stacked_rnn(gru(H), 2, bidirectional=True)
    out_shape, params, state = layer.init(jax.random.key(0), (T, D))
    ys, _ = layer.apply(params, state, _x())
    first = bidirectional(gru(H), gru(H))
    second = bidirectional(gru(H), gru(H))
    h1, _ = first.apply(params["layer_0"], {}, _x())
    assert params["layer_1"]["forward"]["w_x"].shape == (2 * H, 3 * H)
    np.testing.assert_allclose(ys, second.apply(params["layer_1"], {}, h1)[0], rtol=1e-6)
    assert out_shape == (T, 2 * H)


def test_residual_and_dropout_between_layers():
    layer = stacked_rnn(gru(D), 3, residual=True, drop_rate=0.5)
    _, params, state = layer.init(jax.random.key(0), (T, D))
    ys, _ = layer.apply(params, state, _x())
    one = recurrent(gru(D))
    h = one.apply(params["layer_0"], {}, _x())[0]
    for name in ("layer_1", "layer_2"):
        h = h + one.apply(params[name], {}, h)[0]
    np.testing.assert_allclose(ys, h, rtol=1e-5, atol=1e-6)
    train_a, _ = layer.apply(params, state, _x(), key=jax.random.key(1), train=True)
    train_b, _ = layer.apply(params, state, _x(), key=jax.random.key(2), train=True)
    assert not np.allclose(train_a, train_b)
    with pytest.raises(ValueError, match="`key` is required"):
        layer.apply(params, state, _x(), train=True)


def test_readouts_use_only_valid_steps():
    ys = jnp.asarray(np.random.default_rng(0).normal(size=(B, T, 2)), jnp.float32)
    masked = np.where((np.arange(T) < LENGTHS[:, None])[..., None], ys, np.nan)
    np.testing.assert_allclose(readout(ys, LENGTHS, how="mean"), np.nanmean(masked, 1), rtol=1e-6)
    np.testing.assert_allclose(readout(ys, LENGTHS, how="max"), np.nanmax(masked, 1), rtol=1e-6)
    np.testing.assert_allclose(readout(ys, LENGTHS), ys[np.arange(B), LENGTHS - 1])
    np.testing.assert_allclose(readout(ys, how="mean"), ys.mean(1), rtol=1e-6)
    with pytest.raises(ValueError, match="`how`"):
        readout(ys, how="median")


def test_recurrent_layers_compose_with_serial_and_grad():
    model = serial(recurrent(lstm(H), return_sequences=False), dense(2))
    out_shape, params, state = model.init(jax.random.key(0), (T, D))
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, state, _x())[0] ** 2))(params)
    assert out_shape == (2,)
    assert float(jnp.abs(grads["rnn"]["w_h"]).sum()) > 0


def test_recurrent_layers_reject_bad_input():
    with pytest.raises(TypeError, match="expected a Cell"):
        recurrent(dense(3))
    with pytest.raises(ValueError, match=r"`input_shape` must be \(T, D\)"):
        recurrent(gru(H)).init(jax.random.key(0), (D,))
    with pytest.raises(ValueError, match="`merge`"):
        bidirectional(gru(H), gru(H), merge="max")
    with pytest.raises(ValueError, match="`num_layers`"):
        stacked_rnn(gru(H), 0)


def test_one_valid_step_mask_serves_every_reader():
    from jaxnets.core import output_shape
    from jaxnets.rnn import step_mask

    lengths = jnp.array([3, 1, 5])
    mask = step_mask(lengths, 5)
    np.testing.assert_array_equal(mask, np.arange(5)[None] < np.array([3, 1, 5])[:, None])
    np.testing.assert_array_equal(step_mask(lengths, 5, time_major=True), mask.T)
    assert step_mask(None, 4).shape == (4,) and step_mask(None, 4).all()
    # readout's mean and the sequence models' zeroed padding read the same mask.
    ys = jnp.arange(15.0).reshape(3, 5, 1)
    np.testing.assert_allclose(
        readout(ys, lengths, how="mean")[:, 0], (ys[..., 0] * mask).sum(1) / lengths
    )
    # Output shapes are traced at the params' dtype, not a hard-coded float32.
    seen = []

    def apply(params, state, x):
        seen.append(x.dtype)
        return x * params["w"], state

    assert output_shape(apply, {"w": jnp.ones((), jnp.bfloat16)}, {}, (3,)) == (3,)
    assert seen == [jnp.bfloat16]


def test_cell_output_sizes_are_traced_at_the_params_dtype():
    from jaxnets.core import Cell, cell_output_size

    seen = []

    def step(params, h, x):
        seen.append(x.dtype)
        return h, jnp.concatenate([x, h], -1) * params["w"]

    cell = Cell(
        lambda key, d: {"w": jnp.ones((), jnp.bfloat16)},
        lambda params, batch_shape: jnp.zeros((*batch_shape, 2), jnp.bfloat16),
        step,
    )
    assert cell_output_size(cell, cell.init(None, 3), 3) == 5
    assert seen == [jnp.bfloat16]
