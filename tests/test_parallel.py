"""Parallel recurrences: unroll="associative" against the sequential scan for every cell
linear in its state (values and gradients, lengths, reverse, bidirectional, stacked),
the log-space form where the naive closed form overflows, and the LRU's eigenvalues."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import diagonal_rnn, lru, lru_eigenvalues, lstm, min_gru, min_lstm
from jaxnets.core import cell_tag
from jaxnets.rnn import bidirectional, stacked_rnn, unroll

LINEAR = {
    "min_gru": lambda: min_gru(5),
    "min_lstm": lambda: min_lstm(5),
    "lru": lambda: lru(5),
    "diagonal_rnn": lambda: diagonal_rnn(5),
}


def _value_and_grads(cell, params, xs, how, **run):
    def loss(params, xs):
        final, ys = unroll(cell, params, xs, unroll=how, **run)
        return jnp.sum(jnp.tanh(ys)) + sum(jnp.sum(jnp.abs(c) ** 2) for c in jax.tree.leaves(final))

    return jax.jit(jax.value_and_grad(loss, (0, 1)))(params, xs)


@pytest.mark.parametrize("name", list(LINEAR))
@pytest.mark.parametrize("lengths", [None, np.array([29, 1, 17, 8])])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_equals_the_sequential_scan(rng, name, lengths, reverse):
    cell = LINEAR[name]()
    params = jax.tree.map(
        lambda a: a + jnp.asarray(0.1 * rng.normal(size=a.shape), a.dtype),
        cell.init(jax.random.key(0), 3),
    )
    xs = jnp.asarray(rng.normal(size=(4, 29, 3)).astype(np.float32))
    run = {"lengths": lengths, "reverse": reverse}
    got = _value_and_grads(cell, params, xs, "associative", **run)
    want = _value_and_grads(cell, params, xs, 1, **run)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(LINEAR))
def test_associative_in_float64_to_1e_10(rng, name):
    with jax.enable_x64(True):
        cell = {"min_gru": min_gru, "min_lstm": min_lstm, "lru": lru,
                "diagonal_rnn": diagonal_rnn}[name](5, dtype=jnp.float64)  # fmt: skip
        params = cell.init(jax.random.key(0), 3)
        xs = jnp.asarray(rng.normal(size=(3, 40, 3)))
        run = {"lengths": np.array([40, 13, 1])}
        got = _value_and_grads(cell, params, xs, "associative", **run)
        want = _value_and_grads(cell, params, xs, 1, **run)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert a.dtype in (jnp.float64, jnp.complex128)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_bidirectional_and_stacked_layers_run_the_parallel_form(rng):
    xs = jnp.asarray(rng.normal(size=(3, 12, 4)).astype(np.float32))
    lengths = np.array([12, 5, 9])
    for make in (
        lambda how: bidirectional(min_gru(6), lru(6), unroll=how),
        lambda how: stacked_rnn(min_lstm(6), 2, bidirectional=True, unroll=how),
    ):
        layer, sequential = make("associative"), make(1)
        _, params, state = layer.init(jax.random.key(0), xs.shape[1:])

        def loss(params, layer, state=state):
            return jnp.sum(layer.apply(params, state, xs, lengths=lengths)[0] ** 2)

        got = jax.value_and_grad(loss)(params, layer)
        want = jax.value_and_grad(loss)(params, sequential)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        programs = [
            str(jax.make_jaxpr(lambda p, net=net, state=state: net.apply(p, state, xs)[0])(params))
            for net in (layer, sequential)
        ]
        assert "cumsum" in programs[0] and "cumsum" not in programs[1]


def test_log_space_stays_finite_where_the_naive_closed_form_overflows():
    # Forget-like gates near 0 over 2,000 steps: the product of a_t underflows, and the
    # closed form h_t = A_t (h_0 + sum_k b_k / A_k) divides by it.
    cell = min_gru(3)
    params = cell.init(jax.random.key(0), 2)
    params = {**params, "b": params["b"].at[:3].set(6.0)}  # z near 1: 1 - z near 0
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(2, 2000, 2)).astype(np.float32))
    log_a, log_b = cell_tag(cell).options["recurrence"].coefficients(params, xs)
    a, b = np.exp(np.asarray(log_a, np.float32)), np.exp(np.asarray(log_b, np.float32))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        big_a = np.cumprod(a, axis=1)
        naive = big_a * np.cumsum(b / big_a, axis=1)
    assert not np.isfinite(naive).all()  # the naive form breaks here

    _, ys = unroll(cell, params, xs, unroll="associative")
    _, ys_seq = unroll(cell, params, xs)
    assert np.isfinite(ys).all()
    np.testing.assert_allclose(ys, ys_seq, rtol=1e-5, atol=1e-5)
    grads = jax.grad(lambda p: jnp.sum(unroll(cell, p, xs, unroll="associative")[1]))(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_lru_eigenvalues_stay_inside_the_unit_circle():
    cell = lru(64, r_min=0.4, r_max=0.9)
    params = cell.init(jax.random.key(0), 3)
    magnitudes = np.abs(lru_eigenvalues(params))
    assert (magnitudes >= 0.4 - 1e-6).all() and (magnitudes <= 0.9 + 1e-6).all()
    # Any real params, however far training moves them: |lambda| = exp(-exp(nu_log)) < 1
    # (in float32 until nu_log < -16, where exp(-exp(nu_log)) rounds to 1).
    rng = np.random.default_rng(0)
    for scale in (1.0, 4.0):
        moved = {**params, "nu_log": jnp.asarray(scale * rng.normal(size=64), jnp.float32)}
        assert (np.abs(lru_eigenvalues(moved)) < 1).all()


def test_associative_needs_a_parallel_form():
    params = lstm(4).init(jax.random.key(0), 3)
    xs = jnp.ones((2, 5, 3))
    with pytest.raises(ValueError, match=r"unroll='associative' needs a cell with a parallel"):
        unroll(lstm(4), params, xs, unroll="associative")
    cell = min_gru(4)
    params = cell.init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"impl='reference' is the sequential scan"):
        unroll(cell, params, xs, unroll="associative", impl="reference")
    with pytest.raises(ValueError, match=r"'lstm_blocks' does not apply: unroll='associative'"):
        unroll(lstm(4), lstm(4).init(jax.random.key(0), 3), xs, unroll="associative",
               impl="lstm_blocks")  # fmt: skip
    with pytest.raises(ValueError, match=r"`unroll` must be an int >= 1, 'python' or 'assoc"):
        unroll(cell, params, xs, unroll="parallel")
    with pytest.raises(ValueError, match=r"need 0 <= `r_min` < `r_max` <= 1"):
        lru(4, r_min=0.5, r_max=0.5)


def test_auto_keeps_the_sequential_scan_unless_associative_is_asked_for():
    cell = min_gru(4)
    params = cell.init(jax.random.key(0), 3)
    xs = jnp.ones((2, 5, 3))

    def program(**run):
        return str(jax.make_jaxpr(lambda p: unroll(cell, p, xs, **run)[1])(params))

    assert program() == program(impl="reference") != program(unroll="associative")
    assert program(unroll="associative") == program(impl="associative_scan")
