"""ConvLSTM against NumPy written from Shi et al.'s equations (convolutions as explicit
sums over the kernel), through unroll with lengths and through stacked_rnn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import conv_lstm
from jaxnets.rnn import stacked_rnn, unroll

B, T, HW, C, F = 2, 4, (5, 6), 2, 3


def np_same_conv(image, kernel):
    """image (H, W, C), kernel (kh, kw, C, F) odd-sized: zero-padded, centred."""
    kh, kw = kernel.shape[:2]
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros((*image.shape[:2], kernel.shape[-1]))
    for dy in range(kh):
        for dx in range(kw):
            window = padded[dy : dy + image.shape[0], dx : dx + image.shape[1]]
            out += window @ kernel[dy, dx]
    return out


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_conv_lstm(p, frames, peephole):
    """frames (T, H, W, C) of one sequence -> outputs (T, H, W, F), Python loop."""
    h = np.zeros((*frames.shape[1:3], F))
    c = np.zeros_like(h)
    out = []
    for x in frames:
        gates = np_same_conv(x, p["w_x"]) + np_same_conv(h, p["w_h"]) + p["b"]
        i, f, g, o = np.split(gates, 4, axis=-1)
        if peephole:
            i, f = i + p["p_i"] * c, f + p["p_f"] * c
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        o = o + p["p_o"] * c if peephole else o
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out)


@pytest.mark.parametrize("peephole", [True, False])
def test_conv_lstm_equals_numpy_equations(rng, peephole):
    cell = conv_lstm(F, 3, HW, peephole=peephole)
    params = cell.init(jax.random.key(0), HW[0] * HW[1] * C)
    params = jax.tree.map(lambda a: a + jnp.asarray(rng.normal(0, 0.2, a.shape), a.dtype), params)
    frames = rng.normal(size=(B, T, *HW, C)).astype(np.float32)
    _, ys = unroll(cell, params, jnp.asarray(frames.reshape(B, T, -1)))
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    want = np.stack([np_conv_lstm(p, seq, peephole) for seq in frames])
    np.testing.assert_allclose(ys.reshape(B, T, *HW, F), want, rtol=1e-5, atol=1e-5)

    # Padded batches: the second sequence stops after 2 frames.
    carry, ys = unroll(
        cell, params, jnp.asarray(frames.reshape(B, T, -1)), lengths=jnp.array([T, 2])
    )
    np.testing.assert_allclose(carry.h[1].reshape(*HW, F), want[1, 1], rtol=1e-5, atol=1e-5)
    assert not np.asarray(ys[1, 2:]).any()


def test_stacked_conv_lstms_read_each_others_maps(rng):
    # Layer 2 reads layer 1's (H, W, F) maps, flattened: C = F for it.
    deep = stacked_rnn(conv_lstm(F, 3, HW), 2)
    _, params, _ = deep.init(jax.random.key(1), (T, HW[0] * HW[1] * C))
    assert params["layer_1"]["w_x"].shape == (3, 3, F, 4 * F)
    frames = jnp.asarray(rng.normal(size=(B, T, HW[0] * HW[1] * C)), jnp.float32)
    ys, _ = deep.apply(params, {}, frames)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    first = [np_conv_lstm(p["layer_0"], np.asarray(s).reshape(T, *HW, C), True) for s in frames]
    want = np.stack([np_conv_lstm(p["layer_1"], seq, True) for seq in first])
    np.testing.assert_allclose(ys.reshape(B, T, *HW, F), want, rtol=1e-5, atol=1e-5)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"multiple of 30; got 31"):
        conv_lstm(F, 3, HW).init(jax.random.key(0), 31)
    with pytest.raises(ValueError, match="`spatial_shape`"):
        conv_lstm(F, 3, (5, 0))
