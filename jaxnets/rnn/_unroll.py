"""Run a cell over a sequence: lax.scan, or a plain Python loop with the same numbers."""

import contextlib
import functools
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import Cell, cast_floats, cell_tag, check_lengths, float_dtype
from jaxnets.kernels import Kernel, choose

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
    computed first in one matmul and the loop runs only ``recur``. When a kernel
    (``jaxnets.kernels``) is registered for the cell's tag on this backend and dtype
    (the plain LSTM, PyTorch's GRU and the Elman cell on CPU), the loop is that
    kernel: the same numbers, faster; see ``impl``.

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
      unroll: ``lax.scan``'s unroll factor (an int >= 1); ``"python"`` for a Python
        loop over time (a fully unrolled graph: compile time grows with T); or
        ``"associative"`` for the cell's parallel form (a prefix scan in O(log T) depth:
        cells linear in their state, ``jaxnets.cells.linear_recurrence``; a
        ``ValueError`` for any other cell), with the sequential scan's numbers.
      time_major: xs and ys are (T, *batch, ...).
      remat: rematerialize over blocks of time steps: an int k, or ``"sqrt"`` for
        k = ceil(sqrt(T)). The loop runs as T / k blocks of k steps, each under
        ``jax.checkpoint``: the backward pass keeps only the carries between blocks and
        recomputes one block's steps at a time, so training memory grows like
        T / k + k (like sqrt(T) for k = sqrt(T)) instead of T, for about one extra
        forward pass of compute. Same numbers as without.
      impl: ``"auto"``: the first registered kernel that applies to the cell (its tag,
        ``jaxnets.core.cell_tag``), the backend, the dtype and ``lengths``, else the
        reference; ``"reference"``: the loop over the cell's own ``step`` (with its
        projection hook), the plain ``lax.scan`` every kernel is proven equal to
        (``check_kernel``); a kernel's name (``jaxnets.kernels.KERNELS``): that kernel,
        or a ``ValueError`` naming it and what it supports. Kernels run with
        ``lengths``, ``reverse`` and ``remat``; ``unroll="python"`` always runs the
        reference.

    Returns:
      ``(final_carry, ys)`` with ys (*batch, T, O) (or time-major).
    """
    xs = jnp.asarray(xs)
    if xs.ndim < 2:
        raise ValueError(f"unroll: `xs` must have shape (*batch, T, D), got {xs.shape}.")
    if not (unroll in ("python", "associative") or (isinstance(unroll, int) and unroll >= 1)):
        raise ValueError(
            f"unroll: `unroll` must be an int >= 1, 'python' or 'associative', got {unroll!r}."
        )
    if not (remat is None or remat == "sqrt" or (isinstance(remat, int) and remat >= 1)):
        raise ValueError(f"unroll: `remat` must be None, an int >= 1 or 'sqrt', got {remat!r}.")
    if remat is not None and unroll == "python":
        raise ValueError(
            "unroll: `remat` blocks a lax.scan; it needs an int `unroll`, got 'python'."
        )
    if cell.project is not None:
        # Check shapes before moving time to the front, so errors show the caller's layout.
        jax.eval_shape(cell.project, params, xs)
    # Time goes first before projecting: moving the (B, T, D) inputs is cheaper than
    # moving the (B, T, G) projections, and the matmul then writes them time-major.
    xs_t = xs if time_major else jnp.moveaxis(xs, -2, 0)
    num_steps = xs_t.shape[0]
    batch_shape = xs.shape[1:-1] if time_major else xs.shape[:-2]
    if carry is None:
        carry = cell.initial_carry(params, batch_shape)
    if lengths is not None:
        lengths = check_lengths("unroll", lengths, batch_shape, num_steps)
    if num_steps == 0 and unroll == "associative":
        unroll = 1  # nothing to scan
    kernel = _kernel(cell, params, xs, impl, lengths is not None, unroll, num_steps)
    policy = None if kernel is None else cell_tag(cell).policy
    if policy is not None:
        # A kernel reads params and inputs itself: cast them as the cell's step does.
        dtype = policy.compute(params)
        params, xs_t = cast_floats(params, dtype), cast_floats(xs_t, dtype)
    mask = None if lengths is None else step_mask(lengths, num_steps, time_major=True)
    if lengths is not None and reverse:
        # Each sequence reversed within its own length runs forward over the mask.
        xs_t = reverse_valid(xs_t, lengths)
    backward = reverse and lengths is None
    if kernel is None:
        sequence = _Reference(cell, params, backward, unroll, remat is not None)
    else:
        jax.eval_shape(cell.step, params, carry, xs_t[0])  # the cell's own checks
        steps = 1 if unroll == "associative" else unroll
        sequence = _Kernel(kernel, cell_tag(cell).options, params, backward, steps)
    with contextlib.nullcontext() if policy is None else policy.matmuls():
        carry, ys = _over_time(sequence, carry, (xs_t, mask), backward, remat)
    if lengths is not None and reverse:
        ys = reverse_valid(ys, lengths)
    if not time_major:
        ys = jax.tree.map(lambda y: jnp.moveaxis(y, 0, -2), ys)
    return carry, ys


def _kernel(cell, params, xs, impl, lengths, unroll, num_steps):
    """The kernel ``unroll`` runs (``jaxnets.kernels.choose``), or ``None``."""
    tag = cell_tag(cell)
    policy = None if tag is None else tag.policy
    dtype = float_dtype(params) if policy is None else policy.compute(params)
    # A cell with a policy casts its inputs to its compute dtype; any other needs them
    # in its params' dtype to be given a kernel.
    same = policy is not None or xs.dtype == dtype
    blocked = (
        "unroll='python' asks for the Python loop" if unroll == "python"
        else "there are no steps" if num_steps == 0
        else None
    )  # fmt: skip
    kind, options = (None, {}) if tag is None else (tag.kind, tag.options)
    parallel = unroll == "associative"
    if parallel and impl == "reference":
        raise ValueError(
            "unroll: unroll='associative' runs a parallel form; impl='reference' is the "
            "sequential scan (use an int `unroll` for it)."
        )
    kernel = choose(
        "unroll", kind, options, dtype=dtype if same else None, impl=impl,
        lengths=lengths, blocked=blocked, parallel=parallel,
    )  # fmt: skip
    if parallel and kernel is None:
        raise ValueError(
            "unroll: unroll='associative' needs a cell with a parallel form (linear in its "
            "state: min_gru, min_lstm, lru, diagonal_rnn, or yours through "
            "jaxnets.cells.linear_recurrence) on a float dtype; this cell is "
            + (repr(kind) if kind else "an untagged cell")
            + ("" if same else f" with params {dtype} and inputs {xs.dtype}")
            + "."
        )
    return kernel


class _Kernel(NamedTuple):
    """A block of time-major steps run by a kernel, which projects its inputs itself."""

    kernel: Kernel
    options: Mapping
    params: Any
    reverse: bool
    unroll: int

    def __call__(self, carry, inputs):
        xs, mask = inputs
        return self.kernel.run(
            self.params, carry, xs, mask=mask, reverse=self.reverse, unroll=self.unroll,
            options=self.options,
        )  # fmt: skip


class _Reference(NamedTuple):
    """A block of time-major steps run by ``lax.scan`` (or a Python loop) over the cell's
    own ``step``, or ``recur`` after one projection of the block's inputs."""

    cell: Cell
    params: Any
    reverse: bool
    unroll: int | str
    remat: bool

    def __call__(self, carry, inputs):
        xs, mask = inputs
        cell = self.cell
        if cell.project is not None:
            zs, step = cell.project(self.params, xs), functools.partial(cell.recur, self.params)
        else:
            zs, step = xs, functools.partial(cell.step, self.params)

        def body(carry, z_valid):
            z, valid = z_valid
            new_carry, y = step(carry, z)
            if valid is None:
                return new_carry, y
            zeros = jax.tree.map(jnp.zeros_like, y)
            return where_valid(valid, new_carry, carry), where_valid(valid, y, zeros)

        if self.unroll != "python":
            return lax.scan(body, carry, (zs, mask), reverse=self.reverse, unroll=self.unroll)
        num_steps = xs.shape[0]
        outputs = [None] * num_steps
        for t in reversed(range(num_steps)) if self.reverse else range(num_steps):
            carry, outputs[t] = body(carry, jax.tree.map(lambda a, t=t: a[t], (zs, mask)))
        return carry, jax.tree.map(lambda *ys: jnp.stack(ys), *outputs)


