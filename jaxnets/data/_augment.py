"""Random data augmentation of a batch: pure ``augment(key, x) -> x`` functions.

``fit(..., augment=...)`` calls one on every training batch inside the compiled
epoch, with a fresh key per step; validation and test data are never augmented.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax


def _batch_axes(where: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    """Axes of a batch (axis 0 is the example axis, which no augmentation may touch)."""
    resolved = []
    for axis in axes:
        if not isinstance(axis, int) or isinstance(axis, bool) or not -ndim < axis < ndim:
            raise ValueError(f"{where}: axis {axis!r} is not an axis of a batch with {ndim} dims.")
        axis %= ndim
        if axis == 0:
            raise ValueError(f"{where}: axis {axis!r} is the example axis; pick a data axis.")
        resolved.append(axis)
    return tuple(resolved)


def _check_x(where: str, x):
    if not hasattr(x, "ndim") or x.ndim < 2:
        raise ValueError(
            f"{where}: `x` must be a batch (N, ...) with at least one data axis, got "
            f"shape {getattr(x, 'shape', type(x).__name__)}."
        )


def random_flip(axis: int, *, p: float = 0.5) -> Callable:
    """Mirror each example along ``axis`` with probability ``p``.

    ``axis`` counts the batch's axes: 2 is the width of NHWC images, -1 the
    feature axis of (N, T, D) rows. Horizontal flips suit Fashion-MNIST (clothes
    are left-right symmetric); they would not suit digits.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> flip = random_flip(axis=-1, p=1.0)
      >>> flip(jax.random.key(0), jnp.array([[[1.0, 2.0, 3.0]]])).tolist()
      [[[3.0, 2.0, 1.0]]]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_flip: `p` must lie in [0, 1], got {p!r}.")

    def augment(key, x):
        _check_x("random_flip", x)
        (ax,) = _batch_axes("random_flip", (axis,), x.ndim)
        flip = jax.random.bernoulli(key, p, (x.shape[0],) + (1,) * (x.ndim - 1))
        return jnp.where(flip, jnp.flip(x, ax), x)

    return augment


def random_shift(max_shift: int, axes: Sequence[int] = (1, 2)) -> Callable:
    """Translate each example by whole steps drawn uniformly from
    [-max_shift, max_shift] along each of ``axes`` (default: the height and width of
    NHWC images), filling what moves in with zeros.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> x = jnp.arange(1.0, 6.0).reshape(1, 5)
      >>> shifted = random_shift(2, axes=(1,))(jax.random.key(3), x)
      >>> shifted.shape, int((shifted != 0).sum()) >= 3
      ((1, 5), True)
    """
    if not isinstance(max_shift, int) or isinstance(max_shift, bool) or max_shift < 0:
        raise ValueError(f"random_shift: `max_shift` must be an int >= 0, got {max_shift!r}.")
    axes = tuple(axes)

    def augment(key, x):
        _check_x("random_shift", x)
        resolved = _batch_axes("random_shift", axes, x.ndim)
        if max_shift == 0:
            return x
        pads = [(0, 0)] * x.ndim
        for ax in resolved:
            pads[ax] = (max_shift, max_shift)
        padded = jnp.pad(x, pads)
        offsets = jax.random.randint(
            key, (x.shape[0], len(resolved)), 0, 2 * max_shift + 1, dtype=jnp.int32
        )

        def crop(example, offset):
            starts = [jnp.int32(0)] * (x.ndim - 1)
            for k, ax in enumerate(resolved):
                starts[ax - 1] = offset[k]
            return lax.dynamic_slice(example, starts, x.shape[1:])

        return jax.vmap(crop)(padded, offsets)

    return augment


def chain(*augments: Callable) -> Callable:
    """Apply ``augments`` in order, each with its own key."""
    for a in augments:
        if not callable(a):
            raise TypeError(f"chain: every augmentation must be callable, got {a!r}.")

    def augment(key, x):
        for a, k in zip(augments, jax.random.split(key, len(augments))):
            x = a(k, x)
        return x

    return augment
