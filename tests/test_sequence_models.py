"""many_to_one, many_to_many and one_to_many against their definitions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import elman, gru, lstm
from jaxnets.models import many_to_many, many_to_one, one_to_many
from jaxnets.rnn import bidirectional, stacked_rnn, unroll

B, T, D, H, O = 3, 5, 4, 6, 2  # noqa: E741 (O: outputs, as in the style guide)


@pytest.fixture
def batch(rng):
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    return jnp.asarray(x), jnp.array([5, 2, 4])


def _head(params, v):
    return np.asarray(v) @ np.asarray(params["head"]["w"]) + np.asarray(params["head"]["b"])


@pytest.mark.parametrize("how", ["last", "mean", "max"])
def test_many_to_one_reads_out_only_valid_steps(batch, how):
    x, lengths = batch
    cell = gru(H)
    model = many_to_one(cell, O, readout=how)
    out_shape, params, _ = model.init(jax.random.key(0), (T, D))
    y, _ = model.apply(params, {}, x, lengths=lengths)
    assert out_shape == (O,) and y.shape == (B, O)
    for b, n in enumerate(np.asarray(lengths)):
        # Each sequence alone, cut to its own length: padding must not matter.
        _, hs = unroll(cell, params["rnn"], x[b : b + 1, :n])
        hs = np.asarray(hs[0])
        pooled = {"last": hs[-1], "mean": hs.mean(0), "max": hs.max(0)}[how]
        np.testing.assert_allclose(y[b], _head(params, pooled), rtol=1e-5, atol=1e-6)


def test_many_to_one_with_a_bidirectional_rnn_pairs_both_final_outputs(batch):
    x, lengths = batch
    rnn = bidirectional(gru(H), gru(H), return_sequences=False)
    model = many_to_one(rnn, O)
    _, params, _ = model.init(jax.random.key(0), (T, D))
    y, _ = model.apply(params, {}, x, lengths=lengths)
    b, n = 1, int(lengths[1])
    _, fwd = unroll(gru(H), params["rnn"]["forward"], x[b : b + 1, :n])
    _, bwd = unroll(gru(H), params["rnn"]["backward"], x[b : b + 1, :n], reverse=True)
    pooled = np.concatenate([fwd[0, -1], bwd[0, 0]])
    np.testing.assert_allclose(y[b], _head(params, pooled), rtol=1e-5, atol=1e-6)


def test_stacked_bidirectional_many_to_one_trains_with_grad(batch):
    x, _ = batch
    model = many_to_one(stacked_rnn(lstm(H), 2, bidirectional=True, return_sequences=False), O)
    out_shape, params, _ = model.init(jax.random.key(0), (T, D))
    assert out_shape == (O,)
    grads = jax.grad(lambda p: model.apply(p, {}, x)[0].sum())(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_many_to_many_gives_one_output_per_step_and_zeros_past_the_end(batch):
    x, lengths = batch
    cell = elman(H)
    model = many_to_many(cell, O)
    out_shape, params, _ = model.init(jax.random.key(1), (T, D))
    y, _ = model.apply(params, {}, x, lengths=lengths)
    assert out_shape == (T, O)
    _, hs = unroll(cell, params["rnn"], x)
    expected = _head(params, hs)
    for b, n in enumerate(np.asarray(lengths)):
        np.testing.assert_allclose(y[b, :n], expected[b, :n], rtol=1e-5, atol=1e-6)
        assert not np.asarray(y[b, n:]).any()


def test_one_to_many_feeds_each_output_back(rng):
    cell = lstm(H)
    model = one_to_many(cell, O, T)
    out_shape, params, _ = model.init(jax.random.key(2), (D,))
    x = jnp.asarray(rng.normal(size=(B, D)).astype(np.float32))
    y, _ = model.apply(params, {}, x)
    assert out_shape == (T, O) and y.shape == (B, T, O)
    # The loop written out: step 0 reads [x, 0, 1], step t reads [0, y_{t-1}, 0].
    carry, y_prev, outputs = cell.initial_carry(params["cell"], (B,)), jnp.zeros((B, O)), []
    for t in range(T):
        u = jnp.concatenate([x * (t == 0), y_prev, jnp.full((B, 1), float(t == 0))], axis=-1)
        carry, h = cell.step(params["cell"], carry, u)
        y_prev = h @ params["head"]["w"] + params["head"]["b"][None]
        outputs.append(y_prev)
    np.testing.assert_allclose(y, jnp.stack(outputs, 1), rtol=1e-5, atol=1e-6)
    # Teacher forcing with the model's own outputs as targets is the same computation.
    forced, _ = model.apply(params, {}, x, targets=y)
    np.testing.assert_allclose(forced, y, rtol=1e-5, atol=1e-6)


def test_one_to_many_from_no_input():
    model = one_to_many(gru(H), 1, T, feedback=False)
    out_shape, params, _ = model.init(jax.random.key(3), (0,))
    y, _ = model.apply(params, {}, jnp.zeros((2, 0)))
    assert out_shape == (T, 1) and y.shape == (2, T, 1)
    np.testing.assert_allclose(y[0], y[1])  # nothing distinguishes the two rows
    assert np.ptp(np.asarray(y[0])) > 0  # but the output moves over time


def test_bad_input_names_the_argument(batch):
    _x, _ = batch
    with pytest.raises(TypeError, match="`rnn`"):
        many_to_one("gru", O)
    with pytest.raises(ValueError, match="`readout`"):
        many_to_one(gru(H), O, readout="sum")
    with pytest.raises(ValueError, match="`input_shape`"):
        many_to_one(gru(H), O).init(jax.random.key(0), (D,))
    with pytest.raises(ValueError, match="`rnn`"):
        many_to_many(bidirectional(gru(H), gru(H), return_sequences=False), O).init(
            jax.random.key(0), (T, D)
        )
    with pytest.raises(ValueError, match="`length`"):
        one_to_many(gru(H), O, 0)
    model = one_to_many(gru(H), O, T)
    _, params, _ = model.init(jax.random.key(0), (D,))
    with pytest.raises(ValueError, match="`targets`"):
        model.apply(params, {}, jnp.zeros((B, D)), targets=jnp.zeros((B, T + 1, O)))
    with pytest.raises(ValueError, match="`x`"):
        model.apply(params, {}, jnp.zeros((B, D + 1)))
