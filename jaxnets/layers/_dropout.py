"""Inverted dropout."""

import jax
import jax.numpy as jnp

from jaxnets.core import Layer, check_input_shape


def dropout(drop_rate: float, *, name: str = "dropout") -> Layer:
    """Zero each value with probability ``drop_rate`` in training, scaling the rest.

    ``y = x * mask / (1 - drop_rate)`` with ``mask ~ Bernoulli(1 - drop_rate)``, so
    the expected value is unchanged ("inverted" dropout) and evaluation
    (``train=False``) is the identity. Training needs ``key``.

    Args:
      drop_rate: the chance of zeroing a value, in [0, 1).
    """
    if isinstance(drop_rate, bool) or not isinstance(drop_rate, int | float):
        raise TypeError(
            f"{name}: `drop_rate` must be a float in [0, 1), got {type(drop_rate).__name__} "
            f"{drop_rate!r}."
        )
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"{name}: `drop_rate` must be in [0, 1), got {drop_rate!r}.")

    def init(key, input_shape):
        return check_input_shape(f"{name}.init", input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        if not train or drop_rate == 0.0:
            return x, state
        if key is None:
            raise ValueError(
                f"{name}.apply: `key` is required when train=True, got None; pass "
                "key=jax.random.key(...) or train=False for evaluation."
            )
        keep = jax.random.bernoulli(key, 1.0 - drop_rate, x.shape)
        return jnp.where(keep, x / (1.0 - drop_rate), jnp.zeros_like(x)), state

    return Layer(init, apply, name)
