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
    return _tiles(x, window).mean(axis=-1)


def _tiles(x, window):
    """(B, *spatial, C) -> (B, *tiles, C, prod(window)); a trailing remainder is cropped."""
    batch, *spatial, channels = x.shape
    tiles = [n // k for n, k in zip(spatial, window)]
    x = x[(slice(None), *(slice(0, t * k) for t, k in zip(tiles, window)))]
    x = x.reshape(batch, *(d for tk in zip(tiles, window) for d in tk), channels)
    n = len(window)
    order = (0, *range(1, 2 * n, 2), 2 * n + 1, *range(2, 2 * n + 1, 2))
    return x.transpose(order).reshape(batch, *tiles, channels, math.prod(window))


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _tiled_max(x, window):
    return _tiles(x, window).max(axis=-1)


def _tiled_max_fwd(x, window):
    tiles = _tiles(x, window)
    # The backward routes each gradient to the first maximum of its window, as
    # reduce_window and PyTorch do; a one-byte code per output is all it keeps.
    code_dtype = jnp.int8 if math.prod(window) <= 127 else jnp.int32
    code = jnp.argmax(tiles, axis=-1).astype(code_dtype)
    return tiles.max(axis=-1), (code, x.shape)


def _tiled_max_bwd(window, residuals, g):
    code, shape = residuals
    batch, *spatial, channels = shape
    n, size = len(window), math.prod(window)
    slots = jnp.arange(size, dtype=code.dtype).reshape((1,) * code.ndim + (size,))
    routed = jnp.where(code[..., None] == slots, g[..., None], jnp.zeros((), g.dtype))
    tiles = code.shape[1:-1]
    routed = routed.reshape(batch, *tiles, channels, *window)
    order = (0, *(a for i in range(n) for a in (1 + i, n + 2 + i)), n + 1)
    dx = routed.transpose(order).reshape(batch, *(t * k for t, k in zip(tiles, window)), channels)
    crop = [(0, s - t * k) for s, t, k in zip(spatial, tiles, window)]
    return (jnp.pad(dx, ((0, 0), *crop, (0, 0))),)


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
