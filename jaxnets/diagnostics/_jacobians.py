"""Spectral norms of the Jacobians dh_T / dh_{T-k}: exponential decay or growth."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._trajectory import carries, step_inputs


def jacobian_norms(cell, params, xs, max_k: int, *, carry=None):
    """||dh_T / dh_{T-k}||_2 for k = 1..max_k along one input sequence.

    The per-step Jacobians J_t = dh_t / dh_{t-1} (over every float leaf of the
    carry, flattened) are taken with ``jax.jacfwd`` along the trajectory, and the
    products J_T J_{T-1} ... J_{T-k+1} accumulated from the end.

    Args:
      cell: a Cell.
      params: the cell's params.
      xs: one sequence (T, D), no batch axis.
      max_k: the largest distance K, in [1, T].
      carry: the initial carry (no batch axis); zeros by default.

    Returns:
      (max_k,) float64 NumPy array: entry k - 1 is the spectral norm at distance k.
    """
    xs = jnp.asarray(xs)
    if xs.ndim != 2:
        raise ValueError(f"jacobian_norms: `xs` must have shape (T, D), got {xs.shape}.")
    num_steps = xs.shape[0]
    if not isinstance(max_k, int) or not 1 <= max_k <= num_steps:
        raise ValueError(
            f"jacobian_norms: `max_k` must be an int in [1, T] = [1, {num_steps}], got {max_k!r}."
        )
    # The states come from unroll; the Jacobians of the last max_k steps are taken there.
    read = carries(cell, params, xs, carry=carry)
    inputs, body = step_inputs(cell, params, xs)
    jacobians = []
    for t in range(num_steps - max_k, num_steps):
        state = jax.tree.map(lambda leaf, t=t: leaf[t], read)
        z = jax.tree.map(lambda a, t=t: a[t], inputs)
        flat, unravel = _ravel_float(state)

        def step_flat(v, z=z, unravel=unravel):
            new, _ = body(params, unravel(v), z)
            return _ravel_float(new)[0]

        jacobians.append(np.asarray(jax.jacfwd(step_flat)(flat), np.float64))
    norms, product = [], np.eye(jacobians[-1].shape[0])
    for jacobian in reversed(jacobians):
        product = product @ jacobian
        norms.append(np.linalg.norm(product, ord=2))
    return np.array(norms)


def _ravel_float(carry):
    """The float leaves as one vector, and the function that puts a vector back."""
    leaves, treedef = jax.tree.flatten(carry)
    is_float = [jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in leaves]
    flat, unravel_floats = ravel_pytree([leaf for leaf, f in zip(leaves, is_float) if f])

    def unravel(v):
        floats = iter(unravel_floats(v))
        return jax.tree.unflatten(
            treedef, [next(floats) if f else leaf for leaf, f in zip(leaves, is_float)]
        )

    return flat, unravel
