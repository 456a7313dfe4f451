"""Cells and cell options without a PyTorch twin against float64 NumPy written from
their equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import (
    clockwork,
    diagonal_rnn,
    gru,
    jordan,
    lru,
    lstm,
    mgu,
    min_gru,
    min_lstm,
    simple_gru,
)
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


def ln(v, gain, bias=0.0):
    """Layer normalization over the last axis (biased variance, eps 1e-5)."""
    mean = v.mean(-1, keepdims=True)
    var = ((v - mean) ** 2).mean(-1, keepdims=True)
    return (v - mean) / np.sqrt(var + 1e-5) * gain + bias


def np_layer_norm_lstm(p, xs, carry):
    """Ba et al. (2016), eq. 20-22, with peepholes and projection when present."""
    h, c = carry
    peep = {k: p.get(k, 0.0) for k in ("p_i", "p_f", "p_o")}
    out = []
    for x in xs:
        a = ln(x @ p["w_x"], p["ln_x_scale"]) + ln(h @ p["w_h"], p["ln_h_scale"]) + p["b"]
        i = sigmoid(a[:, :H] + peep["p_i"] * c)
        f = sigmoid(a[:, H : 2 * H] + peep["p_f"] * c)
        c = f * c + i * np.tanh(a[:, 2 * H : 3 * H])
        o = sigmoid(a[:, 3 * H :] + peep["p_o"] * c)
        h = o * np.tanh(ln(c, p["ln_c_scale"], p["ln_c_bias"]))
        if "w_p" in p:
            h = h @ p["w_p"]
        out.append(h)
    return (h, c), out


def np_layer_norm_gru(p, xs, h, reset_after=True):
    wh, g_h = p["w_h"], p["ln_h_scale"]
    out = []
    for x in xs:
        a = ln(x @ p["w_x"], p["ln_x_scale"]) + p["b"]
        rz = ln(h @ wh[:, : 2 * H], g_h[: 2 * H])
        r, z = sigmoid(a[:, :H] + rz[:, :H]), sigmoid(a[:, H : 2 * H] + rz[:, H:])
        if reset_after:
            n = np.tanh(a[:, 2 * H :] + r * (ln(h @ wh[:, 2 * H :], g_h[2 * H :]) + p["b_hn"]))
        else:
            n = np.tanh(a[:, 2 * H :] + ln((r * h) @ wh[:, 2 * H :], g_h[2 * H :]))
        h = (1 - z) * n + z * h
        out.append(h)
    return h, out


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


def g(v):
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def np_min_gru(p, xs, h):
    """Feng et al. 2024, Algorithm (sequential mode), written in linear space."""
    out = []
    for x in xs:
        z = sigmoid(x @ p["w_x"][:, :H] + p["b"][:H])
        h_tilde = g(x @ p["w_x"][:, H:] + p["b"][H:])
        h = (1 - z) * h + z * h_tilde
        out.append(h)
    return h, out


def np_min_lstm(p, xs, h):
    out = []
    for x in xs:
        f = sigmoid(x @ p["w_x"][:, :H] + p["b"][:H])
        i = sigmoid(x @ p["w_x"][:, H : 2 * H] + p["b"][H : 2 * H])
        h_tilde = g(x @ p["w_x"][:, 2 * H :] + p["b"][2 * H :])
        h = f / (f + i) * h + i / (f + i) * h_tilde
        out.append(h)
    return h, out


def np_lru(p, xs, h):
    """Orvieto et al. 2023, Appendix A (complex arithmetic, as the paper's code)."""
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    b = (p["b_re"] + 1j * p["b_im"]) * np.exp(p["gamma_log"])[None]
    c = p["c_re"] + 1j * p["c_im"]
    out = []
    for x in xs:
        h = lam * h + x @ b
        out.append((h @ c).real + p["d"] * x)
    return h, out


def np_diagonal_rnn(p, xs, h):
    out = []
    for x in xs:
        h = p["a"] * h + x @ p["w_x"] + p["b"]
        out.append(h)
    return h, out


CASES = {
    "min_gru": (lambda: min_gru(H), np_min_gru),
    "min_lstm": (lambda: min_lstm(H), np_min_lstm),
    "lru": (lambda: lru(H), np_lru),
    "diagonal_rnn": (lambda: diagonal_rnn(H), np_diagonal_rnn),
    "jordan": (lambda: jordan(H, 3), np_jordan),
    "simple_gru": (lambda: simple_gru(H), np_simple_gru),
    "mgu": (lambda: mgu(H), np_mgu),
    "gru_reset_before": (lambda: gru(H, reset_after=False), np_gru_reset_before),
    "peephole_lstm": (lambda: lstm(H, peephole=True), np_peephole_lstm),
    "peephole_lstm_proj": (lambda: lstm(H, peephole=True, proj_size=3), np_peephole_lstm),
    "clockwork": (lambda: clockwork(MODULE * len(PERIODS), periods=PERIODS), np_clockwork),
    "layer_norm_lstm": (lambda: lstm(H, layer_norm=True), np_layer_norm_lstm),
    "layer_norm_lstm_peephole_proj": (
        lambda: lstm(H, layer_norm=True, peephole=True, proj_size=3),
        np_layer_norm_lstm,
    ),
    "layer_norm_gru": (lambda: gru(H, layer_norm=True), np_layer_norm_gru),
    "layer_norm_gru_reset_before": (
        lambda: gru(H, layer_norm=True, reset_after=False),
        lambda p, xs, h: np_layer_norm_gru(p, xs, h, reset_after=False),
    ),
}


def _randomize(params, rng):
    # Zero biases and peepholes from init would hide mistakes in their terms.
    return jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape) * 0.5, a.dtype), params)


def _random_state(leaf):
    # Start from a nonzero state; the clockwork step counter starts at 0.
    if jnp.issubdtype(leaf.dtype, jnp.integer):
        return leaf
    return jnp.asarray(np.random.default_rng(1).normal(size=leaf.shape), leaf.dtype)


LINEAR = ("min_gru", "min_lstm", "lru", "diagonal_rnn")


@pytest.mark.parametrize(
    "case, how", [(c, 1) for c in CASES] + [(c, "associative") for c in LINEAR]
)
def test_cell_matches_numpy_equations(rng, case, how):
    make, reference = CASES[case]
    cell = make()
    params = _randomize(cell.init(jax.random.key(0), D), rng)
    xs = rng.normal(size=(B, T, D)).astype(np.float32)
    carry = jax.tree.map(_random_state, cell.initial_carry(params, (B,)))
    final, ys = unroll(cell, params, xs, carry=carry, unroll=how)

    p64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    c64 = jax.tree.map(np.array, carry)  # a writable copy; step counters stay ints
    final_ref, ys_ref = reference(p64, np.swapaxes(xs, 0, 1).astype(np.float64), c64)
    np.testing.assert_allclose(ys, np.stack(ys_ref, axis=1), rtol=2e-5, atol=2e-6)
    for mine, theirs in zip(jax.tree.leaves(final), jax.tree.leaves(final_ref)):
        np.testing.assert_allclose(mine, theirs, rtol=2e-5, atol=2e-6)
