"""What training reads: arrays in memory or a stream of batches, checked before any work."""

import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.core import check_lengths as core_check_lengths
from jaxnets.data import Batch


class Arrays(NamedTuple):
    """Data in memory: N rows of ``x`` and ``y``, optional ``lengths`` (N,)."""

    x: Any
    y: Any
    lengths: Any
    rows: int


class Stream(NamedTuple):
    """Data as batches: ``batches(epoch)`` yields that epoch's ``Batch``es."""

    batches: Callable


def check_positive_int(where: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: `{name}` must be a positive int, got {value!r}.")
    return int(value)


def check_keys(where: str, name: str, keys, shape: tuple = ()):
    """PRNG keys of ``shape``: typed keys, or raw uint32 keys (``shape`` + (2,))."""
    if keys is None:
        raise TypeError(f"{where}: `{name}` must be a PRNG key (jax.random.key(seed)), got None.")
    if isinstance(keys, (list, tuple)) and shape:
        keys = jnp.stack([jnp.asarray(k) for k in keys]) if keys else jnp.zeros((0,))
    if isinstance(keys, jax.Array) and jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
        if keys.ndim != len(shape) or (shape and shape[0] is not None and keys.shape != shape):
            raise ValueError(
                f"{where}: `{name}` must be PRNG keys of shape {shape or '()'}, got {keys.shape}."
            )
        return keys
    data = np.asarray(keys) if isinstance(keys, (np.ndarray, jax.Array)) else None
    if (
        data is None
        or data.dtype != np.uint32
        or data.shape[-1:] != (2,)
        or data.ndim != len(shape) + 1
    ):
        raise TypeError(
            f"{where}: `{name}` must be a PRNG key (jax.random.key(seed)) or raw uint32 key data "
            f"of shape {(*shape, 2)}, got {type(keys).__name__}"
            f"{'' if data is None else f' of shape {data.shape} and dtype {data.dtype}'}."
        )
    return jnp.asarray(data)


def _rows(where, name, tree):
    rows = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(tree)}
    if len(rows) != 1 or None in rows:
        raise ValueError(f"{where}: every array in `{name}` must have the same rows, got {rows}.")
    return rows.pop()


def check_lengths(where: str, name: str, lengths, x):
    """``lengths`` (N,) of the sequences x (N, T, ...) as int32, values in [1, T]."""
    leaf = jax.tree.leaves(x)[0]
    if leaf.ndim < 2:
        raise ValueError(
            f"{where}: `{name}` needs sequences (N, T, ...), got `x` of shape {leaf.shape}."
        )
    lengths = core_check_lengths(where, lengths, leaf.shape[:1], leaf.shape[1], name=name)
    return lengths.astype(jnp.int32)


def arrays(where: str, x, y, lengths, batch_size) -> Arrays:
    rows_x, rows_y = _rows(where, "x", x), _rows(where, "y", y)
    if rows_x != rows_y:
        raise ValueError(
            f"{where}: `x` and `y` must have the same number of rows, got {rows_x} and {rows_y}."
        )
    batch_size = check_positive_int(where, "batch_size", batch_size)
    if batch_size > rows_x:
        raise ValueError(
            f"{where}: `batch_size` must be an int in [1, {rows_x}] (the rows of `x`), got "
            f"{batch_size}."
        )
    if lengths is not None:
        lengths = check_lengths(where, "lengths", lengths, x)
    return Arrays(jax.tree.map(jnp.asarray, x), jax.tree.map(jnp.asarray, y), lengths, rows_x)


def as_batch(where: str, item) -> Batch:
    """A ``Batch`` from a stream item: a Batch, or a tuple (x, y) or (x, y, lengths)."""
    if not isinstance(item, Batch):
        if not isinstance(item, tuple) or len(item) not in (2, 3):
            raise TypeError(
                f"{where}: each batch must be a jaxnets.data.Batch or a tuple (x, y) or "
                f"(x, y, lengths), got {type(item).__name__}."
            )
        item = Batch(*item)
    rows = _rows(where, "batch x", item.x)
    if _rows(where, "batch y", item.y) != rows:
        raise ValueError(f"{where}: a batch's `x` and `y` must have the same rows.")
    lengths = (
        None
        if item.lengths is None
        else check_lengths(where, "batch lengths", item.lengths, item.x)
    )
    mask = None if item.mask is None else jnp.asarray(item.mask, bool)
    if mask is not None and mask.shape != (rows,):
        raise ValueError(f"{where}: a batch's `mask` must have shape ({rows},), got {mask.shape}.")
    return Batch(
        jax.tree.map(jnp.asarray, item.x), jax.tree.map(jnp.asarray, item.y), lengths, mask
    )


def stream(where: str, name: str, batches) -> Stream:
    """``batches``: a callable ``epoch -> iterable of batches``, or a re-iterable
    (a list, or an object whose ``__iter__`` starts over each time)."""
    if callable(batches) and not isinstance(batches, Iterable):
        return Stream(batches)
    if isinstance(batches, Iterator):
        raise TypeError(
            f"{where}: `{name}` is a one-shot iterator (a generator), which the second epoch "
            "would find empty; pass a function of the epoch that returns a new one, e.g. "
            "`lambda epoch: my_batches(epoch)`."
        )
    if callable(batches):
        return Stream(batches)
    if isinstance(batches, Iterable):
        return Stream(lambda epoch: iter(batches))
    raise TypeError(
        f"{where}: `{name}` must be a callable epoch -> iterable of batches, or a list of "
        f"batches, got {type(batches).__name__}."
    )


def evaluation(where: str, validation, batch_size: int = 512) -> Stream:
    """Validation data, ``(x, y)``, ``(x, y, lengths)`` or a stream, as a stream."""
    if (
        isinstance(validation, tuple)
        and len(validation) in (2, 3)
        and not isinstance(validation, Batch)
    ):
        x, y, *rest = validation
        lengths = rest[0] if rest else None
        data = arrays(where, x, y, lengths, 1)

        def batches(epoch):
            for start in range(0, data.rows, batch_size):
                take = lambda a, s=start: a[s : s + batch_size]  # noqa: E731
                sub = None if data.lengths is None else take(data.lengths)
                yield Batch(jax.tree.map(take, data.x), jax.tree.map(take, data.y), sub)

        return Stream(batches)
    return stream(where, "validation", validation)


def first_batch(source) -> Batch:
    """The first batch of epoch 0 (rows of in-memory arrays), to trace the model on."""
    if isinstance(source, Arrays):
        take = lambda a: a[:1]  # noqa: E731
        lengths = None if source.lengths is None else source.lengths[:1]
        return Batch(jax.tree.map(take, source.x), jax.tree.map(take, source.y), lengths)
    for item in source.batches(0):
        return as_batch("fit", item)
    raise ValueError("fit: `batches` yielded no batch for epoch 0.")
