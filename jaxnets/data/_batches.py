"""Batches of padded variable-length sequences, and a batcher that buckets them by length."""

from typing import Any, NamedTuple

import numpy as np

from jaxnets.core import check_lengths


class Batch(NamedTuple):
    """One training batch.

    ``x``: inputs (B, ...); ``y``: targets (B, ...); ``lengths``: (B,) ints, the valid
    steps of each padded sequence (``None``: every step is valid); ``mask``: (B,)
    bool, the rows that count (``None``: all of them). Rows with ``mask`` False fill
    a batch to its fixed size and add nothing to the loss, the metrics or the gradient
    (they still pass through the model, so batch norm's batch statistics see them).
    """

    x: Any
    y: Any
    lengths: Any = None
    mask: Any = None


def _check_int(where, name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{where}: `{name}` must be an int >= {low}, got {value!r}.")


class BucketBatches:
    """Sequences of similar length batched together, a new order every epoch.

    The examples are sorted by length and cut into ``num_buckets`` buckets of about
    equal numbers of whole batches (or, with ``boundaries``, by length); a bucket's
    batches are padded to its longest sequence, so there is one batch shape per bucket
    and each compiles once.
    Every epoch shuffles the examples within each bucket, cuts them into batches of
    ``batch_size`` (the last one of a bucket filled with masked copies, so every
    example is seen exactly once per epoch and no batch shape is new) and shuffles
    the order of all batches. The order depends only on ``seed`` and the epoch, so a
    resumed run sees the same batches.

    Call it with an epoch number for that epoch's ``Batch``es; ``jaxnets.train.fit``
    takes it as ``batches=``.

    Args:
      x: padded inputs (N, T, ...) (or ids (N, T)).
      y: targets: (N, ...) one per sequence, or (N, T, ...) one per step (sliced to
        the bucket's width like ``x``); ``step_targets`` says which, by default
        whether ``y`` has the leading (N, T) axes of ``x``.
      lengths: (N,) ints in [1, T].
      batch_size: B.
      num_buckets: the number of buckets, when ``boundaries`` is None (fewer when
        there are fewer batches).
      boundaries: increasing lengths; bucket i holds lengths in
        (boundaries[i-1], boundaries[i]], the last bucket the rest.
      seed: the seed of every epoch's order.

    Attributes:
      widths: the padded length of each bucket.
      padding_fraction: the fraction of the batches' (row, step) cells that are
        padding, masked rows included.
    """

    def __init__(
        self, x, y, lengths, *, batch_size: int, num_buckets: int = 4, boundaries=None,
        seed: int = 0, step_targets: bool | None = None,
    ):  # fmt: skip
        where = "bucket_batches"
        x, y, lengths = np.asarray(x), np.asarray(y), np.asarray(lengths)
        if x.ndim < 2:
            raise ValueError(f"{where}: `x` must have shape (N, T, ...), got {x.shape}.")
        n, steps = x.shape[:2]
        if y.shape[:1] != (n,):
            raise ValueError(f"{where}: `y` must have {n} rows like `x`, got shape {y.shape}.")
        lengths = np.asarray(check_lengths(where, lengths, (n,), steps))
        _check_int(where, "batch_size", batch_size, 1)
        if batch_size > n:
            raise ValueError(f"{where}: `batch_size` must be in [1, {n}], got {batch_size}.")
        _check_int(where, "seed", seed, 0)
        if boundaries is None:
            # Cut the examples sorted by length into buckets of whole batches, so that
            # only the last bucket may need filler rows.
            _check_int(where, "num_buckets", num_buckets, 1)
            order = np.argsort(lengths, kind="stable")
            batches = -(-n // batch_size)
            per = np.diff(
                np.linspace(0, batches, min(num_buckets, batches) + 1).round().astype(int)
            )
            cuts = np.cumsum(per)[:-1] * batch_size
            self.buckets = [np.sort(b) for b in np.split(order, cuts)]
        else:
            boundaries = np.asarray(boundaries, int)
            if boundaries.ndim != 1 or np.any(np.diff(boundaries) <= 0):
                raise ValueError(f"{where}: `boundaries` must increase, got {boundaries.tolist()}.")
            bucket_of = np.searchsorted(boundaries, lengths, side="left")
            self.buckets = [np.flatnonzero(bucket_of == b) for b in range(len(boundaries) + 1)]
        self.buckets = [b for b in self.buckets if b.size]
        self.widths = [int(lengths[b].max()) for b in self.buckets]
        self.x, self.y, self.lengths = x, y, lengths.astype(np.int32)
        self.batch_size, self.seed = batch_size, seed
        self.step_targets = y.shape[:2] == (n, steps) if step_targets is None else step_targets
        cells = sum(
            -(-b.size // batch_size) * batch_size * w for b, w in zip(self.buckets, self.widths)
        )
        self.padding_fraction = 1.0 - float(lengths.sum()) / cells

    def __len__(self) -> int:
        """Batches per epoch."""
        return sum(-(-b.size // self.batch_size) for b in self.buckets)

    def __call__(self, epoch: int):
        """The ``Batch``es of ``epoch``, in that epoch's order."""
        rng = np.random.default_rng([self.seed, epoch])
        plan = []
        for bucket, width in zip(self.buckets, self.widths):
            rows = rng.permutation(bucket)
            fill = -rows.size % self.batch_size
            # Masked copies of the bucket's own rows keep every value finite.
            rows = np.resize(rows, rows.size + fill)
            mask = np.arange(rows.size) < bucket.size
            for start in range(0, rows.size, self.batch_size):
                plan.append(
                    (
                        rows[start : start + self.batch_size],
                        mask[start : start + self.batch_size],
                        width,
                    )
                )
        for i in rng.permutation(len(plan)):
            rows, mask, width = plan[i]
            y = self.y[rows, :width] if self.step_targets else self.y[rows]
            yield Batch(self.x[rows, :width], y, self.lengths[rows], mask)


def bucket_batches(x, y, lengths, *, batch_size: int, **options) -> BucketBatches:
    """A ``BucketBatches`` over padded sequences; see its docstring for ``options``."""
    return BucketBatches(x, y, lengths, batch_size=batch_size, **options)
