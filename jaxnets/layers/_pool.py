"""Max and average pooling over one or two spatial axes (NWC / NHWC)."""

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import Layer, as_tuple, check_input_shape, check_shape, output_shape

from ._window import check_window, explicit_pads, padding_pairs


def _pool(ndim, kind, size, strides, padding, count_include_pad, name) -> Layer:
    window = as_tuple(name, "size", size, ndim)
    strides = window if strides is None else as_tuple(name, "strides", strides, ndim)
    padding = padding_pairs(name, padding, ndim)
    ones = (1,) * ndim

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape, ndim + 1)
        return output_shape(apply, {}, {}, shape, jnp.float32), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        check_shape(f"{name}.apply", "x", x, (None,) * (ndim + 2))
        pads = explicit_pads(x.shape[1:-1], window, strides, ones, padding)
        check_window(f"{name}.apply", x.shape[1:-1], window, ones, pads)
        if strides == window and not any(lo or hi for lo, hi in pads):
            return _tiled_pool(x, window, kind), state
        full_window, full_strides = (1, *window, 1), (1, *strides, 1)
        full_pads = ((0, 0), *pads, (0, 0))
        if kind == "max":
            lowest = jnp.array(
                -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min,
                x.dtype,
            )
            y = lax.reduce_window(x, lowest, lax.max, full_window, full_strides, full_pads)
            return y, state
        total = lax.reduce_window(
            x, jnp.zeros((), x.dtype), lax.add, full_window, full_strides, full_pads
        )
        if count_include_pad:
            return total / math.prod(window), state
        counts = lax.reduce_window(
            jnp.ones(x.shape[1:-1], x.dtype), jnp.zeros((), x.dtype), lax.add, window, strides, pads
        )
        return total / counts[None, ..., None], state

    return Layer(init, apply, name)


def _tiled_pool(x, window, kind):
    # Non-overlapping windows as a reshape plus a reduction: the same numbers as
    # reduce_window, with a backward that is several times faster on CPU than
    # select_and_scatter (see PERF_NOTES).
    if kind == "max":
        return _tiled_max(x, window)
    return _tiles(x, window).mean(axis=_window_axes(window))


def _tiles(x, window):
    """(B, *spatial, C) -> (B, t_1, k_1, t_2, k_2, ..., C); a trailing remainder is cropped.

    The channel axis stays last and contiguous, so reductions over the window axes
    vectorize over channels.
    """
    batch, *spatial, channels = x.shape
    tiles = [n // k for n, k in zip(spatial, window)]
    x = x[(slice(None), *(slice(0, t * k) for t, k in zip(tiles, window)))]
    return x.reshape(batch, *(d for tk in zip(tiles, window) for d in tk), channels)


def _window_axes(window):
    return tuple(range(2, 2 * len(window) + 1, 2))


def _slot_ids(window, dtype):
    """Each window position's row-major index, shaped to broadcast against ``_tiles``."""
    shape = [1]
    for k in window:
        shape += [1, k]
    return jnp.arange(math.prod(window), dtype=dtype).reshape(*window).reshape(*shape, 1)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _tiled_max(x, window):
    return _tiles(x, window).max(axis=_window_axes(window))


def _tiled_max_fwd(x, window):
    tiles = _tiles(x, window)
    axes = _window_axes(window)
    y = tiles.max(axis=axes)
    # The backward routes each gradient to the first maximum of its window, as
    # reduce_window and PyTorch do; a one-byte code per output is all it keeps.
    size = math.prod(window)
    dtype = jnp.int8 if size <= 127 else jnp.int32
    is_max = tiles == jnp.expand_dims(y, axes)
    code = jnp.where(is_max, _slot_ids(window, dtype), jnp.array(size, dtype)).min(axis=axes)
    return y, (code, x.shape)


def _tiled_max_bwd(window, residuals, g):
    code, shape = residuals
    axes = _window_axes(window)
    routed = jnp.where(
        jnp.expand_dims(code, axes) == _slot_ids(window, code.dtype),
        jnp.expand_dims(g, axes),
        jnp.zeros((), g.dtype),
    )
    batch, *spatial, channels = shape
    cropped = routed.reshape(batch, *(n // k * k for n, k in zip(spatial, window)), channels)
    tail = [(0, n % k) for n, k in zip(spatial, window)]
    return (jnp.pad(cropped, ((0, 0), *tail, (0, 0))),)


_tiled_max.defvjp(_tiled_max_fwd, _tiled_max_bwd)


def max_pool1d(size=2, *, strides=None, padding="valid", name="max_pool1d") -> Layer:
    """Max pooling over x (B, W, C): the maximum of each window, per channel.

    Padding counts as -inf. Output width (W + p_lo + p_hi - k) // s + 1.
    See ``max_pool2d`` for the arguments.
    """
    return _pool(1, "max", size, strides, padding, True, name)


def max_pool2d(size=2, *, strides=None, padding="valid", name="max_pool2d") -> Layer:
    """Max pooling over images x (B, height, width, C): the maximum of each window.

    Padding counts as -inf. Output size per axis (n + p_lo + p_hi - k) // s + 1.

    Args:
      size: window size, an int or a pair.
      strides: window step; ``None`` (the default) means ``size``.
      padding: ``"valid"``, ``"same"``, an int, a pair of ints or of (low, high) pairs.
    """
    return _pool(2, "max", size, strides, padding, True, name)


def avg_pool1d(
    size=2, *, strides=None, padding="valid", count_include_pad=True, name="avg_pool1d"
) -> Layer:
    """Average pooling over x (B, W, C): the mean of each window, per channel.

    See ``avg_pool2d`` for the arguments.
    """
    return _pool(1, "avg", size, strides, padding, count_include_pad, name)


def avg_pool2d(
    size=2, *, strides=None, padding="valid", count_include_pad=True, name="avg_pool2d"
) -> Layer:
    """Average pooling over images x (B, height, width, C): the mean of each window.

    Args:
      size: window size, an int or a pair.
      strides: window step; ``None`` (the default) means ``size``.
      padding: ``"valid"``, ``"same"``, an int, a pair of ints or of (low, high) pairs.
      count_include_pad: whether padded zeros count in the mean (True, PyTorch's
        default) or only input values do (False, Keras's ``"same"``).
    """
    return _pool(2, "avg", size, strides, padding, count_include_pad, name)
