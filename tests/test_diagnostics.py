"""Diagnostics against finite differences, explicit Jacobian products and NumPy counts."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import clockwork, elman, gru, lstm
from jaxnets.diagnostics import (
    gate_activations,
    gate_saturation,
    gradient_flow,
    jacobian_norms,
    plot_gate_saturation,
    plot_gradient_flow,
    plot_jacobian_norms,
)
from jaxnets.diagnostics._trajectory import perturbed_run

B, T, D, H = 2, 8, 3, 4


def _xs(shape=(B, T, D), seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _loss(ys, final):
    return jnp.sum(jnp.sin(ys[:, -1])) + 0.5 * jnp.sum(ys[:, T // 2] ** 2)


def test_gradient_flow_equals_finite_differences_of_a_perturbed_state():
    with jax.enable_x64(True):
        cell = gru(H, dtype=jnp.float64)
        params = cell.init(jax.random.key(0), D)
        xs = _xs().astype(jnp.float64)
        norms = gradient_flow(cell, params, xs, _loss)

        def loss_with(t, e):
            # The loss when e (B, H) is added to the hidden state that step t reads.
            final, ys = perturbed_run(cell, params, xs, [jnp.zeros((T, B, H)).at[t].set(e)])
            return _loss(ys, final)

        direction = np.random.default_rng(1).normal(size=(B, H))
        for t in (1, T // 2, T - 2):
            grad = np.asarray(jax.grad(loss_with, argnums=1)(t, jnp.zeros((B, H))))
            fd = (loss_with(t, 1e-6 * direction) - loss_with(t, -1e-6 * direction)) / 2e-6
            np.testing.assert_allclose(fd, np.sum(grad * direction), rtol=1e-6)
            np.testing.assert_allclose(norms[t], np.linalg.norm(grad), rtol=1e-10)


def test_linear_rnn_gradient_flow_decays_exactly_like_a_to_the_k():
    a = 0.8
    cell = elman(H, activation="identity")
    params = {**cell.init(jax.random.key(0), D), "w_h": a * jnp.eye(H)}
    v = jnp.arange(1.0, H + 1)
    norms = gradient_flow(cell, params, _xs((1, T, D)), lambda ys, h: jnp.sum(h * v[None]))
    # h_T-1 = a^(T - t) h_t-1 + (input terms): entry t is a^(T - t) ||v||.
    expected = a ** np.arange(T, 0, -1) * float(jnp.linalg.norm(v))
    np.testing.assert_allclose(norms, expected, rtol=1e-5)


def test_gradient_flow_covers_both_parts_of_an_lstm_carry():
    cell = lstm(H)
    params = cell.init(jax.random.key(0), D)
    norms = gradient_flow(cell, params, _xs(), lambda ys, carry: jnp.sum(carry.c))
    assert (norms > 0).all()
    only_h = gradient_flow(cell, params, _xs(), lambda ys, carry: jnp.sum(carry.h))
    assert norms[-1] > only_h[-1] > 0  # c carries more signal back than h alone


@pytest.mark.parametrize(
    "make", [lambda: elman(H), lambda: lstm(H), lambda: clockwork(H, num_modules=2)]
)
def test_jacobian_norms_equal_an_explicit_jacfwd_of_the_k_step_map(make):
    cell = make()
    params = cell.init(jax.random.key(0), D)
    xs = _xs((T, D))
    k_max = 5
    norms = jacobian_norms(cell, params, xs, k_max)
    carry = cell.initial_carry(params, ())
    states = [carry]
    for t in range(T):
        carry, _ = cell.step(params, carry, xs[t])
        states.append(carry)
    for k in range(1, k_max + 1):
        start = states[T - k]
        is_float = [jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in jax.tree.leaves(start)]

        def k_steps(floats, k=k, start=start, is_float=is_float):
            floats = iter(floats)
            leaves = [
                next(floats) if f else leaf for leaf, f in zip(jax.tree.leaves(start), is_float)
            ]
            c = jax.tree.unflatten(jax.tree.structure(start), leaves)
            for t in range(T - k, T):
                c, _ = cell.step(params, c, xs[t])
            return jnp.concatenate(
                [leaf for leaf in jax.tree.leaves(c) if jnp.issubdtype(leaf.dtype, jnp.floating)]
            )

        floats = [leaf for leaf, f in zip(jax.tree.leaves(start), is_float) if f]
        blocks = jax.jacfwd(k_steps)(floats)
        jacobian = np.concatenate([np.asarray(b) for b in blocks], axis=1)
        np.testing.assert_allclose(norms[k - 1], np.linalg.norm(jacobian, ord=2), rtol=1e-4)


def test_gate_saturation_matches_a_numpy_count():
    cell = lstm(H)
    params = cell.init(jax.random.key(0), D)
    params = {
        **params,
        "b": jnp.asarray(np.random.default_rng(0).normal(size=4 * H) * 4, jnp.float32),
    }
    xs = _xs() * 3
    fractions = gate_saturation(cell, params, xs)
    activations = gate_activations(cell, params, xs)
    # NumPy count on the same activations, and the activations against the equations
    # at step 0 (zero carry): sigmoid(x w_x + b) per gate.
    pre = np.asarray(xs[:, 0], np.float64) @ np.asarray(params["w_x"], np.float64) + np.asarray(
        params["b"]
    )
    for name, index in (("i", 0), ("f", 1), ("o", 3)):
        values = np.asarray(activations[name])
        np.testing.assert_allclose(
            values[0], 1 / (1 + np.exp(-pre[:, index * H : (index + 1) * H])), rtol=1e-5
        )
        expected = ((values < 0.05) | (values > 0.95)).reshape(T, -1).mean(1)
        np.testing.assert_array_equal(fractions[name], expected)
    assert set(fractions) == {"i", "f", "o"}
    assert 0 < fractions["i"].mean() < 1


def test_plots_write_png_files(tmp_path):
    cell = gru(H)
    params = cell.init(jax.random.key(0), D)
    flow = gradient_flow(cell, params, _xs(), _loss)
    files = [
        plot_gradient_flow({"gru": flow}, str(tmp_path / "flow.png"), baseline={"gru": flow / 2}),
        plot_jacobian_norms(
            {"gru": jacobian_norms(cell, params, _xs((T, D)), 4)}, str(tmp_path / "jac.png")
        ),
        plot_gate_saturation(gate_saturation(cell, params, _xs()), str(tmp_path / "gates.png")),
    ]
    for path in files:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_diagnostics_reject_bad_input():
    cell = gru(H)
    params = cell.init(jax.random.key(0), D)
    with pytest.raises(ValueError, match="`loss_fn` does not depend on the hidden states"):
        gradient_flow(cell, params, _xs(), lambda ys, h: jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"`max_k` must be an int in \[1, T\] = \[1, 8\], got 9"):
        jacobian_norms(cell, params, _xs((T, D)), 9)
    with pytest.raises(ValueError, match="`cell` has no gates hook"):
        e = elman(H)
        gate_saturation(e, e.init(jax.random.key(0), D), _xs())


def diagnostics_numbers():
    """The diagnostics of four cells on a fixed seed: what tests/data/diagnostics_numbers.json
    recorded when the diagnostics still ran their own Python loops over ``step``
    (git revision 77925e4^, this function run there)."""
    xs = jnp.asarray(np.random.default_rng(7).normal(size=(2, 12, 3)), jnp.float32)
    cells = {
        "lstm": lstm(5),
        "gru": gru(5),
        "elman": elman(5),
        "clockwork": clockwork(4, num_modules=2),
    }
    out = {}
    for name, cell in cells.items():
        params = cell.init(jax.random.key(3), 3)
        flow = gradient_flow(cell, params, xs, lambda ys, c: jnp.sum(ys[:, -1] ** 2))
        out[name] = {
            "flow": np.asarray(flow),
            "jac": np.asarray(jacobian_norms(cell, params, xs[0], 6)),
        }
        if name in ("lstm", "gru"):
            out[name]["sat"] = gate_saturation(cell, params, xs * 3, low=0.2, high=0.8)
    return out


def test_the_diagnostics_numbers_are_those_of_their_own_loops():
    recorded = json.loads(
        (pathlib.Path(__file__).parent / "data" / "diagnostics_numbers.json").read_text()
    )
    now = diagnostics_numbers()
    assert set(now) == set(recorded)
    for name, values in recorded.items():
        np.testing.assert_allclose(now[name]["flow"], values["flow"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(now[name]["jac"], values["jac"], rtol=1e-5, atol=1e-6)
        for gate, fractions in values.get("sat", {}).items():
            np.testing.assert_allclose(now[name]["sat"][gate], fractions, atol=1e-6)
