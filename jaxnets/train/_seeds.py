"""Many seeds of one configuration trained as one vmapped program."""

import functools
import time
from collections.abc import Callable

import jax
import numpy as np
import optax

from ._fit import _check_data, compiled_epoch
from ._step import TrainState


@functools.lru_cache(maxsize=16)
def _compiled_seed_metric(apply, metric):
    """metric(apply(params_i, state_i, x), y) for every seed i, in one program."""

    def one(params, state, x, y):
        return metric(apply(params, state, x)[0], y)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def evaluate_seeds(model, params, state, x, y, metric: Callable, *, batch_size: int = 512):
    """``evaluate`` for params and state stacked along a leading seed axis: (N,) means."""
    fn = _compiled_seed_metric(model.apply, metric)
    n = jax.tree.leaves(x)[0].shape[0]
    total = 0.0
    for start in range(0, n, batch_size):
        chunk = lambda a, start=start: jax.numpy.asarray(a[start : start + batch_size])  # noqa: E731
        xb, yb = jax.tree.map(chunk, x), jax.tree.map(chunk, y)
        total = total + np.asarray(fn(params, state, xb, yb)) * jax.tree.leaves(xb)[0].shape[0]
    return total / n


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
    augment: Callable | None = None,
    validation=None,
    metric: Callable | None = None,
):
    """Initialize and train one model per key, all seeds in one ``vmap``ped program.

    Seed i does exactly what ``k_init, k_fit = init_and_fit_key(keys[i])``,
    ``model.init(k_init, x.shape[1:])`` and ``fit(..., key=k_fit)`` do one at a time,
    with its own initialization, data order and dropout masks. One program for N
    seeds turns N small matmuls into batched ones, which pays off while a single
    run leaves the cores idle (benchmarks/seeds.py measures where).

    Args:
      augment: as in ``fit``: ``augment(key, x_batch) -> x_batch`` on every training
        batch, each seed with its own keys.
      validation: ``(x_val, y_val)``, evaluated for every seed after every epoch
        with ``metric`` (default: ``loss``).

    Returns:
      ``(params, state, history)``: params and state stacked along a leading seed
      axis; ``history`` holds (N, epochs) arrays ``loss`` (the mean training loss
      per epoch), ``grad_norm`` (its mean pre-clipping gradient norm) and, with
      validation, ``val_metric``; and ``seconds`` (epochs,), the time of each epoch's
      training, the first one including compilation.
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
    epoch_all = compiled_epoch(
        model.apply, loss, optimizer, batch_size, l1, l2, seeds=True, augment=augment
    )
    curves = {"loss": [], "grad_norm": [], "val_metric": [], "seconds": []}
    for e in range(epochs):
        epoch_keys = jax.vmap(lambda k, e=e: jax.random.fold_in(k, e))(fit_keys)
        started = time.perf_counter()
        train_state, metrics = epoch_all(train_state, epoch_keys, x, y)
        curves["loss"].append(np.asarray(metrics["loss"]).mean(axis=1))
        curves["seconds"].append(time.perf_counter() - started)
        curves["grad_norm"].append(np.asarray(metrics["grad_norm"]).mean(axis=1))
        if validation is not None:
            curves["val_metric"].append(
                evaluate_seeds(
                    model, train_state.params, train_state.state, *validation, metric or loss
                )
            )
    history = {k: np.stack(v, axis=1) for k, v in curves.items() if v and k != "seconds"}
    history["seconds"] = np.asarray(curves["seconds"])
    return train_state.params, train_state.state, history
