"""One optimization step and one epoch of a Layer, pure and jit-able."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from ._regularization import l1_penalty, l2_penalty


class TrainState(NamedTuple):
    """Everything a training step changes: params, layer state, optimizer state."""

    params: dict
    state: dict
    opt_state: optax.OptState


def train_step(
    apply: Callable,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    *,
    l1: float = 0.0,
    l2: float = 0.0,
):
    """Build ``step(train_state, x, y, key) -> (train_state, metrics)``.

    The objective is ``loss(apply(params, state, x, key=key, train=True), y)`` plus
    ``l1 * l1_penalty(params) + l2 * l2_penalty(params)`` (weights only). ``metrics``
    holds ``loss`` (the data loss, without penalties) and ``grad_norm``, the global
    norm of the gradient before the optimizer (and so before any clipping), which
    makes exploding gradients visible. Pure: ``jax.jit`` it at the call site.
    """

    def objective(params, state, x, y, key):
        y_pred, new_state = apply(params, state, x, key=key, train=True)
        data_loss = loss(y_pred, y)
        total = data_loss
        if l1:
            total = total + l1 * l1_penalty(params)
        if l2:
            total = total + l2 * l2_penalty(params)
        return total, (data_loss, new_state)

    def step(train_state: TrainState, x, y, key):
        params, state, opt_state = train_state
        (_, (data_loss, state)), grads = jax.value_and_grad(objective, has_aux=True)(
            params, state, x, y, key
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        new = TrainState(optax.apply_updates(params, updates), state, opt_state)
        return new, {"loss": data_loss, "grad_norm": optax.tree.norm(grads)}

    return step


def train_epoch(step: Callable, batch_size: int):
    """Build ``epoch(train_state, key, x, y) -> (train_state, metrics)``: one pass.

    The permutation and the per-step keys come from ``key``; batches are taken with
    ``lax.scan`` inside one program, and the last partial batch is dropped so every
    step has the same shape. ``x`` and ``y`` are pytrees of arrays with N rows.
    ``metrics`` holds each step's metrics, (N // batch_size,) arrays.
    """

    def epoch(train_state, key, x, y):
        n = jax.tree.leaves(x)[0].shape[0]
        steps = n // batch_size
        k_perm, k_steps = jax.random.split(key)
        order = jax.random.permutation(k_perm, n)[: steps * batch_size]

        def body(train_state, batch):
            idx, k = batch
            pick = lambda a: jnp.take(a, idx, axis=0)  # noqa: E731
            return step(train_state, jax.tree.map(pick, x), jax.tree.map(pick, y), k)

        batches = (order.reshape(steps, batch_size), jax.random.split(k_steps, steps))
        return lax.scan(body, train_state, batches)

    return epoch
