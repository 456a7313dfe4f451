"""What the recurrent kernels share: the state each step read,
weight gradients over all steps, and the valid-step mask applied inside a loop."""

import jax.numpy as jnp


def previous(first, states, reverse):
    """The state each step read: ``first`` at the first processed step, then the one
    written by the step processed before (t - 1, or t + 1 when running in reverse)."""
    if reverse:
        return jnp.concatenate([states[1:], first[None]], axis=0)
    return jnp.concatenate([first[None], states[:-1]], axis=0)


def over_all_steps(h_prev, dz):
    """sum_t h_prev[t]^T dz[t]: a weight gradient as one matmul over all steps and
    batch rows, instead of T small ones."""
    return h_prev.reshape(-1, h_prev.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])


def weight_gradient(h_prev, dzs):
    """The (H, G*H) weight gradient of G gates: one matmul over all steps per gate."""
    return jnp.concatenate([over_all_steps(h_prev, dz) for dz in dzs], axis=-1)


def keep(valid, new, old):
    """``new`` where the step is valid, ``old`` past the sequence's end; ``valid`` is
    (*batch,) bool or ``None`` (every step valid)."""
    if valid is None:
        return new
    return jnp.where(valid[..., None], new, old)


def zero_padded(valid, values):
    """``values`` with the padded steps zeroed (``valid``: (*batch,) bool or ``None``)."""
    if valid is None:
        return values
    return tuple(jnp.where(valid[..., None], v, jnp.zeros((), v.dtype)) for v in values)
