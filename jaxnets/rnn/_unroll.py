"""Run a cell over a sequence: lax.scan, or a plain Python loop with the same numbers."""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import Cell, check_lengths

from ._lengths import reverse_valid, step_mask, where_valid


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
    remat=None,
    impl: str = "auto",
):
    """Apply ``cell`` to every step of ``xs``; returns ``(final_carry, ys)``.

    In effect::

      carry = cell.initial_carry(params, batch_shape) if carry is None else carry
      for t in range(T):                      # reversed(range(T)) if reverse
          carry, ys[t] = cell.step(params, carry, xs[t])

    When the cell has ``project``/``recur``, the input part of all T steps is
    computed first in one matmul and the loop runs only ``recur``. When it also has
    ``scan`` (the plain LSTM, PyTorch's GRU), the loop is that whole-sequence
    recurrence with its hand-written backward pass, unless ``lengths`` or ``remat``
    is given or ``unroll="python"``.

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
      remat: rematerialize over blocks of time steps: an int k, or ``"sqrt"`` for
        k = ceil(sqrt(T)). The loop runs as T / k blocks of k steps, each under
        ``jax.checkpoint``: the backward pass keeps only the carries between blocks and
        recomputes one block's steps at a time, so training memory grows like
        T / k + k (like sqrt(T) for k = sqrt(T)) instead of T, for about one extra
        forward pass of compute. Same numbers as without.
      impl: ``"auto"``: the cell's whole-sequence fast path (``Cell.scan``) where it
        applies (no ``lengths``, no ``remat``, not the Python loop), else the loop over
        ``step``; ``"reference"``: always the loop over the cell's own ``step`` (with
        its projection hook), the plain ``lax.scan`` every fast path is tested against;
        ``"fast"``: the fast path, and a ``ValueError`` saying why when it cannot run.

    Returns:
      ``(final_carry, ys)`` with ys (*batch, T, O) (or time-major).
    """
    xs = jnp.asarray(xs)
    if xs.ndim < 2:
        raise ValueError(f"unroll: `xs` must have shape (*batch, T, D), got {xs.shape}.")
    if not (unroll == "python" or (isinstance(unroll, int) and unroll >= 1)):
        raise ValueError(f"unroll: `unroll` must be an int >= 1 or 'python', got {unroll!r}.")
    if not (remat is None or remat == "sqrt" or (isinstance(remat, int) and remat >= 1)):
        raise ValueError(f"unroll: `remat` must be None, an int >= 1 or 'sqrt', got {remat!r}.")
    if remat is not None and unroll == "python":
        raise ValueError(
            "unroll: `remat` blocks a lax.scan; it needs an int `unroll`, got 'python'."
        )
    if cell.project is not None:
        # Check shapes before moving time to the front, so errors show the caller's layout.
        jax.eval_shape(cell.project, params, xs)
        project, body = (lambda x: cell.project(params, x)), cell.recur
    else:
        project, body = (lambda x: x), cell.step
    # Time goes first before projecting: moving the (B, T, D) inputs is cheaper than
    # moving the (B, T, G) projections, and the matmul then writes them time-major.
    xs_t = xs if time_major else jnp.moveaxis(xs, -2, 0)
    num_steps = xs_t.shape[0]
    batch_shape = xs.shape[1:-1] if time_major else xs.shape[:-2]
    if carry is None:
        carry = cell.initial_carry(params, batch_shape)
    fast = _fast_path(cell, impl, lengths, remat, unroll) and num_steps > 0
    if fast:
        carry, ys = cell.scan(params, carry, xs_t, reverse=reverse, unroll=unroll)
    else:
        if lengths is not None:
            lengths = check_lengths("unroll", lengths, batch_shape, num_steps)
        step = functools.partial(body, params)
        carry, ys = _loop(step, project, carry, xs_t, lengths, reverse, unroll, remat)

    if not time_major:
        ys = jax.tree.map(lambda y: jnp.moveaxis(y, 0, -2), ys)
    return carry, ys


IMPLS = ("auto", "reference", "fast")


