"""One suite over every cell: shapes, dtypes, scan == Python loop, lengths, vmap, no retrace."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxnets.cells import CELLS as REGISTERED
from jaxnets.cells import clockwork, conv_lstm, elman, gru, jordan, lru, lstm
from jaxnets.core import weight_norm
from jaxnets.rnn import unroll

B, T, D, H = 2, 5, 3, 4

# Every registered cell (jaxnets.cells.CELLS: a new cell joins with its registry line),
# plus the options that change its equations.
CELLS = {
    **{name: (lambda make=make: make(H)) for name, make in REGISTERED.items()},
    "elman_output": lambda: elman(H, activation="relu", output_size=3),
    "jordan_output": lambda: jordan(H, 3),
    "gru_reset_before": lambda: gru(H, reset_after=False),
    "lstm_peephole_proj": lambda: lstm(H, peephole=True, proj_size=3),
    "lstm_layer_norm": lambda: lstm(H, layer_norm=True, peephole=True, proj_size=3),
    "gru_layer_norm": lambda: gru(H, layer_norm=True),
    "gru_layer_norm_reset_before": lambda: gru(H, layer_norm=True, reset_after=False),
    "clockwork_two_modules": lambda: clockwork(H, num_modules=2),
    "lru_ring": lambda: lru(H, r_min=0.9, r_max=0.999, max_phase=0.5),
    "lstm_weight_norm": lambda: weight_norm(lstm(H, proj_size=3)),
    # A 1x3 image of one channel per step: D = 3.
    "conv_lstm": lambda: conv_lstm(H, 3, (1, 3)),
    "conv_lstm_no_peephole": lambda: conv_lstm(H, (1, 3), (1, 3), peephole=False),
    "gru_weight_norm_recurrent": lambda: weight_norm(gru(H), names="w_h"),
}


@pytest.fixture(params=list(CELLS))
def cell_and_params(request):
    cell = CELLS[request.param]()
    params = cell.init(jax.random.key(0), D)
    # Nonzero biases so that every term of the equations matters.
    params = jax.tree.map(lambda a: a + 0.1 * jnp.ones_like(a) if a.ndim == 1 else a, params)
    return cell, params


def _xs(seed=0, shape=(B, T, D)):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def test_step_shapes_and_dtype(cell_and_params):
    cell, params = cell_and_params
    carry = cell.initial_carry(params, (B,))
    new_carry, y = cell.step(params, carry, _xs()[:, 0])
    chex.assert_trees_all_equal_shapes_and_dtypes(new_carry, carry)
    assert y.dtype == jnp.float32 and y.shape[0] == B
    _, ys = unroll(cell, params, _xs())
    assert ys.shape == (B, T, y.shape[-1])


def test_step_equals_recur_after_project(cell_and_params):
    cell, params = cell_and_params
    carry = cell.initial_carry(params, (B,))
    x = _xs()[:, 0]
    chex.assert_trees_all_close(
        cell.step(params, carry, x), cell.recur(params, carry, cell.project(params, x))
    )


@pytest.mark.parametrize("lengths", [None, np.array([5, 3])])
@pytest.mark.parametrize("reverse", [False, True])
def test_python_loop_and_scan_unrolls_agree_with_gradients(
    request, cell_and_params, lengths, reverse
):
    cell, params = cell_and_params
    # Layer normalization's gradient divides by a standard deviation, which magnifies
    # float32 rounding that the loops order differently (measured up to 1.7e-6).
    tol = 1e-5 if "layer_norm" in request.node.callspec.params["cell_and_params"] else 1e-6
    xs = _xs()

    def loss(params, xs, how):
        final, ys = unroll(cell, params, xs, lengths=lengths, reverse=reverse, unroll=how)
        return jnp.sum(ys**2) + sum(
            # |c|^2: the LRU's carry is complex; the clockwork's step counter is an int.
            jnp.sum(jnp.abs(c) ** 2)
            for c in jax.tree.leaves(final)
            if jnp.issubdtype(c.dtype, jnp.inexact)
        )

    results = {
        how: jax.jit(jax.value_and_grad(loss, (0, 1)), static_argnums=2)(params, xs, how)
        for how in ("python", 1, 8)
    }
    for how in (1, 8):
        chex.assert_trees_all_close(results[how], results["python"], rtol=tol, atol=tol)


def test_reverse_equals_flip_run_flip(cell_and_params):
    cell, params = cell_and_params
    xs = _xs()
    final, ys = unroll(cell, params, xs, reverse=True)
    final_flip, ys_flip = unroll(cell, params, xs[:, ::-1])
    chex.assert_trees_all_close(final, final_flip, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ys, ys_flip[:, ::-1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
def test_padded_batch_equals_each_sequence_alone(cell_and_params, reverse):
    cell, params = cell_and_params
    xs = _xs()
    lengths = np.array([5, 2])
    padded = xs.at[1, 2:].set(7.0)  # garbage in the padding
    final, ys = unroll(cell, params, padded, lengths=lengths, reverse=reverse)
    for b, n in enumerate(lengths):
        final_b, ys_b = unroll(cell, params, xs[b : b + 1, :n], reverse=reverse)
        np.testing.assert_allclose(ys[b, :n], ys_b[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(ys[b, n:], 0.0)
        for mine, alone in zip(jax.tree.leaves(final), jax.tree.leaves(final_b)):
            np.testing.assert_allclose(mine[b], alone[0], rtol=1e-6, atol=1e-6)


def test_vmap_over_examples_equals_the_batched_call(cell_and_params):
    cell, params = cell_and_params
    xs = _xs()
    final, ys = unroll(cell, params, xs)
    final_v, ys_v = jax.vmap(lambda x: unroll(cell, params, x))(xs)
    np.testing.assert_allclose(ys_v, ys, rtol=1e-6, atol=1e-6)
    chex.assert_trees_all_close(final_v, final, rtol=1e-6, atol=1e-6)


def test_gradients_are_finite_and_jit_does_not_retrace(cell_and_params):
    cell, params = cell_and_params

    traces = []

    @jax.jit
    def grads(params, xs):
        traces.append(xs.shape)
        return jax.grad(lambda p: jnp.sum(unroll(cell, p, xs)[1] ** 2))(params)

    first = grads(params, _xs(0))
    second = grads(params, _xs(1))  # new values, same shape: no new trace
    assert traces == [(B, T, D)]
    chex.assert_tree_all_finite((first, second))
    assert any(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(first))


def test_gru_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        cell = gru(3, dtype=jnp.float64)
        params = cell.init(jax.random.key(0), 2)
        xs = jnp.asarray(np.random.default_rng(0).normal(size=(2, 4, 2)))
        check_grads(lambda p, x: unroll(cell, p, x)[1], (params, xs), order=1, modes=("rev",))


def test_bad_input_names_the_argument():
    cell = gru(H)
    params = cell.init(jax.random.key(0), D)
    with pytest.raises(
        ValueError, match=r"gru.step: `x` must have shape \(\.\.\., 3\), got \(2, 5, 4\)"
    ):
        unroll(cell, params, jnp.zeros((B, T, 4)))
    with pytest.raises(
        ValueError, match=r"`lengths` must lie in \[1, T\] = \[1, 5\], got values from 0 to 5"
    ):
        unroll(cell, params, _xs(), lengths=np.array([5, 0]))
    with pytest.raises(ValueError, match=r"`lengths` must lie in \[1, T\]"):
        unroll(cell, params, _xs(), lengths=np.array([6, 1]))
    with pytest.raises(
        ValueError,
        match=r"`lengths` must have the batch shape \(2,\) \(one per sequence\), got \(3,\)",
    ):
        unroll(cell, params, _xs(), lengths=np.array([1, 2, 3]))
    with pytest.raises(
        ValueError, match=r"gru.step: `carry` must have shape \(2, 4\), got \(2, 6\)"
    ):
        unroll(cell, params, _xs(), carry=jnp.zeros((B, 6)))
    with pytest.raises(ValueError, match=r"lstm.step: `carry.c` must have shape \(2, 4\)"):
        cell = lstm(H)
        p = cell.init(jax.random.key(0), D)
        unroll(cell, p, _xs(), carry=(jnp.zeros((B, H)), jnp.zeros((B, 5))))
    with pytest.raises(ValueError, match="`hidden_size`"):
        gru(0)
    with pytest.raises(ValueError, match="`input_size`"):
        gru(H).init(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="`unroll`"):
        unroll(gru(H), params, _xs(), unroll=0)
