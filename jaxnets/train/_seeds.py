"""Many seeds of one configuration trained as one vmapped program."""

from collections.abc import Callable

import jax
import numpy as np
import optax

from ._fit import _check_data, compiled_epoch
from ._step import TrainState


def init_and_fit_key(key):
    """The (init, fit) keys ``fit_seeds`` derives from one seed's key."""
    return tuple(jax.random.split(key))


def fit_seeds(
    model,
    optimizer: optax.GradientTransformation,
    loss: Callable,
    x,
    y,
    *,
    keys,
    epochs: int,
    batch_size: int,
    l1: float = 0.0,
    l2: float = 0.0,
):
    """Initialize and train one model per key, all seeds in one ``vmap``ped program.

    Seed i does exactly what ``k_init, k_fit = init_and_fit_key(keys[i])``,
    ``model.init(k_init, x.shape[1:])`` and ``fit(..., key=k_fit)`` do one at a time,
    with its own initialization, data order and dropout masks. One program for N
    seeds turns N small matmuls into batched ones, which pays off while a single
    run leaves the cores idle (benchmarks/seeds.py measures where).

    Returns:
      ``(params, state, history)``: params and state stacked along a leading seed
      axis; ``history["loss"]`` (N, epochs), the mean training loss per epoch.
    """
    keys = jax.numpy.asarray(keys)
    input_shape = jax.tree.leaves(x)[0].shape[1:]
    init_keys, fit_keys = jax.vmap(lambda k: jax.numpy.stack(init_and_fit_key(k)))(keys).swapaxes(
        0, 1
    )

    def init(k):
        _, params, state = model.init(k, input_shape)
        return TrainState(params, state, optimizer.init(params))

    train_state = jax.vmap(init)(init_keys)
    first = jax.tree.map(lambda a: a[0], train_state)
    _check_data(model, first.params, first.state, x, y, batch_size)
    epoch_all = compiled_epoch(model.apply, loss, optimizer, batch_size, l1, l2, seeds=True)
    losses = []
    for e in range(epochs):
        epoch_keys = jax.vmap(lambda k, e=e: jax.random.fold_in(k, e))(fit_keys)
        train_state, metrics = epoch_all(train_state, epoch_keys, x, y)
        losses.append(np.asarray(metrics["loss"]).mean(axis=1))
    history = {"loss": np.stack(losses, axis=1)}
    return train_state.params, train_state.state, history