def _fast_path(cell, impl, lengths, remat, unroll) -> bool:
    """Whether ``unroll`` runs the cell's whole-sequence ``scan``; checks ``impl``."""
    if impl not in IMPLS:
        raise ValueError(f"unroll: `impl` must be one of {IMPLS}, got {impl!r}.")
    if impl == "reference":
        return False
    why = (
        "the cell has no whole-sequence fast path (Cell.scan)" if cell.scan is None
        else "it does not take `lengths` (padded batches run the loop over step)"
        if lengths is not None
        else "it does not take `remat`" if remat is not None
        else "unroll='python' asks for the Python loop" if unroll == "python"
        else None
    )  # fmt: skip
    if why is not None and impl == "fast":
        raise ValueError(f"unroll: impl='fast' cannot run: {why}; use impl='auto'.")
    return why is None


def _loop(step, project, carry, xs_t, lengths, reverse, unroll, remat):
    """``step`` over time-major inputs, with the ``lengths`` mask when given."""
    # Without remat, project all T steps in one matmul; with it, one block at a time
    # inside the checkpoint, so no (T, B, G) projection is kept for the backward pass.
    inputs = project(xs_t) if remat is None else xs_t
    prepare = (lambda x: x) if remat is None else project
    if lengths is None:
        return _Loop(step, prepare, reverse, unroll, remat)(carry, inputs)
    if reverse:
        inputs = reverse_valid(inputs, lengths)

    def masked(carry, z_valid):
        z, valid = z_valid
        new_carry, y = step(carry, z)
        zeros = jax.tree.map(jnp.zeros_like, y)
        return where_valid(valid, new_carry, carry), where_valid(valid, y, zeros)

    loop = _Loop(masked, lambda zv: (prepare(zv[0]), zv[1]), False, unroll, remat)
    carry, ys = loop(carry, (inputs, step_mask(lengths, xs_t.shape[0], time_major=True)))
    if reverse:
        ys = reverse_valid(ys, lengths)
    return carry, ys


class _Loop(NamedTuple):
    """The loop over time: ``lax.scan``, a Python loop, or checkpointed blocks of steps.

    ``prepare`` maps a block of time-major inputs to the body's inputs (the projection,
    under remat; otherwise the identity).
    """

    body: Callable
    prepare: Callable
    reverse: bool
    unroll: int | str
    remat: int | str | None

    def __call__(self, carry, inputs):
        if self.remat is not None:
            return self._blocks(carry, inputs)
        if self.unroll != "python":
            return lax.scan(self.body, carry, inputs, reverse=self.reverse, unroll=self.unroll)
        num_steps = jax.tree.leaves(inputs)[0].shape[0]
        outputs = [None] * num_steps
        for t in reversed(range(num_steps)) if self.reverse else range(num_steps):
            carry, outputs[t] = self.body(carry, jax.tree.map(lambda x, t=t: x[t], inputs))
        return carry, jax.tree.map(lambda *ys: jnp.stack(ys), *outputs)

    def _blocks(self, carry, inputs):
        """lax.scan over blocks of k steps, each block under ``jax.checkpoint``.

        A remainder of T mod k steps runs as one more, shorter, checkpointed block:
        last when running forward in time, first when running in reverse.
        """
        num_steps = jax.tree.leaves(inputs)[0].shape[0]
        remat = self.remat
        block = math.ceil(math.sqrt(num_steps)) if remat == "sqrt" else min(remat, num_steps)
        full, tail = divmod(num_steps, block)

        @jax.checkpoint
        def run_block(carry, block_inputs):
            return lax.scan(
                self.body, carry, self.prepare(block_inputs), reverse=self.reverse,
                unroll=self.unroll,
            )  # fmt: skip

        def split(x):
            return x[: full * block].reshape(full, block, *x.shape[1:])

        head = jax.tree.map(split, inputs)
        rest = jax.tree.map(lambda x: x[full * block :], inputs)

        def run_head(carry):
            carry, ys = lax.scan(run_block, carry, head, reverse=self.reverse)
            return carry, jax.tree.map(lambda y: y.reshape(full * block, *y.shape[2:]), ys)

        if not tail:
            return run_head(carry)
        if self.reverse:
            carry, ys_rest = run_block(carry, rest)
            carry, ys_head = run_head(carry)
        else:
            carry, ys_head = run_head(carry)
            carry, ys_rest = run_block(carry, rest)
        return carry, jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ys_head, ys_rest)
