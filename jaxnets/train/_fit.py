"""Minibatch training over epochs and batched evaluation."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._step import TrainState, train_step


def fit(
    model,
    params,
    state,
    optimizer: optax.GradientTransformation,
    loss: Callable,
    x,
    y,
    *,
    epochs: int,
    batch_size: int,
    key,
):
    """Train ``model`` on (x, y) for ``epochs`` passes of shuffled minibatches.

    Each epoch draws a permutation from ``key``; the last partial batch is dropped
    so that every step has the same shape and compiles once.

    Returns:
      ``(params, state, losses)``: trained params and layer state, and the mean
      training loss of each epoch (a list of floats).
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"fit: `y` must have {n} rows like `x`, got {len(y)}.")
    if not 0 < batch_size <= n:
        raise ValueError(f"fit: `batch_size` must be in [1, {n}], got {batch_size}.")
    step = jax.jit(train_step(model.apply, loss, optimizer))
    train_state = TrainState(params, state, optimizer.init(params))
    x, y = jnp.asarray(x), jnp.asarray(y)
    losses = []
    for _ in range(epochs):
        key, k_perm = jax.random.split(key)
        order = np.asarray(jax.random.permutation(k_perm, n))
        epoch_losses = []
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            key, k_step = jax.random.split(key)
            train_state, value = step(train_state, x[idx], y[idx], k_step)
            epoch_losses.append(value)
        losses.append(float(jnp.mean(jnp.stack(epoch_losses))))
    return train_state.params, train_state.state, losses


def evaluate(model, params, state, x, y, metric: Callable, *, batch_size: int = 512) -> float:
    """The mean of ``metric(y_pred, y)`` over x in batches, with ``train=False``."""
    apply = jax.jit(lambda p, s, xb: model.apply(p, s, xb)[0])
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = (
            jnp.asarray(x[start : start + batch_size]),
            jnp.asarray(y[start : start + batch_size]),
        )
        total += float(metric(apply(params, state, xb), yb)) * len(xb)
    return total / len(x)
