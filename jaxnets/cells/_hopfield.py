"""Hopfield network: Hebbian storage of +-1 patterns and recall by energy descent."""

import jax
import jax.numpy as jnp

from jaxnets.core import check_shape


def hopfield_store(patterns) -> dict:
    """Hebbian weights for P patterns of N units, each +-1.

      w = (1 / N) sum_p patterns[p]^T patterns[p], with a zero diagonal

    Args:
      patterns: (P, N) array of +-1.

    Returns:
      ``{"w": (N, N)}``, symmetric with a zero diagonal.
    """
    patterns = jnp.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(
            f"hopfield_store: `patterns` must have shape (P, N), got {patterns.shape}."
        )
    if not bool(jnp.all(jnp.abs(patterns) == 1)):
        raise ValueError("hopfield_store: `patterns` must hold only -1 and +1.")
    n = patterns.shape[1]
    patterns = patterns.astype(jnp.float32)
    w = patterns.T @ patterns / n
    return {"w": w * (1 - jnp.eye(n, dtype=w.dtype))}


def hopfield_energy(params, s):
    """E(s) = -1/2 s w s^T for states s (..., N); one value per state."""
    check_shape("hopfield_energy", "s", s, (..., params["w"].shape[0]))
    return -0.5 * jnp.sum((s @ params["w"]) * s, axis=-1)


def _sign(field, s):
    # A unit whose field is exactly zero keeps its state.
    return jnp.where(field > 0, 1.0, jnp.where(field < 0, -1.0, s)).astype(s.dtype)


def hopfield_recall(params, probe, *, sweeps: int = 10, asynchronous: bool = True, key=None):
    """Run the network from ``probe`` (..., N) of +-1 for ``sweeps`` sweeps.

    Asynchronous (the default): each sweep updates every unit once, one at a time
    in an order drawn from ``key``, s_i = sign(sum_j w_ij s_j); the energy never
    increases. Synchronous: all units at once, s = sign(s w), which may end in a
    2-cycle instead of a fixed point.

    Returns:
      ``(s, energies)``: the final states (..., N) and the energy before the first
      sweep and after each one, (sweeps + 1, ...).
    """
    w = params["w"]
    n = w.shape[0]
    check_shape("hopfield_recall", "probe", probe, (..., n))
    if asynchronous and key is None:
        raise ValueError("hopfield_recall: `key` is required when asynchronous=True, got None.")
    s = jnp.asarray(probe, w.dtype)

    def unit_update(i, s):
        return s.at[..., i].set(_sign(s @ w[:, i], s[..., i]))

    def sweep(s, sweep_key):
        if asynchronous:
            order = jax.random.permutation(sweep_key, n)
            s = jax.lax.fori_loop(0, n, lambda j, s: unit_update(order[j], s), s)
        else:
            s = _sign(s @ w, s)
        return s, hopfield_energy(params, s)

    keys = jax.random.split(key if key is not None else jax.random.key(0), sweeps)
    s, energies = jax.lax.scan(sweep, s, keys)
    return s, jnp.concatenate([hopfield_energy(params, probe.astype(w.dtype))[None], energies])
