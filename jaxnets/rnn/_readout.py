"""Sequence-to-point readouts over the valid steps of (possibly padded) outputs."""

import jax.numpy as jnp

from jaxnets.core import check_lengths

from ._lengths import step_mask

READOUTS = ("last", "first", "mean", "max")


def readout(ys, lengths=None, *, how: str = "last"):
    """Reduce ys (*batch, T, O) over time, using only each sequence's valid steps.

    Args:
      ys: outputs of ``unroll`` (batch-first).
      lengths: (*batch,) ints; ``None`` means every step is valid.
      how: ``"last"`` (the step at length - 1), ``"first"`` (step 0, the final output
        of a reversed RNN), ``"mean"`` or ``"max"`` over valid steps.

    Returns:
      (*batch, O).
    """
    if how not in READOUTS:
        raise ValueError(f"readout: `how` must be one of {READOUTS}, got {how!r}.")
    if ys.ndim < 2:
        raise ValueError(f"readout: `ys` must have shape (*batch, T, O), got {ys.shape}.")
    num_steps = ys.shape[-2]
    if lengths is None:
        lengths = jnp.full(ys.shape[:-2], num_steps)
    lengths = check_lengths("readout", lengths, ys.shape[:-2], num_steps)
    if how == "first":
        return ys[..., 0, :]
    if how == "last":
        index = jnp.broadcast_to((lengths - 1)[..., None, None], (*ys.shape[:-2], 1, ys.shape[-1]))
        return jnp.take_along_axis(ys, index, axis=-2)[..., 0, :]
    valid = step_mask(lengths, num_steps)[..., None]
    if how == "mean":
        return jnp.where(valid, ys, 0).sum(-2) / lengths[..., None].astype(ys.dtype)
    return jnp.where(valid, ys, -jnp.inf).max(-2)
