"""Running a cell through ``unroll`` while exposing what the diagnostics need: the carry
each step reads, its gates, and a perturbation added to that carry."""

import math

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, cell_tag
from jaxnets.rnn import unroll


def float_part(carry):
    """The differentiable leaves of a carry (the clockwork step counter is not)."""
    return [leaf for leaf in jax.tree.leaves(carry) if jnp.issubdtype(leaf.dtype, jnp.floating)]


def _probe(cell, output):
    """``cell`` with its output replaced by ``output(params, carry, z) -> y`` (z: the
    step's input, projected when the cell projects), keeping its projection hook."""
    if cell.project is not None:

        def recur(params, carry, z):
            return cell.recur(params, carry, z)[0], output(params, carry, z)

        def step(params, carry, x):
            return recur(params, carry, cell.project(params, x))

        return Cell(cell.init, cell.initial_carry, step, cell.project, recur)

    def plain(params, carry, x):
        return cell.step(params, carry, x)[0], output(params, carry, x)

    return Cell(cell.init, cell.initial_carry, plain)


def carries(cell, params, xs, *, carry=None):
    """The carry each step reads (h_{t-1} for step t) for xs (*batch, T, D): every leaf
    (T, *its shape)."""
    xs_t = jnp.moveaxis(xs, -2, 0)
    return unroll(_probe(cell, lambda p, c, z: c), params, xs_t, carry=carry, time_major=True)[1]


def gates(cell, params, xs, *, carry=None):
    """Each gate's activations at every step, {name: (T, *batch, H)}, from the gates hook
    of the cell's tag (``jaxnets.core.cell_tag``), or ``None`` for a cell without one."""
    tag = cell_tag(cell)
    if tag is None or tag.gates is None:
        return None
    xs_t = jnp.moveaxis(xs, -2, 0)
    return unroll(_probe(cell, tag.gates), params, xs_t, carry=carry, time_major=True)[1]


def step_inputs(cell, params, xs):
    """What the step reads for xs (*batch, T, D), time-major, and that step: the
    projected inputs and ``recur`` when the cell projects, else xs and ``step``."""
    xs = jnp.moveaxis(xs, -2, 0)
    if cell.project is not None:
        return cell.project(params, xs), cell.recur
    return xs, cell.step


def perturbed_run(cell, params, xs, perturbations, carry=None):
    """Unroll, adding ``perturbations[t]`` to the carry's float leaves as step t reads it.

    ``perturbations`` holds one (T, *leaf shape) array per float leaf of the carry; they
    travel with the inputs, so the run is ``unroll``'s own. Returns ``(final_carry,
    ys)``, ys batch-first like ``jaxnets.rnn.unroll``.
    """
    if carry is None:
        carry = cell.initial_carry(params, xs.shape[:-2])
    leaves, treedef = jax.tree.flatten(carry)
    is_float = [jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in leaves]
    batch_shape = xs.shape[:-2]
    shapes = [leaf.shape[len(batch_shape) :] for leaf, f in zip(leaves, is_float) if f]
    sizes = [math.prod(s) for s in shapes]
    # Time-major (T, *batch, *rest) -> (T, *batch, prod(rest)): extra input features.
    xs_t = jnp.moveaxis(xs, -2, 0)
    flat = [eps.reshape(*xs_t.shape[:-1], size) for eps, size in zip(perturbations, sizes)]
    width = xs.shape[-1]
    augmented = jnp.concatenate([xs_t, *flat], axis=-1)

    def add(carry, extra):
        pieces = jnp.split(extra, list(_cumsum(sizes))[:-1], axis=-1)
        eps = iter(p.reshape(*p.shape[:-1], *s) for p, s in zip(pieces, shapes))
        new = [leaf + next(eps) if f else leaf for leaf, f in zip(jax.tree.leaves(carry), is_float)]
        return jax.tree.unflatten(treedef, new)

    if cell.project is not None:

        def project(params, x):
            return cell.project(params, x[..., :width]), x[..., width:]

        def recur(params, carry, z_extra):
            z, extra = z_extra
            return cell.recur(params, add(carry, extra), z)

        def step(params, carry, x):
            return recur(params, carry, project(params, x))

        probe = Cell(cell.init, cell.initial_carry, step, project, recur)
    else:

        def plain(params, carry, x):
            return cell.step(params, add(carry, x[..., width:]), x[..., :width])

        probe = Cell(cell.init, cell.initial_carry, plain)
    final, ys = unroll(probe, params, augmented, carry=carry, time_major=True)
    return final, jax.tree.map(lambda y: jnp.moveaxis(y, 0, -2), ys)


def _cumsum(sizes):
    total = 0
    for size in sizes:
        total += size
        yield total
