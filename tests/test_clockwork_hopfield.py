"""Clockwork RNN's modules and parameter count; Hopfield storage and recall."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import clockwork, elman, hopfield_energy, hopfield_recall, hopfield_store
from jaxnets.rnn import unroll


def test_clockwork_modules_hold_their_state_between_ticks(rng):
    periods, k = (1, 2, 4), 3
    cell = clockwork(k * len(periods), periods=periods)
    params = cell.init(jax.random.key(0), 2)
    xs = jnp.asarray(rng.normal(size=(2, 12, 2)), jnp.float32)
    final, hs = unroll(cell, params, xs)
    assert final.t.tolist() == [12, 12]
    for i, period in enumerate(periods):
        module = np.asarray(hs[..., i * k : (i + 1) * k])
        for t in range(1, 12):
            changed = not np.allclose(module[:, t], module[:, t - 1])
            assert changed == (t % period == 0), (i, t)


def test_slow_modules_do_not_read_fast_ones(rng):
    cell = clockwork(4, periods=(1, 2))
    params = cell.init(jax.random.key(0), 2)
    carry = cell.initial_carry(params, (1,))
    x = jnp.asarray(rng.normal(size=(1, 2)), jnp.float32)
    # Change only the fast module's state: the slow module's update must not move.
    a = carry._replace(h=jnp.array([[0.5, -0.5, 0.1, 0.2]]))
    b = carry._replace(h=jnp.array([[-0.9, 0.9, 0.1, 0.2]]))
    (ha, _), (hb, _) = cell.step(params, a, x)[0], cell.step(params, b, x)[0]
    np.testing.assert_allclose(ha[:, 2:], hb[:, 2:], rtol=1e-6)
    assert not np.allclose(ha[:, :2], hb[:, :2])


@pytest.mark.parametrize("g, k", [(3, 4), (4, 2), (1, 5)])
def test_clockwork_recurrent_parameter_count(g, k):
    params = clockwork(g * k, num_modules=g).init(jax.random.key(0), 3)
    recurrent = sum(block.size for block in params["w_h"])
    assert recurrent == k * k * g * (g + 1) // 2
    full = elman(g * k).init(jax.random.key(0), 3)["w_h"].size
    assert recurrent <= full


def test_clockwork_rejects_bad_periods():
    with pytest.raises(ValueError, match="`periods` must be non-decreasing"):
        clockwork(4, periods=(2, 1))
    with pytest.raises(ValueError, match="`hidden_size` must be a multiple of the 3 modules"):
        clockwork(4, periods=(1, 2, 4))


def test_hopfield_recalls_patterns_from_noisy_probes():
    n, num_patterns = 200, 10  # load 0.05, well below the ~0.138 capacity
    rng = np.random.default_rng(0)
    patterns = rng.choice([-1.0, 1.0], size=(num_patterns, n))
    params = hopfield_store(patterns)
    w = np.asarray(params["w"])
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_array_equal(np.diag(w), 0.0)
    flips = rng.random((num_patterns, n)) < 0.1
    probes = np.where(flips, -patterns, patterns)
    for asynchronous in (True, False):
        recalled, energies = hopfield_recall(
            params, jnp.asarray(probes), sweeps=5, asynchronous=asynchronous, key=jax.random.key(0)
        )
        np.testing.assert_array_equal(recalled, patterns)
        assert energies.shape == (6, num_patterns)


def test_hopfield_energy_never_increases_under_asynchronous_updates():
    rng = np.random.default_rng(1)
    # Overloaded on purpose: many spurious states, so the descent has work to do.
    params = hopfield_store(rng.choice([-1.0, 1.0], size=(30, 60)))
    probes = jnp.asarray(rng.choice([-1.0, 1.0], size=(8, 60)))
    _, energies = hopfield_recall(params, probes, sweeps=6, key=jax.random.key(2))
    steps = np.diff(np.asarray(energies), axis=0)
    assert (steps <= 1e-5).all()
    assert (steps < -1e-3).any()
    # The energy is E(s) = -1/2 s w s^T, written out.
    s = np.asarray(probes[0])
    np.testing.assert_allclose(
        hopfield_energy(params, probes)[0], -0.5 * s @ np.asarray(params["w"]) @ s, rtol=1e-5
    )


def test_hopfield_rejects_bad_input():
    with pytest.raises(ValueError, match="`patterns` must hold only -1 and \\+1"):
        hopfield_store(np.array([[1.0, 0.0]]))
    params = hopfield_store(np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"`probe` must have shape \(\.\.\., 4\)"):
        hopfield_recall(params, jnp.ones((2, 5)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="`key` is required"):
        hopfield_recall(params, jnp.ones((2, 4)))
