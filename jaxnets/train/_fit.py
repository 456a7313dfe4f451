"""The entry points of the training engine: one run (``fit``), many seeds (``fit_seeds``)."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnets.kernels import vmapped_models

from . import _sources as sources
from ._engine import Trainer
from ._loop import EarlyStopping, FitResult
from ._step import TrainState, takes

WHERE = "fit"


def _trainer(trainer, model, optimizer, loss, options):
    """A new Trainer, or the one given, which must have been made for the same things."""
    if trainer is None:
        return Trainer(model, optimizer, loss, **options)
    if not isinstance(trainer, Trainer):
        raise TypeError(f"fit: `trainer` must be a jaxnets.train.Trainer, got {trainer!r}.")
    for name, value in (("model", model), ("optimizer", optimizer), ("loss", loss)):
        if value is not None and value is not getattr(trainer, name):
            raise ValueError(
                f"fit: `{name}` is not the one `trainer` was made with; pass that one or None."
            )
    for name, value in options.items():
        if value is not None and value != 0.0:
            raise ValueError(
                f"fit: `{name}` belongs to the Trainer when `trainer` is given, got {value!r}."
            )
    return trainer


def _check_options(epochs, validation, early_stopping):
    sources.check_positive_int(WHERE, "epochs", epochs)
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(
                f"fit: `early_stopping` must be an EarlyStopping, got {early_stopping!r}."
            )
        if validation is None:
            raise ValueError("fit: `early_stopping` needs `validation` data, got None.")
        if early_stopping.mode not in ("min", "max"):
            raise ValueError(
                f"fit: early stopping `mode` must be 'min' or 'max', got {early_stopping.mode!r}."
            )
        sources.check_positive_int(WHERE, "early_stopping.patience", early_stopping.patience)


def _data(x, y, lengths, batches, batch_size):
    if batches is not None:
        if x is not None or y is not None or lengths is not None:
            raise ValueError("fit: pass either `x`, `y` (and `lengths`) or `batches`, not both.")
        return sources.stream(WHERE, "batches", batches)
    if x is None or y is None:
        raise ValueError("fit: pass the data as `x` and `y`, or as `batches`.")
    return sources.arrays(WHERE, x, y, lengths, batch_size)


def _trace(model, params, state, batch):
    if batch.lengths is not None and not takes(model.apply, "lengths"):
        raise TypeError(
            f"fit: `lengths` needs a model whose apply takes `lengths=` (the sequence models "
            f"of jaxnets.models and jaxnets.rnn do); {getattr(model, 'name', model)!r} does not."
        )
    extra = {} if batch.lengths is None else {"lengths": batch.lengths}
    return jax.eval_shape(lambda p, s, x: model.apply(p, s, x, **extra)[0], params, state, batch.x)


def _check_labels(where, name, labels, out):
    # Integer labels index the model's last output axis: check their range here,
    # since inside jit an out-of-range label silently reads nothing.
    labels = jax.tree.leaves(labels)[0]
    if not jnp.issubdtype(labels.dtype, jnp.integer) or not np.size(labels):
        return
    classes = jax.tree.leaves(out)[0].shape[-1]
    lo, hi = int(np.min(labels)), int(np.max(labels))
    if lo < 0 or hi >= classes:
        raise ValueError(
            f"{where}: integer labels in `{name}` must lie in [0, {classes - 1}] for a model with "
            f"{classes} outputs, got values from {lo} to {hi}."
        )


def _check_shapes(trainer, params, state, data, first, validation):
    """Trace (not run) the model on the first training batch and a validation batch, so
    shape errors and labels out of range are named before any training."""
    out = _trace(trainer.model, params, state, first)
    _check_labels("fit", "y", data.y if isinstance(data, sources.Arrays) else first.y, out)
    if validation is None:
        return
    val = next(iter(sources.evaluation("fit: `validation`", validation).batches(0)), None)
    if val is None:
        raise ValueError("fit: `validation` holds no rows.")
    val = sources.as_batch("fit: `validation`", val)
    rank, got = jax.tree.leaves(first.x)[0].ndim, jax.tree.leaves(val.x)[0].shape
    if len(got) != rank:
        raise ValueError(
            f"fit: `validation` inputs must have {rank} axes like the training inputs "
            f"{jax.tree.leaves(first.x)[0].shape[1:]} (per row), got shape {got}."
        )
    try:
        out_val = _trace(trainer.model, params, state, val)
    except (ValueError, TypeError) as error:
        raise ValueError(f"fit: `validation` inputs do not fit the model: {error}") from error
    if isinstance(validation, tuple):
        _check_labels("fit", "validation", validation[1], out_val)


def fit(
    model, params, state, optimizer: optax.GradientTransformation, loss: Callable,
    x=None, y=None, *, epochs: int, key, batch_size: int | None = None, lengths=None,
    batches=None, validation=None, metric: Callable | None = None,
    early_stopping: EarlyStopping | None = None, l1: float = 0.0, l2: float = 0.0,
    augment: Callable | None = None, tbptt: int | None = None, compute_dtype=None,
    checkpoint: str | None = None, progress: bool | None = None, trainer: Trainer | None = None,
    on_epoch: Callable | None = None,
) -> FitResult:  # fmt: skip
    """Train ``model`` for up to ``epochs`` passes over the data.

    In memory, ``x`` and ``y`` (N rows): epoch e shuffles with
    ``jax.random.fold_in(key, e)`` and runs as one compiled program (a ``lax.scan``
    over minibatches), the last partial batch dropped. As a stream, ``batches``: a
    function ``epoch -> iterable of batches`` (a generator reading or making the data,
    ``jaxnets.data.bucket_batches``), or a list; each batch is one compiled step (one
    compilation per batch shape) with the key ``fold_in(fold_in(key, e), i)``.

    A run resumed from ``checkpoint`` continues bit-identically.

    Args:
      model: a Layer.
      params: its params.
      state: its state.
      optimizer: an optax GradientTransformation (see ``jaxnets.train.optimizer``).
      loss: ``loss(y_pred, y) -> scalar``; it also takes a ``mask`` for variable-length
        data with per-step targets and for masked rows (jaxnets' losses do).
      x: inputs, an array (or pytree of arrays) with N rows.
      y: targets with N rows.
      epochs: the number of passes, a positive int.
      key: a PRNG key (shuffling, dropout, augmentation).
      batch_size: rows per step, in [1, N] (in-memory data).
      lengths: (N,) ints in [1, T] for padded sequences (N, T, ...): each batch's go to
        ``model.apply(..., lengths=)``, and per-step targets are masked in the loss and
        the metric, so padded steps count nowhere.
      batches: the data as a stream of ``Batch`` (or ``(x, y)`` / ``(x, y, lengths)``).
      validation: ``(x, y)``, ``(x, y, lengths)`` (lengths may be None) or a stream of
        batches, evaluated after every epoch with ``metric`` (default: ``loss``): the
        mean over every row, or every valid step for per-step targets with lengths.
      early_stopping: an ``EarlyStopping``; needs ``validation``.
      l1: coefficient of ``l1_penalty`` (weights only).
      l2: coefficient of ``l2_penalty`` (weights only).
      augment: ``augment(key, x_batch) -> x_batch`` on every training batch inside
        the compiled step; validation data is not augmented.
      tbptt: truncated BPTT: each batch of sequences as chunks of this many steps, the
        carry passed from chunk to chunk with its gradient stopped, one update per
        chunk (see ``jaxnets.train.truncated_bptt``); targets are per step.
      compute_dtype: mixed precision: ``params`` and the optimizer state stay in their
        dtype (float32 masters) while the forward and backward passes run in this one
        (``"bfloat16"``; ``"float16"`` with ``optimizer`` wrapped in
        ``jaxnets.train.loss_scaled``). See ``jaxnets.train.train_step``.
      checkpoint: a file path; the run is saved atomically after every epoch, and an
        existing file is resumed from, after checking that it holds this run: the same
        tree paths, shapes and dtypes, model, optimizer, key and options (a
        ``ValueError`` names the first difference; the file is left untouched).
      progress: a tqdm bar over epochs; ``None``: only on a terminal outside CI.
      trainer: a ``Trainer`` to reuse (its compiled programs), instead of one made
        from ``model``, ``optimizer``, ``loss``, ``metric``, ``l1``, ``l2``,
        ``augment``, ``tbptt`` and ``compute_dtype``.
      on_epoch: ``on_epoch(epoch, history) -> bool`` after every epoch (and its
        checkpoint), with the ``History`` so far; a true answer ends the run there,
        as a pruner of a hyperparameter search does. A run stopped so and resumed from
        its checkpoint goes on from the next epoch.

    Returns:
      A ``FitResult``.

    Raises:
      ValueError, TypeError: bad input, named before any training.
      FloatingPointError: the loss became NaN or infinite; names the epoch and step.
        The checkpoint keeps the last finite epoch.
    """
    made = {"metric": metric, "l1": l1, "l2": l2, "augment": augment, "tbptt": tbptt,
            "compute_dtype": compute_dtype}  # fmt: skip
    trainer = _trainer(trainer, model, optimizer, loss, made)
    key = sources.check_keys(WHERE, "key", key)
    _check_options(epochs, validation, early_stopping)
    data = _data(x, y, lengths, batches, batch_size)
    first = sources.first_batch(data)
    _check_shapes(trainer, params, state, data, first, validation)
    train_state = TrainState(params, state, trainer.optimizer.init(params))
    return trainer.run(
        train_state, key, data, first=first, seeds=0, epochs=epochs, batch_size=batch_size,
        validation=validation, early_stopping=early_stopping, checkpoint=checkpoint,
        progress=progress, on_epoch=on_epoch,
    )  # fmt: skip


def init_and_fit_key(key):
    """The (init, fit) keys ``fit_seeds`` derives from one seed's key."""
    return tuple(jax.random.split(key))


def fit_seeds(
    model, optimizer: optax.GradientTransformation, loss: Callable, x=None, y=None, *,
    keys, epochs: int, batch_size: int | None = None, trainer: Trainer | None = None,
    **options,
) -> FitResult:  # fmt: skip
    """Initialize and train one model per key, all seeds in one ``vmap``ped program.

    Seed i does what ``k_init, k_fit = init_and_fit_key(keys[i])``,
    ``model.init(k_init, x.shape[1:])`` and ``fit(..., key=k_fit)`` do one at a time,
    with its own initialization, data order and dropout masks, and the same features
    (validation, early stopping per seed, NaN checks, checkpoints, lengths, streams,
    truncated BPTT). The results agree with ``fit``'s to float rounding (vmapped
    matmuls may sum in another order; tested to 1e-5), not bit for bit. With
    ``batches``, every seed sees the stream's batches in the stream's order.
    One program for N seeds turns N small matmuls into batched ones, which pays off
    while a single run leaves the cores idle (benchmarks/seeds.py measures where).

    Args:
      keys: (S,) PRNG keys, one per seed.
      options: as ``fit``'s (``lengths``, ``batches``, ``validation``, ``metric``,
        ``early_stopping``, ``l1``, ``l2``, ``augment``, ``tbptt``, ``compute_dtype``,
        ``checkpoint``,
        ``progress``, ``on_epoch``, whose ``History`` has a leading seed axis).

    Returns:
      A ``FitResult`` whose every field has a leading seed axis.
    """
    names = {"metric", "l1", "l2", "augment", "tbptt", "compute_dtype"}
    made = {k: options.pop(k) for k in names & set(options)}
    unknown = set(options) - {
        "lengths",
        "batches",
        "validation",
        "early_stopping",
        "checkpoint",
        "progress",
        "on_epoch",
    }
    if unknown:
        raise TypeError(f"fit_seeds: unexpected argument(s) {sorted(unknown)}.")
    trainer = _trainer(trainer, model, optimizer, loss, made)
    keys = sources.check_keys("fit_seeds", "keys", keys, (None,))
    if keys.shape[0] == 0:
        raise ValueError("fit_seeds: `keys` must hold at least one key, got none.")
    validation, early_stopping = options.get("validation"), options.get("early_stopping")
    _check_options(epochs, validation, early_stopping)
    data = _data(x, y, options.get("lengths"), options.get("batches"), batch_size)
    first_batch = sources.first_batch(data)
    input_shape = jax.tree.leaves(first_batch.x)[0].shape[1:]
    init_keys, fit_keys = jax.vmap(lambda k: jnp.stack(init_and_fit_key(k)))(keys).swapaxes(0, 1)

    def init(k):
        _, params, state = model.init(k, input_shape)
        return TrainState(params, state, trainer.optimizer.init(params))

    # Shape-only traces (the layers' init, the checks) pick what the vmapped programs run.
    with vmapped_models():
        train_state = jax.vmap(init)(init_keys)
        first = jax.tree.map(lambda a: a[0], train_state)
        _check_shapes(trainer, first.params, first.state, data, first_batch, validation)
    return trainer.run(
        train_state, fit_keys, data, first=first_batch, seeds=int(keys.shape[0]), epochs=epochs,
        batch_size=batch_size, validation=validation, early_stopping=early_stopping,
        checkpoint=options.get("checkpoint"), progress=options.get("progress"),
        on_epoch=options.get("on_epoch"),
    )  # fmt: skip


def evaluate(
    model, params, state, x, y, metric: Callable, *, lengths=None, batch_size: int = 512
) -> float:
    """The mean of ``metric`` over (x, y) in batches, with ``train=False``: over every
    row, or every valid step for per-step targets with ``lengths``."""
    trainer = Trainer(model, optax.identity(), metric)
    return trainer.evaluate(params, state, (x, y, lengths), batch_size=batch_size)


def evaluate_seeds(
    model, params, state, x, y, metric: Callable, *, lengths=None, batch_size: int = 512
):
    """``evaluate`` for params and state stacked along a leading seed axis: (S,) means."""
    trainer = Trainer(model, optax.identity(), metric)
    return trainer.evaluate(params, state, (x, y, lengths), seeds=True, batch_size=batch_size)
