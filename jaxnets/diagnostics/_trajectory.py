"""Running a cell step by step while exposing what the diagnostics need."""

import jax
import jax.numpy as jnp
from jax import lax


def time_major_inputs(cell, params, xs):
    """The cell's per-step inputs for xs (*batch, T, D), time first, and the step body."""
    xs = jnp.moveaxis(xs, -2, 0)
    if cell.project is not None:
        return cell.project(params, xs), cell.recur
    return xs, cell.step


def float_part(carry):
    """The differentiable leaves of a carry (the clockwork step counter is not)."""
    return [leaf for leaf in jax.tree.leaves(carry) if jnp.issubdtype(leaf.dtype, jnp.floating)]


def perturbed_run(cell, params, xs, perturbations, carry=None):
    """Unroll, adding ``perturbations[t]`` to the carry's float leaves as step t reads it.

    Returns ``(final_carry, ys)``, ys batch-first like ``jaxnets.rnn.unroll``.
    """
    inputs, body = time_major_inputs(cell, params, xs)
    if carry is None:
        carry = cell.initial_carry(params, xs.shape[:-2])
    treedef = jax.tree.structure(carry)
    is_float = [jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in jax.tree.leaves(carry)]

    def add(carry, eps):
        eps = iter(eps)
        leaves = [
            leaf + next(eps) if f else leaf for leaf, f in zip(jax.tree.leaves(carry), is_float)
        ]
        return jax.tree.unflatten(treedef, leaves)

    def scan_body(carry, step_inputs):
        z, eps = step_inputs
        return body(params, add(carry, eps), z)

    carry, ys = lax.scan(scan_body, carry, (inputs, perturbations))
    return carry, jnp.moveaxis(ys, 0, -2)
