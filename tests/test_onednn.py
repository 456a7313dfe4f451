"""The oneDNN kernels (``lstm_onednn``, ``gru_onednn``): beyond the common kernel suite
(``tests/test_kernels.py``), the batch cut into slices on threads, both sequence
layouts, batch shapes, vmap, where ``impl="auto"`` chooses them, and what happens where
the extension is absent."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.cells import LSTMCarry, gru, lstm
from jaxnets.kernels import KERNELS, _onednn_rnn, onednn_available, vmapped_models
from jaxnets.rnn import recurrent, unroll

if onednn_available() is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI installs jaxnets[onednn], yet: {onednn_available()}")
    pytest.skip(f"lstm_onednn: {onednn_available()}", allow_module_level=True)


def _value_and_grads(rng, cell, layout, batch=7, steps=13, features=5, hidden=6):
    """Value and gradients of a loss of ``_rnn``'s outputs, inputs drawn from ``rng``."""
    gates = {"lstm": 4, "gru": 3}[cell]
    weights = tuple(
        jnp.asarray(0.3 * rng.normal(size=shape), jnp.float32)
        for shape in ((features, gates * hidden), (hidden, gates * hidden), (4 * hidden,))
    )
    carry = tuple(
        jnp.asarray(rng.normal(size=(batch, hidden)), jnp.float32)
        for _ in range(2 if cell == "lstm" else 1)
    )
    xs = jnp.asarray(rng.normal(size=(steps, batch, features)), jnp.float32)
    if layout.batch_major:
        xs = xs.transpose(1, 0, 2)

    def loss(weights, carry, xs):
        hs, last = _onednn_rnn._rnn(weights, carry, xs, layout)
        if layout.batch_major:
            hs = hs.transpose(1, 0, 2)
        scale = jnp.linspace(0.5, 1.5, hs.shape[-1])[None, None]
        return jnp.sum(jnp.tanh(hs) * scale) + sum(jnp.sum(c**3) for c in last)

    value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(weights, carry, xs)
    if layout.batch_major:
        grads = (*grads[:2], grads[2].transpose(1, 0, 2))
    return value, grads


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("slices, batch_major", [(2, True), (3, False), (7, True), (40, False)])
def test_slices_and_layouts_give_what_one_time_major_slice_gives(cell, reverse, slices,
                                                                 batch_major):  # fmt: skip
    # 7 rows in 3 slices are 3 + 2 + 2; 40 slices are one per row.
    want = _value_and_grads(np.random.default_rng(0), cell, _onednn_rnn.Layout(cell, 1, reverse))
    layout = _onednn_rnn.Layout(cell, slices, reverse, batch_major)
    got = _value_and_grads(np.random.default_rng(0), cell, layout)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [lstm, gru])
def test_as_exact_as_the_plain_scan_against_float64_at_a_larger_size(rng, make):
    # Sizes where oneDNN picks blocked weight layouts and its vectorized gate code. The
    # gradients reach ~100 there, so float32's rounding differs element by element
    # beyond 1e-5 between any two summation orders: both are held to the float64 answer.
    cell = make(64)
    params = jax.tree.map(
        lambda a: a + 0.1 * rng.normal(size=a.shape).astype(a.dtype),
        cell.init(jax.random.key(0), 24),
    )
    xs = rng.normal(size=(9, 31, 24))
    carry = rng.normal(size=(9, 64))
    if make is lstm:
        carry = LSTMCarry(carry, rng.normal(size=(9, 64)))

    def grads(cell, params, xs, carry, impl):
        def loss(params, xs, carry):
            final, ys = unroll(cell, params, xs, carry=carry, impl=impl)
            weights = jnp.linspace(0.5, 1.5, 64, dtype=ys.dtype)[None, None]
            return jnp.sum(jnp.tanh(ys) * weights) + sum(
                jnp.sum(c**3) for c in jax.tree.leaves(final)
            )

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(params, xs, carry)

    with jax.enable_x64(True):
        exact64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), (params, xs, carry))
        exact = grads(make(64, dtype=jnp.float64), *exact64, "reference")
    f32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), (xs, carry))
    for impl in ("reference", f"{make.__name__}_onednn"):
        got = grads(cell, params, *f32, impl)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(exact)):
            a, b = np.asarray(a, np.float64), np.asarray(b)
            error = np.max(np.abs(a - b)) / np.max(np.abs(b))
            assert error < 2e-6, (impl, error)


