"""Shape checks that raise at trace time, and output shapes inferred from apply."""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def check_shape(where: str, name: str, x, expected: Sequence) -> None:
    """Raise ``ValueError`` unless ``x.shape`` matches ``expected``.

    ``expected`` holds ints (must match), ``None`` (any size) and at most one
    leading ``...`` (any number of leading batch axes).

    Example:
      >>> import jax.numpy as jnp
      >>> check_shape("dense.apply", "x", jnp.zeros((2, 3)), (..., 4))
      Traceback (most recent call last):
      ...
      ValueError: dense.apply: `x` must have shape (..., 4), got (2, 3).
    """
    shape = tuple(jnp.shape(x))
    pattern = tuple(expected)
    if pattern[:1] == (...,):
        fixed = pattern[1:]
        ok = len(shape) >= len(fixed) and _matches(shape[len(shape) - len(fixed) :], fixed)
    else:
        ok = len(shape) == len(pattern) and _matches(shape, pattern)
    if not ok:
        raise ValueError(f"{where}: `{name}` must have shape {_show(pattern)}, got {shape}.")


def _matches(shape, pattern) -> bool:
    return all(p is None or p == s for s, p in zip(shape, pattern))


def _show(pattern) -> str:
    parts = ["..." if p is ... else "?" if p is None else str(p) for p in pattern]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def output_shape(apply, params, state, input_shape, dtype=None) -> tuple:
    """The per-example output shape of ``apply`` on a batch of one, traced, not run.

    ``dtype``: the input's; ``None`` takes the params' floating dtype (JAX's default
    float without floating params: float64 under ``jax_enable_x64``), so that a layer
    built in bfloat16 or float64 is traced in it.
    """
    x = jax.ShapeDtypeStruct((1, *input_shape), float_dtype(params) if dtype is None else dtype)
    y, _ = jax.eval_shape(lambda p, s, x: apply(p, s, x), params, state, x)
    return jax.tree.map(lambda leaf: tuple(leaf.shape[1:]), y)


def float_dtype(params):
    """The dtype of the first floating leaf of ``params``; JAX's default float (float64
    under ``jax_enable_x64``) when there is none."""
    for leaf in jax.tree.leaves(params):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.result_type(leaf)
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def cell_output_size(cell, params, input_size: int) -> int:
    """The size of a cell's output y_t for inputs of ``input_size``: ``cell.step``
    traced (not run) at the params' dtype."""
    x = jax.ShapeDtypeStruct((1, input_size), float_dtype(params))
    carry = jax.eval_shape(lambda p: cell.initial_carry(p, (1,)), params)
    _, y = jax.eval_shape(cell.step, params, carry, x)
    return y.shape[-1]


def as_tuple(where: str, name: str, value, ndim: int, *, minimum: int = 1) -> tuple:
    """An int or a length-``ndim`` sequence of ints as a tuple of ``ndim`` ints, each at
    least ``minimum`` (positive by default)."""
    try:
        values = (value,) * ndim if isinstance(value, int) else tuple(value)
    except TypeError:
        values = ()
    if len(values) != ndim or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in values
    ):
        kind = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(
            f"{where}: `{name}` must be an int or {ndim} ints, each {kind}, got {value!r}."
        )
    return values


def check_input_shape(where: str, input_shape, rank: int | None = None) -> tuple:
    """``input_shape`` (batch axis excluded) as a tuple of positive ints of the given rank."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if shape is None or not all(isinstance(d, int) and d > 0 for d in shape):
        raise TypeError(
            f"{where}: `input_shape` must be a tuple of positive ints without the batch "
            f"axis, got {input_shape!r}."
        )
    if rank is not None and len(shape) != rank:
        raise ValueError(
            f"{where}: `input_shape` must have {rank} axes (batch axis excluded), got {shape}."
        )
    return shape


def along_last_axis(v, ndim: int):
    """Reshape a (C,) vector to broadcast explicitly over the last of ``ndim`` axes.

    Explicit so that models work under ``jax_numpy_rank_promotion="raise"``.
    """
    return v.reshape((1,) * (ndim - 1) + (-1,))


def check_lengths(where: str, lengths, batch_shape: Sequence, num_steps: int, *, name="lengths"):
    """``lengths`` of padded sequences as an int array of ``batch_shape`` whose values lie
    in [1, T] = [1, ``num_steps``]: the one check of every entry point that takes them.

    Values can only be checked outside ``jit``; under ``jit`` out-of-range lengths are
    clipped by the masks (0 gives an untouched carry, > T the full sequence).
    """
    traced = isinstance(lengths, jax.core.Tracer)
    lengths = lengths if traced else np.asarray(lengths)
    if tuple(lengths.shape) != tuple(batch_shape):
        raise ValueError(
            f"{where}: `{name}` must have the batch shape {tuple(batch_shape)} (one per "
            f"sequence), got {tuple(lengths.shape)}."
        )
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise TypeError(f"{where}: `{name}` must hold ints, got dtype {lengths.dtype}.")
    if not traced and lengths.size and (lengths.min() < 1 or lengths.max() > num_steps):
        raise ValueError(
            f"{where}: `{name}` must lie in [1, T] = [1, {num_steps}], got values from "
            f"{lengths.min()} to {lengths.max()}."
        )
    return jnp.asarray(lengths)


def check_ids(where: str, name: str, ids, vocab_size: int) -> None:
    """Raise a ``ValueError`` naming the first id of ``ids`` outside [0, ``vocab_size``).

    Only concrete ids can be checked; traced ones (under ``jit``) pass, and the
    lookups that read them give NaN for ids out of range (``jaxnets.layers.embedding``).
    """
    if isinstance(ids, jax.core.Tracer):
        return
    ids = np.asarray(ids)
    bad = (ids < 0) | (ids >= vocab_size)
    if bad.any():
        raise ValueError(
            f"{where}: `{name}` holds id {ids[bad].flat[0]}, outside the vocabulary "
            f"[0, {vocab_size}) ({int(bad.sum())} such ids)."
        )
