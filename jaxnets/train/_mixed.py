"""Mixed precision: float32 master params and optimizer state, 16-bit compute, and the
loss scaling that keeps float16 gradients from underflowing."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxnets.core import check_float_dtype


class LossScaleState(NamedTuple):
    """The optimizer state of ``loss_scaled``: the wrapped optimizer's, the current
    scale, and the count of finite steps since the scale last changed."""

    inner: Any
    scale: jax.Array
    good_steps: jax.Array


def loss_scaled(
    optimizer: optax.GradientTransformation,
    *,
    scale: float = 2.0**15,
    dynamic: bool = True,
    period: int = 2000,
    factor: float = 2.0,
) -> optax.GradientTransformation:
    """``optimizer`` for gradients of a loss multiplied by a scale (``train_step`` reads
    the scale from this state and multiplies the loss by it).

    Each update divides the gradients by the scale. A step whose gradients are not all
    finite changes nothing but the scale (it is skipped). ``dynamic``: the scale is
    divided by ``factor`` (never below 1) after a non-finite step and multiplied by it
    after ``period`` finite steps in a row, as in Micikevicius et al. (2018), Mixed
    precision training: the largest scale at which float16 gradients do not overflow.
    """
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"loss_scaled: `optimizer` must be an optax GradientTransformation, got {optimizer!r}."
        )
    for name, value, low in (("scale", scale, 1.0), ("factor", factor, 1.0)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
            raise ValueError(f"loss_scaled: `{name}` must be a number >= {low}, got {value!r}.")
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise ValueError(f"loss_scaled: `period` must be a positive int, got {period!r}.")

    def init(params):
        return LossScaleState(
            optimizer.init(params), jnp.asarray(scale, jnp.float32), jnp.zeros((), jnp.int32)
        )

    def update(grads, state, params=None):
        grads = jax.tree.map(lambda g: g / state.scale.astype(g.dtype), grads)
        finite = jnp.all(jnp.array([jnp.isfinite(g).all() for g in jax.tree.leaves(grads)]))
        updates, inner = optimizer.update(grads, state.inner, params)
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        updates = jax.tree.map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), updates)
        inner = jax.tree.map(keep, inner, state.inner)
        if not dynamic:
            return updates, LossScaleState(inner, state.scale, state.good_steps)
        good = jnp.where(finite, state.good_steps + 1, 0)
        grow = good >= period
        new_scale = jnp.where(
            finite,
            jnp.where(grow, state.scale * factor, state.scale),
            jnp.maximum(state.scale / factor, 1.0),
        )
        return updates, LossScaleState(inner, new_scale, jnp.where(grow, 0, good))

    return optax.GradientTransformation(init, update)


def loss_scale(opt_state) -> jax.Array | None:
    """The scale of a ``loss_scaled`` optimizer state, or ``None``."""
    return opt_state.scale if isinstance(opt_state, LossScaleState) else None


def cast_for_compute(where: str, compute_dtype):
    """The checked compute dtype of mixed precision (a floating dtype or ``None``)."""
    return check_float_dtype(where, "compute_dtype", compute_dtype, optional=True)
