"""The oneDNN LSTM kernel (``lstm_onednn``): beyond the common kernel suite
(``tests/test_kernels.py``), the batch cut into slices on threads, batch shapes, vmap,
where ``impl="auto"`` chooses it, and what happens where the extension is absent."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import LSTMCarry, lstm
from jaxnets.kernels import KERNELS, _onednn_lstm, onednn_available
from jaxnets.rnn import recurrent, unroll

if onednn_available() is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI installs jaxnets[onednn], yet: {onednn_available()}")
    pytest.skip(f"lstm_onednn: {onednn_available()}", allow_module_level=True)


def _args(rng, batch, steps, features, hidden):
    params = lstm(hidden).init(jax.random.key(0), features)
    params = jax.tree.map(lambda a: a + 0.1 * rng.normal(size=a.shape).astype(a.dtype), params)
    xs = jnp.asarray(rng.normal(size=(steps, batch, features)), jnp.float32)
    h0, c0 = (jnp.asarray(rng.normal(size=(batch, hidden)), jnp.float32) for _ in range(2))
    return params, h0, c0, xs


def _value_and_grads(params, h0, c0, xs, slices):
    def loss(params, h0, c0, xs):
        hs, h, c = _onednn_lstm._lstm(params["w_x"], params["w_h"], params["b"], h0, c0, xs, slices)
        return jnp.sum(jnp.tanh(hs) * jnp.linspace(0.5, 1.5, hs.shape[-1])[None, None]) + jnp.sum(
            h**3 + c**3
        )

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))(params, h0, c0, xs)


@pytest.mark.parametrize("slices", [2, 3, 7, 40])
def test_slices_of_the_batch_on_threads_give_what_one_slice_gives(rng, slices):
    # 7 rows in 3 slices are 3 + 2 + 2; 40 slices are one per row.
    args = _args(rng, 7, 13, 5, 6)
    want = _value_and_grads(*args, slices=1)
    got = _value_and_grads(*args, slices=slices)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_as_exact_as_the_plain_scan_against_float64_at_a_larger_size(rng):
    # Sizes where oneDNN picks blocked weight layouts and its vectorized gate code. The
    # gradients reach ~100 there, so float32's rounding differs element by element
    # beyond 1e-5 between any two summation orders: both are held to the float64 answer.
    cell = lstm(64)
    params = jax.tree.map(
        lambda a: a + 0.1 * rng.normal(size=a.shape).astype(a.dtype),
        cell.init(jax.random.key(0), 24),
    )
    xs = rng.normal(size=(9, 31, 24))
    carry = LSTMCarry(*(rng.normal(size=(9, 64)) for _ in range(2)))

    def grads(cell, params, xs, carry, impl):
        def loss(params, xs, carry):
            (h, c), ys = unroll(cell, params, xs, carry=carry, impl=impl)
            weights = jnp.linspace(0.5, 1.5, 64, dtype=ys.dtype)[None, None]
            return jnp.sum(jnp.tanh(ys) * weights) + jnp.sum(h**3 + c**3)

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(params, xs, carry)

    with jax.enable_x64(True):
        exact64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), (params, xs, carry))
        exact = grads(lstm(64, dtype=jnp.float64), *exact64, "reference")
    f32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), (xs, carry))
    for impl in ("reference", "lstm_onednn"):
        got = grads(cell, params, *f32, impl)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(exact)):
            a, b = np.asarray(a, np.float64), np.asarray(b)
            error = np.max(np.abs(a - b)) / np.max(np.abs(b))
            assert error < 2e-6, (impl, error)


def test_batch_shapes_vmap_and_the_layer(rng):
    cell = lstm(5)
    params = cell.init(jax.random.key(1), 3)
    xs = jnp.asarray(rng.normal(size=(2, 3, 9, 3)), jnp.float32)  # batch (2, 3)
    (h, c), ys = unroll(cell, params, xs, impl="lstm_onednn")
    (h_ref, c_ref), ys_ref = unroll(cell, params, xs, impl="reference")
    for a, b in ((ys, ys_ref), (h, h_ref), (c, c_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert isinstance(unroll(cell, params, xs, impl="lstm_onednn")[0], LSTMCarry)
    many = jax.tree.map(lambda a: jnp.stack([a, 2 * a]), params)  # two models under vmap
    ys_many = jax.vmap(lambda p: unroll(cell, p, xs[0], impl="lstm_onednn")[1])(many)
    for k in range(2):
        want = unroll(cell, jax.tree.map(lambda a, k=k: a[k], many), xs[0], impl="reference")[1]
        np.testing.assert_allclose(ys_many[k], want, rtol=1e-5, atol=1e-6)
    layer = recurrent(cell, impl="lstm_onednn")
    np.testing.assert_allclose(layer.apply(params, {}, xs[0])[0], ys[0], rtol=1e-6, atol=1e-6)


def _chosen(cell, xs, **run):
    params = cell.init(jax.random.key(1), xs.shape[-1])
    return str(jax.make_jaxpr(lambda p, x: unroll(cell, p, x, **run))(params, xs))


def test_auto_chooses_it_for_float32_and_lstm_blocks_for_padded_batches(rng):
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)), jnp.float32)
    assert "jaxnets_lstm_infer" in _chosen(lstm(4), xs)
    padded = _chosen(lstm(4), xs, lengths=np.array([7, 3]))
    assert "jaxnets_lstm" not in padded
    assert padded == _chosen(lstm(4), xs, lengths=np.array([7, 3]), impl="lstm_blocks")
    assert "jaxnets_lstm" not in _chosen(lstm(4, dtype=jnp.bfloat16), xs.astype(jnp.bfloat16))
    with pytest.raises(ValueError, match=r"'lstm_onednn' does not apply: it does not mask padded"):
        unroll(lstm(4), lstm(4).init(jax.random.key(0), 3), xs, lengths=np.array([7, 3]),
               impl="lstm_onednn")  # fmt: skip
    with pytest.raises(ValueError, match=r"'lstm_onednn' does not apply: peephole change"):
        unroll(lstm(4, peephole=True), lstm(4, peephole=True).init(jax.random.key(0), 3), xs,
               impl="lstm_onednn")  # fmt: skip


def test_without_the_extension_auto_runs_lstm_blocks_and_forcing_it_names_why(rng, monkeypatch):
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)), jnp.float32)
    why = "oneDNN is not installed (pip install 'jaxnets[onednn]' adds onednn-cpu-gomp)"
    monkeypatch.setattr(_onednn_lstm, "_load", lambda: (None, why))
    assert onednn_available() == why
    assert _chosen(lstm(4), xs) == _chosen(lstm(4), xs, impl="lstm_blocks")
    with pytest.raises(ValueError, match=r"'lstm_onednn' does not apply: oneDNN is not installed"):
        unroll(lstm(4), lstm(4).init(jax.random.key(0), 3), xs, impl="lstm_onednn")
    assert KERNELS["lstm_onednn"].check({}) == why
