"""Padded variable-length batches: checking lengths, masks, reversing valid prefixes."""

import jax
import jax.numpy as jnp


def step_mask(lengths, num_steps: int, *, time_major: bool = False):
    """The valid steps of padded sequences: (*batch, T) bool, True where t < length
    (``lengths`` None: every step); (T, *batch) with ``time_major``.

    The one mask of the library: ``unroll``, ``readout``, the sequence models, seq2seq's
    attention and the losses (``jaxnets.train.loss_mask``) all read it.
    """
    if lengths is None:
        return jnp.ones((num_steps,), bool)
    lengths = jnp.asarray(lengths)
    steps = jnp.arange(num_steps)
    if time_major:
        return steps.reshape((num_steps,) + (1,) * lengths.ndim) < lengths[None]
    return steps.reshape((1,) * lengths.ndim + (num_steps,)) < lengths[..., None]


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
