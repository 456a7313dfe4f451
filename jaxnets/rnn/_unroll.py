"""Run a cell over a sequence: lax.scan, or a plain Python loop with the same numbers."""

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import Cell

from ._lengths import check_lengths, reverse_valid, step_mask, where_valid


def unroll(
    cell: Cell,
    params,
    xs,
    *,
    carry=None,
    lengths=None,
    reverse: bool = False,
    unroll=1,
    time_major: bool = False,
):
    """Apply ``cell`` to every step of ``xs``; returns ``(final_carry, ys)``.

    In effect::

      carry = cell.initial_carry(params, batch_shape) if carry is None else carry
      for t in range(T):                      # reversed(range(T)) if reverse
          carry, ys[t] = cell.step(params, carry, xs[t])

    When the cell has ``project``/``recur``, the input part of all T steps is
    computed first in one matmul and the loop runs only ``recur``.

    Args:
      cell: a Cell.
      params: the cell's params.
      xs: (*batch, T, D), or (T, *batch, D) with ``time_major``. No batch axis at all
        is fine, e.g. under ``jax.vmap`` over examples.
      carry: the initial carry; zeros from ``cell.initial_carry`` by default.
      lengths: (*batch,) ints in [1, T] for padded batches: steps t >= length leave
        the carry unchanged and output zeros, so the final carry is each sequence's
        own last valid one.
      reverse: run from the last step to the first; with ``lengths`` each sequence
        is reversed within its own length, not the padding. Outputs stay aligned
        with the inputs.
      unroll: ``lax.scan``'s unroll factor (an int >= 1), or ``"python"`` for a
        Python loop over time (a fully unrolled graph: compile time grows with T).
      time_major: xs and ys are (T, *batch, ...).

    Returns:
      ``(final_carry, ys)`` with ys (*batch, T, O) (or time-major).
    """
    xs = jnp.asarray(xs)
    if xs.ndim < 2:
        raise ValueError(f"unroll: `xs` must have shape (*batch, T, D), got {xs.shape}.")
    if not (unroll == "python" or (isinstance(unroll, int) and unroll >= 1)):
        raise ValueError(f"unroll: `unroll` must be an int >= 1 or 'python', got {unroll!r}.")
    # Project before moving time to the front, so shape errors show the caller's layout.
    if cell.project is not None:
        inputs, body = cell.project(params, xs), cell.recur
    else:
        inputs, body = xs, cell.step
    if not time_major:
        inputs = jax.tree.map(lambda z: jnp.moveaxis(z, -2, 0), inputs)
    num_steps = jax.tree.leaves(inputs)[0].shape[0]
    batch_shape = xs.shape[1:-1] if time_major else xs.shape[:-2]
    if carry is None:
        carry = cell.initial_carry(params, batch_shape)

    if lengths is None:
        carry, ys = _loop(lambda c, z: body(params, c, z), carry, inputs, reverse, unroll)
    else:
        lengths = check_lengths("unroll", lengths, batch_shape, num_steps)
        if reverse:
            inputs = reverse_valid(inputs, lengths)

        def masked(carry, z_valid):
            z, valid = z_valid
            new_carry, y = body(params, carry, z)
            zeros = jax.tree.map(jnp.zeros_like, y)
            return where_valid(valid, new_carry, carry), where_valid(valid, y, zeros)

        carry, ys = _loop(masked, carry, (inputs, step_mask(lengths, num_steps)), False, unroll)
        if reverse:
            ys = reverse_valid(ys, lengths)

    if not time_major:
        ys = jax.tree.map(lambda y: jnp.moveaxis(y, 0, -2), ys)
    return carry, ys


def _loop(body, carry, inputs, reverse, unroll):
    if unroll != "python":
        return lax.scan(body, carry, inputs, reverse=reverse, unroll=unroll)
    num_steps = jax.tree.leaves(inputs)[0].shape[0]
    outputs = [None] * num_steps
    for t in reversed(range(num_steps)) if reverse else range(num_steps):
        carry, outputs[t] = body(carry, jax.tree.map(lambda x, t=t: x[t], inputs))
    return carry, jax.tree.map(lambda *ys: jnp.stack(ys), *outputs)
