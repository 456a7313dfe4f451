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

    Measured with ``python benchmarks/kernels.py`` (2-core AMD EPYC, jax 0.10.2,
    float32, batch 64), forward and backward against ``lax.conv_general_dilated``:
    2.2x faster for 3x3 32->64 at 13x13 (12.4 -> 5.5 ms), 3x3 3->32 at 28x28 and 5x5
    1->6 at 32x32; 1.2x for 3x3 16->32 at 28x28, where the forward alone is 0.53x;
    level for 3x3 1->32 at 28x28 (patches of 9 values), whose forward alone is 0.5x:
    hence patches of at least ``MIN_PATCH`` values. CPU only: on GPU lax's
    convolution is cuDNN's.
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


# Measured (benchmarks/kernels.py): below 16 values per patch (a 3x3 kernel over one
# channel), XLA's convolution was faster; from 25 (5x5 over one channel) patches won.
MIN_PATCH = 16


def conv_patches_supports(options):
    if options.get("groups", 1) != 1:
        return f"it is grouped ({options['groups']} groups); the patches multiply all channels"
    if options.get("transposed"):
        return "it is a transposed convolution"
    if options["patch"] < MIN_PATCH:
        return (
            f"its patches hold {options['patch']} values (kernel size times input channels), "
            f"fewer than {MIN_PATCH}, where lax.conv was measured faster"
        )
    return None


def _tap(x, offsets, strides, dilation, out):
    """The input values that kernel tap ``offsets`` meets at every output position."""
    window = (
        slice(o * d, o * d + s * (m - 1) + 1, s)
        for o, s, d, m in zip(offsets, strides, dilation, out)
    )
    return x[(slice(None), *window)]
