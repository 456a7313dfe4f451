"""The training engine: one loop over epochs for one run or many seeds, in-memory arrays
or streams of batches, whole sequences or truncated BPTT."""

import hashlib
import os
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnets.data import Batch
from jaxnets.kernels import vmapped_models

from . import _sources as sources
from ._loop import FitResult, Loop, select
from ._predict import predictor
from ._step import (
    augmented,
    loss_mask,
    masked_call,
    takes,
    train_epoch,
    train_step,
    truncated_bptt,
)


def _name(fn) -> str:
    return "none" if fn is None else getattr(fn, "__qualname__", type(fn).__name__)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _progress(epochs, enabled):
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, unit="epoch", leave=False)


class Trainer:
    """The training engine for one model, optimizer, loss and set of options.

    It holds its compiled programs (one per data layout and shape, made on first
    use), so k folds, bootstrap draws or runs of several seeds through one
    ``Trainer`` compile once; ``jaxnets.train.fit`` and ``fit_seeds`` make one per call.

    Args:
      model: a Layer; with ``tbptt`` its apply takes ``carry=`` and ``return_carry=``
        (``language_model``, ``many_to_many``).
      optimizer: an optax GradientTransformation.
      loss: ``loss(y_pred, y) -> scalar``; ``loss(y_pred, y, mask)`` for per-step
        targets of variable-length data and for masked rows.
      metric: the validation metric, same signature (default: ``loss``).
      l1: coefficient of ``l1_penalty`` (weights only).
      l2: coefficient of ``l2_penalty`` (weights only).
      augment: ``augment(key, x_batch) -> x_batch`` on every training batch.
      tbptt: truncated BPTT with chunks of this many steps (see ``truncated_bptt``).
      devices: data parallelism over this many devices (see ``train_step``).
      compute_dtype: mixed precision (see ``train_step``): float32 master params and
        optimizer state, the forward and backward passes in this dtype (``"bfloat16"``;
        ``"float16"`` together with an optimizer wrapped in ``loss_scaled``).
    """

    def __init__(
        self, model, optimizer, loss: Callable, *, metric: Callable | None = None,
        l1: float = 0.0, l2: float = 0.0, augment: Callable | None = None,
        tbptt: int | None = None, devices: int | None = None, compute_dtype=None,
    ):  # fmt: skip
        for name, fn in (("loss", loss), ("metric", metric or loss)):
            if not callable(fn):
                raise TypeError(f"fit: `{name}` must be callable(y_pred, y), got {fn!r}.")
        if not isinstance(optimizer, optax.GradientTransformation):
            raise TypeError(
                f"fit: `optimizer` must be an optax GradientTransformation, got {optimizer!r}."
            )
        if tbptt is not None:
            sources.check_positive_int("fit", "tbptt", tbptt)
            if not takes(model.apply, "carry", "return_carry"):
                raise TypeError(
                    f"fit: `tbptt` needs a model whose apply takes `carry=` and "
                    f"`return_carry=` (many_to_many, language_model); {model.name!r} does not."
                )
        self.model, self.optimizer, self.loss = model, optimizer, loss
        self.metric = metric or loss
        self.options = {"l1": float(l1), "l2": float(l2), "tbptt": tbptt, "loss": _name(loss),
                        "metric": _name(metric), "augment": _name(augment)}  # fmt: skip
        if compute_dtype is not None:  # only then: checkpoints of full precision resume
            self.options["compute_dtype"] = jnp.dtype(compute_dtype).name
        step = train_step(model.apply, loss, optimizer, l1=l1, l2=l2, devices=devices,
                          stateful=tbptt is not None, compute_dtype=compute_dtype)  # fmt: skip
        # Metrics get an axis of updates: one per batch here, one per chunk with tbptt.
        update = truncated_bptt(step, model.apply, tbptt) if tbptt else _metrics_axis(step)
        self._update = augmented(update, augment)
        self._predict = predictor(model.apply, devices=devices)
        self._programs = {}

    # -- compiled programs -------------------------------------------------------------

    def _program(self, kind: str, seeds: bool, batch_size: int = 0):
        key = (kind, seeds, batch_size)
        if key not in self._programs:
            self._programs[key] = jax.jit(self._build(kind, seeds, batch_size))
        return self._programs[key]

    def _build(self, kind, seeds, batch_size):
        if kind == "epoch":  # (train_state, key, x, y, lengths) -> (train_state, metrics)
            fn, axes = train_epoch(self._update, batch_size), (0, 0, None, None, None)
        elif kind == "step":  # (train_state, epoch_key, i, batch)

            def fn(train_state, key, i, batch):
                x, y, lengths, mask = batch
                k = jax.random.fold_in(key, i)
                return self._update(train_state, x, y, k, lengths=lengths, mask=mask)

            axes = (0, 0, None, None)
        else:  # "eval": (params, state, batch) -> (metric * count, count)

            def fn(params, state, batch):
                x, y, lengths, mask = batch
                y_pred = self._predict(params, state, x, lengths)
                weights = loss_mask(y_pred, x, lengths, mask)
                value = masked_call("evaluate", "metric", self.metric, y_pred, y, weights)
                count = jax.tree.leaves(y)[0].shape[0] if weights is None else weights.sum()
                return value * count, jnp.asarray(count, value.dtype)

            axes = (0, 0, None)
        if seeds:
            per_seed = jax.vmap(fn, in_axes=axes)

            def seeds_fn(*args):
                # Traced here, under jit: kernels that would run seed after seed under
                # vmap (the oneDNN ones) give way to the pure-JAX ones.
                with vmapped_models():
                    return per_seed(*args)

            return seeds_fn
        if kind == "eval":
            return lambda *a: _leading_axis(fn(*a))
        return _metrics_axis(fn)

    # -- evaluation --------------------------------------------------------------------

    def evaluate(self, params, state, validation, *, seeds: bool = False, batch_size: int = 512):
        """The metric over ``(x, y)``, ``(x, y, lengths)`` or a stream of batches, in
        evaluation mode: the mean over every row (every valid step for per-step
        targets with lengths). A float, or (S,) for params stacked over seeds."""
        program = self._program("eval", seeds)
        total = count = 0.0
        for item in sources.evaluation("evaluate", validation, batch_size).batches(0):
            s, c = program(params, state, sources.as_batch("evaluate", item))
            total, count = total + s, count + c
        values = np.asarray(total) / np.maximum(np.asarray(count), 1e-30)
        return values if seeds else float(values[0])

    # -- the loop over epochs ----------------------------------------------------------

    def fingerprint(self, train_state, batch: Batch, seeds: int, key, batch_size, stopping):
        """What a checkpoint must match to be resumed by this run."""
        params, state, opt_state = train_state
        if seeds:
            params, state, opt_state = jax.tree.map(lambda a: a[0], (params, state, opt_state))
        extra = {} if batch.lengths is None else {"lengths": batch.lengths}
        model = jax.make_jaxpr(lambda p, s, x: self.model.apply(p, s, x, **extra)[0])
        update = jax.make_jaxpr(self.optimizer.update)
        key_data = (
            jax.random.key_data(key)
            if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
            else key
        )
        return {
            "traced.model": _digest(str(model(params, state, batch.x))),
            "traced.optimizer": _digest(str(update(params, opt_state, params))),
            "option.key": _digest(np.asarray(key_data).tobytes().hex()),
            "option.seeds": seeds,
            "option.batch_size": batch_size,
            "option.early_stopping": repr(tuple(stopping)) if stopping else "none",
            **{f"option.{k}": v for k, v in self.options.items()},
        }

    def run(self, train_state, keys, data, *, first, seeds: int, epochs, batch_size,
            validation, early_stopping, checkpoint, progress,
            on_epoch=None) -> FitResult:  # fmt: skip
        """The loop ``fit`` and ``fit_seeds`` share. ``seeds``: 0 for one run (nothing
        stacked), else S, the size of the leading axis of ``train_state`` and ``keys``;
        ``first``: the first training batch (``sources.first_batch``); ``on_epoch``:
        see ``fit``."""
        if validation is not None:  # checked and put on the device once, not every epoch
            validation = sources.evaluation("fit: `validation`", validation).batches
        fingerprint = None
        if checkpoint is not None:  # tracing the model costs time: only when it is needed
            fingerprint = self.fingerprint(
                train_state, first, seeds, keys, batch_size, early_stopping
            )
        loop = Loop(max(seeds, 1), train_state, validation is not None)
        if checkpoint is not None and os.path.exists(checkpoint):
            loop = loop.resume(checkpoint, fingerprint)
        sign = -1.0 if early_stopping is not None and early_stopping.mode == "max" else 1.0
        bar = _progress(epochs, progress)
        if bar is not None:
            bar.update(loop.done)
        for epoch in range(loop.done, epochs if loop.active.any() else loop.done):
            started = time.perf_counter()
            new_state, losses, norms = self._epoch(
                loop.train_state, keys, epoch, data, batch_size, seeds
            )
            seconds = time.perf_counter() - started
            loop.check_finite(losses, epoch, checkpoint, seeds)
            if seeds and not loop.active.all():  # a stopped seed keeps its state
                new_state = select(jnp.asarray(loop.active), new_state, loop.train_state)
            value = None
            if validation is not None:
                value = self.evaluate(
                    new_state.params, new_state.state, validation, seeds=bool(seeds)
                )
                value = np.atleast_1d(value)
            loop.record(new_state, losses, norms, value, seconds, early_stopping, sign)
            if checkpoint is not None:
                loop.save(checkpoint, fingerprint)
            if bar is not None:
                bar.set_postfix(loss=float(np.nanmean(loop.history["loss"][-1])))
                bar.update(1)
            if not loop.active.any():
                break
            if on_epoch is not None and on_epoch(epoch, loop.curves(seeds)):
                break
        if bar is not None:
            bar.close()
        return loop.result(seeds, early_stopping is not None)

    def _epoch(self, train_state, keys, epoch, data, batch_size, seeds):
        epoch_keys = (
            jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, epoch)
            if seeds
            else jax.random.fold_in(keys, epoch)
        )
        if isinstance(data, sources.Arrays):
            program = self._program("epoch", bool(seeds), batch_size)
            train_state, metrics = program(train_state, epoch_keys, data.x, data.y, data.lengths)
        else:
            program = self._program("step", bool(seeds))
            steps = []
            for i, item in enumerate(data.batches(epoch)):
                train_state, m = program(train_state, epoch_keys, i, sources.as_batch("fit", item))
                steps.append(m)
            if not steps:
                raise ValueError(f"fit: `batches` yielded no batch for epoch {epoch}.")
            metrics = jax.tree.map(lambda *m: jnp.stack(m, axis=1), *steps)
        flat = lambda a: np.asarray(a).reshape(a.shape[0], -1)  # noqa: E731
        return train_state, flat(metrics["loss"]), flat(metrics["grad_norm"])


def _leading_axis(tree):
    return jax.tree.map(lambda leaf: leaf[None], tree)


def _metrics_axis(fn):
    """``fn -> (train_state, metrics)`` with a new leading axis on the metrics."""

    def with_axis(*args, **kwargs):
        train_state, metrics = fn(*args, **kwargs)
        return train_state, _leading_axis(metrics)

    return with_axis
