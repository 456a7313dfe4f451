"""Cells without a PyTorch twin against float64 NumPy written from their equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import clockwork, gru, jordan, lstm, mgu, simple_gru
from jaxnets.rnn import unroll

B, T, D, H = 2, 7, 3, 4


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_jordan(p, xs, y):
    out = []
    for x in xs:
        h = np.tanh(x @ p["w_x"] + p["b"] + y @ p["w_h"])
        y = np.tanh(h @ p["w_y"] + p["b_y"])
        out.append(y)
    return y, out


def np_simple_gru(p, xs, c):
    out = []
    for x in xs:
        # W_u [c, x] + b_u and W_c [c, x] + b_c, written with the stacked matrices.
        w_u = np.concatenate([p["w_h"][:, :H], p["w_x"][:, :H]])
        w_c = np.concatenate([p["w_h"][:, H:], p["w_x"][:, H:]])
        cx = np.concatenate([c, x], axis=-1)
        u = sigmoid(cx @ w_u + p["b"][:H])
        c_tilde = np.tanh(cx @ w_c + p["b"][H:])
        c = u * c_tilde + (1 - u) * c
        out.append(c)
    return c, out


def np_mgu(p, xs, h):
    out = []
    for x in xs:
        f = sigmoid(x @ p["w_x"][:, :H] + h @ p["w_h"][:, :H] + p["b"][:H])
        h_tilde = np.tanh(x @ p["w_x"][:, H:] + (f * h) @ p["w_h"][:, H:] + p["b"][H:])
        h = (1 - f) * h + f * h_tilde
        out.append(h)
    return h, out


def np_gru_reset_before(p, xs, h):
    out = []
    for x in xs:
        wx, wh, b = p["w_x"], p["w_h"], p["b"]
        r = sigmoid(x @ wx[:, :H] + h @ wh[:, :H] + b[:H])
        z = sigmoid(x @ wx[:, H : 2 * H] + h @ wh[:, H : 2 * H] + b[H : 2 * H])
        n = np.tanh(x @ wx[:, 2 * H :] + (r * h) @ wh[:, 2 * H :] + b[2 * H :])
        h = (1 - z) * n + z * h
        out.append(h)
    return h, out


def np_peephole_lstm(p, xs, carry):
    h, c = carry
    out = []
    for x in xs:
        a = x @ p["w_x"] + h @ p["w_h"] + p["b"]
        i = sigmoid(a[:, :H] + p["p_i"] * c)
        f = sigmoid(a[:, H : 2 * H] + p["p_f"] * c)
        g = np.tanh(a[:, 2 * H : 3 * H])
        c = f * c + i * g
        o = sigmoid(a[:, 3 * H :] + p["p_o"] * c)
        h = o * np.tanh(c)
        if "w_p" in p:
            h = h @ p["w_p"]
        out.append(h)
    return (h, c), out


PERIODS = (1, 2, 3)
MODULE = 2  # units per clockwork module: hidden size 6


def np_clockwork(p, xs, carry):
    h, t = carry
    k, g = MODULE, len(PERIODS)
    # The full block-triangular recurrent matrix: rows send, columns receive.
    w_full = np.zeros((g * k, g * k))
    for i in range(g):
        w_full[i * k :, i * k : (i + 1) * k] = p["w_h"][i]
    out = []
    for x in xs:
        new = np.tanh(x @ p["w_x"] + p["b"] + h @ w_full)
        for i, period in enumerate(PERIODS):
            active = (t % period == 0)[:, None]
            h[:, i * k : (i + 1) * k] = np.where(
                active, new[:, i * k : (i + 1) * k], h[:, i * k : (i + 1) * k]
            )
        t = t + 1
        out.append(h.copy())
    return (h, t), out


CASES = {
    "jordan": (lambda: jordan(H, 3), np_jordan),
    "simple_gru": (lambda: simple_gru(H), np_simple_gru),
    "mgu": (lambda: mgu(H), np_mgu),
    "gru_reset_before": (lambda: gru(H, reset_after=False), np_gru_reset_before),
    "peephole_lstm": (lambda: lstm(H, peephole=True), np_peephole_lstm),
    "peephole_lstm_proj": (lambda: lstm(H, peephole=True, proj_size=3), np_peephole_lstm),
    "clockwork": (lambda: clockwork(MODULE * len(PERIODS), periods=PERIODS), np_clockwork),
}


def _randomize(params, rng):
    # Zero biases and peepholes from init would hide mistakes in their terms.
    return jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape) * 0.5, a.dtype), params)


def _random_state(leaf):
    # Start from a nonzero state; the clockwork step counter starts at 0.
    if jnp.issubdtype(leaf.dtype, jnp.integer):
        return leaf
    return jnp.asarray(np.random.default_rng(1).normal(size=leaf.shape), leaf.dtype)


@pytest.mark.parametrize("case", list(CASES))
def test_cell_matches_numpy_equations(rng, case):
    make, reference = CASES[case]
    cell = make()
    params = _randomize(cell.init(jax.random.key(0), D), rng)
    xs = rng.normal(size=(B, T, D)).astype(np.float32)
    carry = jax.tree.map(_random_state, cell.initial_carry(params, (B,)))
    final, ys = unroll(cell, params, xs, carry=carry)

    p64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    c64 = jax.tree.map(np.array, carry)  # a writable copy; step counters stay ints
    final_ref, ys_ref = reference(p64, np.swapaxes(xs, 0, 1).astype(np.float64), c64)
    np.testing.assert_allclose(ys, np.stack(ys_ref, axis=1), rtol=2e-5, atol=2e-6)
    for mine, theirs in zip(jax.tree.leaves(final), jax.tree.leaves(final_ref)):
        np.testing.assert_allclose(mine, theirs, rtol=2e-5, atol=2e-6)
