"""Padded variable-length batches: checking lengths, masks, reversing valid prefixes."""

import jax
import jax.numpy as jnp
import numpy as np


def check_lengths(where: str, lengths, batch_shape: tuple, num_steps: int):
    """``lengths`` as an int array of ``batch_shape``; values in [1, T] when concrete.

    Values can only be checked outside ``jit``; under ``jit`` out-of-range lengths
    are clipped by the masks (0 gives an untouched carry, > T the full sequence).
    """
    lengths = jnp.asarray(lengths)
    if lengths.shape != tuple(batch_shape):
        raise ValueError(
            f"{where}: `lengths` must have the batch shape {tuple(batch_shape)}, "
            f"got {lengths.shape}."
        )
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise TypeError(f"{where}: `lengths` must hold ints, got dtype {lengths.dtype}.")
    if not isinstance(lengths, jax.core.Tracer):
        values = np.asarray(lengths)
        if values.size and (values.min() < 1 or values.max() > num_steps):
            raise ValueError(
                f"{where}: `lengths` must lie in [1, T] = [1, {num_steps}], got values "
                f"from {values.min()} to {values.max()}."
            )
    return lengths


def step_mask(lengths, num_steps: int):
    """(T, *batch) bool: step t of a sequence is valid when t < its length."""
    steps = jnp.arange(num_steps).reshape((num_steps,) + (1,) * lengths.ndim)
    return steps < lengths[None]


def reverse_valid(xs, lengths):
    """Reverse each sequence of time-major xs (T, *batch, ...) within its own length.

    Step t of a sequence of length L goes to L - 1 - t; the padding stays in place.
    Applying it twice gives xs back.
    """
    num_steps = jax.tree.leaves(xs)[0].shape[0]
    steps = jnp.arange(num_steps).reshape((num_steps,) + (1,) * lengths.ndim)
    index = jnp.where(steps < lengths[None], lengths[None] - 1 - steps, steps)

    def gather(x):
        idx = index.reshape(index.shape + (1,) * (x.ndim - index.ndim))
        return jnp.take_along_axis(x, jnp.broadcast_to(idx, x.shape), axis=0)

    return jax.tree.map(gather, xs)


def where_valid(valid, new, old):
    """``new`` where ``valid`` (*batch) holds, else ``old``, for every leaf of a pytree."""

    def pick(n, o):
        return jnp.where(valid.reshape(valid.shape + (1,) * (n.ndim - valid.ndim)), n, o)

    return jax.tree.map(pick, new, old)
