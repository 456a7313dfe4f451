"""One optimization step of a Layer: forward in training mode, backward, optax update."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import optax


class TrainState(NamedTuple):
    """Everything a training step changes: params, layer state, optimizer state."""

    params: dict
    state: dict
    opt_state: optax.OptState


def train_step(apply: Callable, loss: Callable, optimizer: optax.GradientTransformation):
    """Build ``step(train_state, x, y, key) -> (train_state, loss_value)``.

    ``loss(y_pred, y)`` returns a scalar; ``apply`` is a Layer's apply, run with
    ``train=True`` so dropout and batch norm behave as in training. The step is
    pure: ``jax.jit`` it at the call site.
    """

    def objective(params, state, x, y, key):
        y_pred, new_state = apply(params, state, x, key=key, train=True)
        return loss(y_pred, y), new_state

    def step(train_state: TrainState, x, y, key):
        params, state, opt_state = train_state
        (value, state), grads = jax.value_and_grad(objective, has_aux=True)(
            params, state, x, y, key
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return TrainState(optax.apply_updates(params, updates), state, opt_state), value

    return step