def _over_time(sequence, carry, inputs, reverse, remat):
    """``sequence`` over all time-major inputs, or over blocks of k steps, each under
    ``jax.checkpoint`` (``remat``).

    Under remat, a remainder of T mod k steps runs as one more, shorter, checkpointed
    block: last when running forward in time, first when running in reverse.
    """
    if remat is None:
        return sequence(carry, inputs)
    num_steps = jax.tree.leaves(inputs)[0].shape[0]
    block = math.ceil(math.sqrt(num_steps)) if remat == "sqrt" else min(remat, num_steps)
    full, tail = divmod(num_steps, block)
    run_block = jax.checkpoint(lambda carry, block_inputs: sequence(carry, block_inputs))

    def split(x):
        return x[: full * block].reshape(full, block, *x.shape[1:])

    head = jax.tree.map(split, inputs)
    rest = jax.tree.map(lambda x: x[full * block :], inputs)

    def run_head(carry):
        carry, ys = lax.scan(run_block, carry, head, reverse=reverse)
        return carry, jax.tree.map(lambda y: y.reshape(full * block, *y.shape[2:]), ys)

    if not tail:
        return run_head(carry)
    if reverse:
        carry, ys_rest = run_block(carry, rest)
        carry, ys_head = run_head(carry)
    else:
        carry, ys_head = run_head(carry)
        carry, ys_rest = run_block(carry, rest)
    return carry, jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ys_head, ys_rest)
