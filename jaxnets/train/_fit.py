"""The training loop: epochs of minibatches, validation, early stopping, checkpoints."""

import functools
import math
import os
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checkpoint import load_checkpoint, restore_tree, save_checkpoint
from ._predict import predictor
from ._step import TrainState, train_epoch, train_step


class EarlyStopping(NamedTuple):
    """Stop when the validation metric has not improved by more than ``min_delta``
    for ``patience`` epochs, then restore the params of the best epoch.

    ``mode="min"`` for losses, ``"max"`` for accuracies.
    """

    patience: int = 5
    min_delta: float = 0.0
    mode: str = "min"


class FitResult(NamedTuple):
    """params, state and opt_state at the end (the best epoch's with early stopping);
    ``history``: per-epoch lists (``loss``, ``grad_norm``, ``max_grad_norm``,
    ``seconds`` of training, the first one including compilation, and ``val_metric``
    with validation data); ``best_epoch`` (0-based) and ``epochs_run``."""

    params: dict
    state: dict
    opt_state: optax.OptState
    history: dict
    best_epoch: int
    epochs_run: int


def _rows(tree):
    return {leaf.shape[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(tree)}


def _check_data(model, params, state, x, y, batch_size):
    rows_x, rows_y = _rows(x), _rows(y)
    if len(rows_x | rows_y) != 1 or None in rows_x | rows_y:
        raise ValueError(
            f"fit: `x` and `y` must have the same number of rows, got {sorted(rows_x)} "
            f"and {sorted(rows_y)}."
        )
    (n,) = rows_x
    if not isinstance(batch_size, int) or not 0 < batch_size <= n:
        raise ValueError(f"fit: `batch_size` must be an int in [1, {n}], got {batch_size!r}.")
    labels = jax.tree.leaves(y)[0]
    if jnp.issubdtype(labels.dtype, jnp.integer):
        # Integer labels index the model's last output axis: check their range here,
        # since inside jit an out-of-range label silently reads nothing.
        x_one = jax.tree.map(lambda a: a[:1], x)
        classes = jax.eval_shape(lambda p, s, x: model.apply(p, s, x)[0], params, state, x_one)
        k = jax.tree.leaves(classes)[0].shape[-1]
        lo, hi = int(np.min(labels)), int(np.max(labels))
        if lo < 0 or hi >= k:
            raise ValueError(
                f"fit: integer labels in `y` must lie in [0, {k - 1}] for a model with {k} "
                f"outputs, got values from {lo} to {hi}."
            )
    return n


@functools.lru_cache(maxsize=16)
def compiled_epoch(apply, loss, optimizer, batch_size, l1, l2, *, seeds: bool, augment=None):
    """The jitted epoch for one configuration, vmapped over seeds if ``seeds``.

    Cached so that repeated ``fit`` calls with the same model, loss and optimizer
    (k folds, bootstrap draws, sequential seeds, a resumed run) compile once.
    """
    epoch = train_epoch(train_step(apply, loss, optimizer, l1=l1, l2=l2), batch_size, augment)
    return jax.jit(jax.vmap(epoch, in_axes=(0, 0, None, None)) if seeds else epoch)


@functools.lru_cache(maxsize=16)
def compiled_predict(apply):
    """``apply``'s prediction in evaluation mode, jitted once per model (not per call:
    validating every epoch would otherwise compile every epoch)."""
    return jax.jit(predictor(apply))


def evaluate(model, params, state, x, y, metric: Callable, *, batch_size: int = 512) -> float:
    """The mean of ``metric(y_pred, y)`` over (x, y) in batches, with ``train=False``
    (each batch split over the local devices, see ``predictor``)."""
    apply = compiled_predict(model.apply)
    n = jax.tree.leaves(x)[0].shape[0]
    total = 0.0
    for start in range(0, n, batch_size):
        chunk = lambda a, start=start: jnp.asarray(a[start : start + batch_size])  # noqa: E731
        xb, yb = jax.tree.map(chunk, x), jax.tree.map(chunk, y)
        rows = jax.tree.leaves(xb)[0].shape[0]
        total += float(metric(apply(params, state, xb), yb)) * rows
    return total / n


def _progress(epochs, enabled):
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, unit="epoch", leave=False)


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
    validation=None,
    metric: Callable | None = None,
    early_stopping: EarlyStopping | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    augment: Callable | None = None,
    checkpoint: str | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Train ``model`` on (x, y) for up to ``epochs`` shuffled passes.

    Epoch e shuffles with ``jax.random.fold_in(key, e)``, so a run resumed from a
    checkpoint continues bit-identically. Each epoch runs as one compiled program
    (``train_epoch``); the last partial batch is dropped.

    Args:
      model: a Layer.
      params: its params.
      state: its state.
      optimizer: an optax GradientTransformation (see ``jaxnets.train.optimizer``).
      loss: ``loss(y_pred, y) -> scalar``.
      x: inputs, an array (or pytree of arrays) with N rows.
      y: targets with N rows.
      validation: ``(x_val, y_val)``, evaluated after every epoch with
        ``metric`` (default: ``loss``); early stopping monitors it.
      early_stopping: an ``EarlyStopping``; needs ``validation``.
      l1: coefficient of ``l1_penalty`` (weights only).
      l2: coefficient of ``l2_penalty`` (weights only).
      augment: ``augment(key, x_batch) -> x_batch``, applied to every training batch
        inside the compiled epoch (e.g. ``jaxnets.data.chain(random_flip(2),
        random_shift(2))``); validation data is not augmented.
      checkpoint: a file path; the state is saved atomically after every epoch, and
        an existing file is resumed from.
      progress: a tqdm bar over epochs; ``None``: only on a terminal outside CI.

    Raises:
      FloatingPointError: the loss became NaN or infinite; names the epoch and step.
        The checkpoint keeps the last finite epoch.
    """
    n = _check_data(model, params, state, x, y, batch_size)
    if early_stopping is not None and validation is None:
        raise ValueError("fit: `early_stopping` needs `validation` data, got None.")
    if early_stopping is not None and early_stopping.mode not in ("min", "max"):
        raise ValueError(
            f"fit: early stopping `mode` must be 'min' or 'max', got {early_stopping.mode!r}."
        )
    epoch_fn = compiled_epoch(
        model.apply, loss, optimizer, batch_size, l1, l2, seeds=False, augment=augment
    )
    val_fn = metric or loss
    sign = -1.0 if early_stopping is not None and early_stopping.mode == "max" else 1.0

    train_state = TrainState(params, state, optimizer.init(params))
    best = {"state": train_state, "value": math.inf, "epoch": -1, "wait": 0}
    history = {"loss": [], "grad_norm": [], "max_grad_norm": [], "seconds": []}
    if validation is not None:
        history["val_metric"] = []
    start = 0
    if checkpoint is not None and os.path.exists(checkpoint):
        start, train_state, best, history = _resume(checkpoint, train_state)

    done = start
    if early_stopping is not None and best["wait"] >= early_stopping.patience:
        epochs = done  # the checkpointed run had already stopped early
    bar = _progress(epochs, progress)
    if bar is not None:
        bar.update(start)
    for epoch in range(start, epochs):
        started = time.perf_counter()
        new_state, metrics = epoch_fn(train_state, jax.random.fold_in(key, epoch), x, y)
        losses = np.asarray(metrics["loss"])  # waits for the epoch to finish
        seconds = time.perf_counter() - started
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            kept = (
                f" {checkpoint} keeps epoch {epoch - 1}."
                if checkpoint is not None and epoch > 0
                else ""
            )
            raise FloatingPointError(
                f"fit: the loss is {losses[bad[0]]} at epoch {epoch}, step {bad[0]} (of "
                f"{n // batch_size} per epoch); training stopped.{kept}"
            )
        train_state, done = new_state, epoch + 1
        norms = np.asarray(metrics["grad_norm"])
        history["loss"].append(float(losses.mean()))
        history["grad_norm"].append(float(norms.mean()))
        history["max_grad_norm"].append(float(norms.max()))
        history["seconds"].append(seconds)
        stop = False
        if validation is not None:
            value = evaluate(model, train_state.params, train_state.state, *validation, val_fn)
            history["val_metric"].append(value)
            if early_stopping is not None:
                if sign * value < best["value"] - early_stopping.min_delta:
                    best = {"state": train_state, "value": sign * value, "epoch": epoch, "wait": 0}
                else:
                    best["wait"] += 1
                stop = best["wait"] >= early_stopping.patience
        if checkpoint is not None:
            _save(checkpoint, done, done * (n // batch_size), key, train_state, best, history)
        if bar is not None:
            bar.set_postfix(
                loss=history["loss"][-1],
                **({"val": history["val_metric"][-1]} if validation is not None else {}),
            )
            bar.update(1)
        if stop:
            break
    if bar is not None:
        bar.close()
    final, best_epoch = train_state, done - 1
    if early_stopping is not None and best["epoch"] >= 0:
        final, best_epoch = best["state"], best["epoch"]
    return FitResult(*final, history=history, best_epoch=best_epoch, epochs_run=done)


def _save(path, epochs_done, steps_done, key, train_state, best, history):
    save_checkpoint(
        path,
        {
            "epochs_done": epochs_done,
            "steps_done": steps_done,
            "key": key,
            "train_state": train_state,
            "best_state": best["state"],
            "best": np.array([best["value"], best["epoch"], best["wait"]], np.float64),
            "history": {k: np.asarray(v, np.float64) for k, v in history.items()},
        },
    )


def _resume(path, template):
    raw = load_checkpoint(path)
    where = f"fit: checkpoint {path}"
    train_state = restore_tree(where, template, raw["train_state"])
    best_state = restore_tree(where, template, raw["best_state"])
    value, epoch, wait = (float(v) for v in raw["best"])
    best = {"state": best_state, "value": value, "epoch": int(epoch), "wait": int(wait)}
    history = {k: [float(v) for v in np.atleast_1d(a)] for k, a in raw["history"].items()}
    return int(raw["epochs_done"]), train_state, best, history
