"""Convolution as patches times weights (im2col)."""

import itertools
import math

import jax.numpy as jnp


def conv_patches(x, w, *, strides, pads, dilation):
    """Cross-correlate x (B, *spatial, C) with w (*kernel, C, F), padded by ``pads``.

    Gathers each output position's receptive field into a (B, *out, prod(kernel) * C)
    matrix with strided slices and multiplies it by w reshaped to (prod(kernel) * C, F);
    its autodiff backward is two matmuls and a sum of shifted slices, where XLA:CPU runs
    the convolution's backward as transposed convolutions. The same numbers as
    ``lax.conv_general_dilated`` up to float rounding.
    """
    kernel = w.shape[:-2]
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    out = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(x.shape[1:-1], kernel, strides, dilation)
    ]
    # Tap order (i, j, ..., c) is the row order of w.reshape(-1, F).
    offsets = itertools.product(*map(range, kernel))
    taps = [_tap(x, o, strides, dilation, out) for o in offsets]
    patches = taps[0] if len(taps) == 1 else jnp.concatenate(taps, axis=-1)
    return patches @ w.reshape(math.prod(kernel) * w.shape[-2], w.shape[-1])


def _tap(x, offsets, strides, dilation, out):
    """The input values that kernel tap ``offsets`` meets at every output position."""
    window = (
        slice(o * d, o * d + s * (m - 1) + 1, s)
        for o, s, d, m in zip(offsets, strides, dilation, out)
    )
    return x[(slice(None), *window)]