@pytest.mark.parametrize("make", [lstm, gru])
def test_batch_shapes_vmap_and_the_layer(rng, make):
    cell, impl = make(5), f"{make.__name__}_onednn"
    params = cell.init(jax.random.key(1), 3)
    xs = jnp.asarray(rng.normal(size=(2, 3, 9, 3)), jnp.float32)  # batch (2, 3)
    final, ys = unroll(cell, params, xs, impl=impl)
    final_ref, ys_ref = unroll(cell, params, xs, impl="reference")
    assert type(final) is type(final_ref)
    for a, b in zip(jax.tree.leaves((final, ys)), jax.tree.leaves((final_ref, ys_ref))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    many = jax.tree.map(lambda a: jnp.stack([a, 2 * a]), params)  # two models under vmap
    ys_many = jax.vmap(lambda p: unroll(cell, p, xs[0], impl=impl)[1])(many)
    for k in range(2):
        want = unroll(cell, jax.tree.map(lambda a, k=k: a[k], many), xs[0], impl="reference")[1]
        np.testing.assert_allclose(ys_many[k], want, rtol=1e-5, atol=1e-6)
    layer = recurrent(cell, impl=impl)
    np.testing.assert_allclose(layer.apply(params, {}, xs[0])[0], ys[0], rtol=1e-6, atol=1e-6)


def _chosen(cell, xs, **run):
    params = cell.init(jax.random.key(1), xs.shape[-1])
    return str(jax.make_jaxpr(lambda p, x: unroll(cell, p, x, **run))(params, xs))


@pytest.mark.parametrize("make, fallback", [(lstm, "lstm_blocks"), (gru, "gru_fused")])
def test_auto_chooses_them_in_float32_and_the_jax_kernels_for_padded_batches(rng, make,
                                                                            fallback):  # fmt: skip
    name = make.__name__
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)), jnp.float32)
    assert f"jaxnets_{name}_infer" in _chosen(make(4), xs)
    padded = _chosen(make(4), xs, lengths=np.array([7, 3]))
    assert "jaxnets_" not in padded
    assert padded == _chosen(make(4), xs, lengths=np.array([7, 3]), impl=fallback)
    assert "jaxnets_" not in _chosen(make(4, dtype=jnp.bfloat16), xs.astype(jnp.bfloat16))
    with pytest.raises(ValueError, match=rf"'{name}_onednn' does not apply: it does not mask"):
        unroll(make(4), make(4).init(jax.random.key(0), 3), xs, lengths=np.array([7, 3]),
               impl=f"{name}_onednn")  # fmt: skip
    options, why = ({"peephole": True}, "peephole change") if make is lstm else (
        {"reset_after": False}, "reset_after=False")  # fmt: skip
    with pytest.raises(ValueError, match=rf"'{name}_onednn' does not apply: {why}"):
        unroll(make(4, **options), make(4, **options).init(jax.random.key(0), 3), xs,
               impl=f"{name}_onednn")  # fmt: skip


def test_without_the_extension_auto_runs_the_jax_kernels_and_forcing_one_names_why(
    rng, monkeypatch
):
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)), jnp.float32)
    why = "oneDNN is not installed (pip install 'jaxnets[onednn]' adds onednn-cpu-gomp)"
    monkeypatch.setattr(_onednn_rnn, "_load", lambda: (None, why))
    assert onednn_available() == why
    assert _chosen(lstm(4), xs) == _chosen(lstm(4), xs, impl="lstm_blocks")
    assert _chosen(gru(4), xs) == _chosen(gru(4), xs, impl="gru_fused")
    with pytest.raises(ValueError, match=r"'lstm_onednn' does not apply: oneDNN is not installed"):
        unroll(lstm(4), lstm(4).init(jax.random.key(0), 3), xs, impl="lstm_onednn")
    assert KERNELS["lstm_onednn"].check({}) == KERNELS["gru_onednn"].check({}) == why


def test_inside_vmapped_models_auto_takes_the_kernels_that_batch_over_models(rng):
    # Under jax.vmap a foreign call runs model after model; fit_seeds traces its
    # programs inside vmapped_models(), so its seeds run the pure-JAX kernels batched.
    cell = lstm(4)
    params = jax.vmap(lambda k: cell.init(k, 3))(jax.random.split(jax.random.key(0), 3))
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)), jnp.float32)

    def program(impl="auto"):
        return str(jax.make_jaxpr(jax.vmap(lambda p: unroll(cell, p, xs, impl=impl)[1]))(params))

    assert "jaxnets_lstm_infer" in program()
    with vmapped_models():
        assert "jaxnets_lstm" not in program()
        assert program() == program("lstm_blocks")
        assert "jaxnets_lstm_infer" in program("lstm_onednn")  # forcing still runs it
    assert "jaxnets_lstm_infer" in program()


def test_fit_seeds_runs_the_pure_jax_kernel_and_fit_the_onednn_one(monkeypatch):
    from jaxnets.train import fit, fit_seeds, mse

    ran = []
    for name in ("lstm_onednn", "lstm_blocks"):

        def spy(*args, kernel=KERNELS[name], **kwargs):
            ran.append(kernel.name)  # at trace time
            return kernel.run(*args, **kwargs)

        monkeypatch.setitem(KERNELS, name, KERNELS[name]._replace(run=spy))
    model = recurrent(lstm(4))
    x, y = jnp.ones((8, 5, 3)), jnp.zeros((8, 5, 4))
    _, params, state = model.init(jax.random.key(0), (5, 3))
    fit(model, params, state, optax.sgd(0.1), mse, x, y, epochs=1, batch_size=4,
        key=jax.random.key(1))  # fmt: skip
    assert set(ran) == {"lstm_onednn"}
    ran.clear()
    fit_seeds(model, optax.sgd(0.1), mse, x, y, keys=jax.random.split(jax.random.key(2), 2),
              epochs=1, batch_size=4)  # fmt: skip
    assert set(ran) == {"lstm_blocks"}
