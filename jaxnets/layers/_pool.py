"""Max and average pooling over one or two spatial axes (NWC / NHWC)."""

import math

import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnets.core import Layer, as_tuple, check_input_shape, check_shape, output_shape
from jaxnets.kernels import check_impl, choose

from ._window import check_window, explicit_pads, padding_pairs


def _pool(ndim, kind, size, strides, padding, count_include_pad, impl, name) -> Layer:
    window = as_tuple(name, "size", size, ndim)
    strides = window if strides is None else as_tuple(name, "strides", strides, ndim)
    padding = padding_pairs(name, padding, ndim)
    for axis, (k, pair) in enumerate(zip(window, () if isinstance(padding, str) else padding)):
        if max(pair) >= k:
            # Some window would then hold only padding: -inf for max, 0/0 for averages.
            raise ValueError(
                f"{name}: `padding` must be smaller than the window on each side, got "
                f"{pair} on spatial axis {axis} for a window of {k}."
            )
    ones = (1,) * ndim
    check_impl(name, impl)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape, ndim + 1)
        return output_shape(apply, {}, {}, shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        check_shape(f"{name}.apply", "x", x, (None,) * (ndim + 2))
        pads = explicit_pads(x.shape[1:-1], window, strides, ones, padding)
        check_window(f"{name}.apply", x.shape[1:-1], window, ones, pads)
        options = {"op": kind, "window": window, "strides": strides, "pads": pads}
        kernel = choose(f"{name}.apply", "pool", options, dtype=x.dtype, impl=impl)
        if kernel is not None:
            return kernel.run(x, window=window, op=kind), state
        full_window, full_strides = (1, *window, 1), (1, *strides, 1)
        full_pads = ((0, 0), *pads, (0, 0))
        if kind == "max":
            # A NumPy (concrete) init value: under jit, a traced one hides that this is a
            # max, and reduce_window then has no gradient.
            lowest = np.array(
                -np.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min,
                x.dtype,
            )
            y = lax.reduce_window(x, lowest, lax.max, full_window, full_strides, full_pads)
            return y, state
        total = lax.reduce_window(
            x, np.zeros((), x.dtype), lax.add, full_window, full_strides, full_pads
        )
        if count_include_pad:
            return total / math.prod(window), state
        counts = lax.reduce_window(
            jnp.ones(x.shape[1:-1], x.dtype), np.zeros((), x.dtype), lax.add, window, strides, pads
        )
        return total / counts[None, ..., None], state

    return Layer(init, apply, name)


def max_pool1d(size=2, *, strides=None, padding="valid", impl="auto", name="max_pool1d") -> Layer:
    """Max pooling over x (B, W, C): the maximum of each window, per channel.

    Padding counts as -inf. Output width (W + p_lo + p_hi - k) // s + 1.
    See ``max_pool2d`` for the arguments.
    """
    return _pool(1, "max", size, strides, padding, True, impl, name)


def max_pool2d(size=2, *, strides=None, padding="valid", impl="auto", name="max_pool2d") -> Layer:
    """Max pooling over images x (B, height, width, C): the maximum of each window.

    Padding counts as -inf. Output size per axis (n + p_lo + p_hi - k) // s + 1.

    Args:
      size: window size, an int or a pair.
      strides: window step; ``None`` (the default) means ``size``.
      padding: ``"valid"``, ``"same"``, an int, a pair of ints or of (low, high) pairs,
        each smaller than the window (a ``ValueError`` otherwise: a window of padding
        alone has no maximum).
      impl: ``"auto"`` (the kernel ``pool_tiled`` on CPU where strides equal the window
        and nothing is padded, else ``lax.reduce_window``), ``"reference"``
        (``lax.reduce_window``) or a kernel's name (``jaxnets.kernels``).
    """
    return _pool(2, "max", size, strides, padding, True, impl, name)


def avg_pool1d(
    size=2,
    *,
    strides=None,
    padding="valid",
    count_include_pad=True,
    impl="auto",
    name="avg_pool1d",
) -> Layer:
    """Average pooling over x (B, W, C): the mean of each window, per channel.

    See ``avg_pool2d`` for the arguments.
    """
    return _pool(1, "avg", size, strides, padding, count_include_pad, impl, name)


def avg_pool2d(
    size=2,
    *,
    strides=None,
    padding="valid",
    count_include_pad=True,
    impl="auto",
    name="avg_pool2d",
) -> Layer:
    """Average pooling over images x (B, height, width, C): the mean of each window.

    Args:
      size: window size, an int or a pair.
      strides: window step; ``None`` (the default) means ``size``.
      padding: ``"valid"``, ``"same"``, an int, a pair of ints or of (low, high) pairs.
      count_include_pad: whether padded zeros count in the mean (True, PyTorch's
        default) or only input values do (False, Keras's ``"same"``).
      impl: as for ``max_pool2d``.
    """
    return _pool(2, "avg", size, strides, padding, count_include_pad, impl, name)


def global_avg_pool(*, name: str = "global_avg_pool") -> Layer:
    """The mean over every spatial axis: x (B, *spatial, C) to (B, C).

    ``torch.nn.AdaptiveAvgPool2d(1)`` followed by a flatten; it takes inputs of any
    spatial size, so a convnet ending in it classifies images of any size.
    """
    return _global(name, jnp.mean)


def global_max_pool(*, name: str = "global_max_pool") -> Layer:
    """The maximum over every spatial axis: x (B, *spatial, C) to (B, C). At ties the
    gradient is shared equally among the maxima (``jnp.max``'s rule)."""
    return _global(name, jnp.max)


def _global(name, reduce) -> Layer:
    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        if len(shape) < 2:
            raise ValueError(
                f"{name}.init: `input_shape` must be (*spatial, C) with at least one spatial "
                f"axis, got {shape}."
            )
        return shape[-1:], {}, {}

    def apply(params, state, x, *, key=None, train=False):
        if x.ndim < 3:
            raise ValueError(
                f"{name}.apply: `x` must be (B, *spatial, C) with at least one spatial axis, "
                f"got shape {x.shape}."
            )
        return reduce(x, axis=tuple(range(1, x.ndim - 1))), state

    return Layer(init, apply, name)
