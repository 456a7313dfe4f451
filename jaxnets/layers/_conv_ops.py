"""N-d convolution: XLA's convolution, or a registered kernel (``jaxnets.kernels``)."""

import math

from jax import lax

from jaxnets.kernels import choose

_LAYOUTS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def convolve(where, x, w, strides, pads, dilation, impl="auto"):
    """Cross-correlate x (B, *spatial, C) with w (*kernel, C, F), padded by ``pads``.

    The reference is ``lax.conv_general_dilated`` (cuDNN on GPU); ``impl="auto"`` takes
    the kernel ``conv_patches`` on CPU where it was measured faster (patches of 16 values
    or more). Both give the same numbers up to float rounding.
    """
    dtype = x.dtype if x.dtype == w.dtype else None
    options = {"patch": math.prod(w.shape[:-1])}  # values per patch: kernel size * C
    kernel = choose(where, "conv", options, dtype=dtype, impl=impl)
    if kernel is not None:
        return kernel.run(x, w, strides=strides, pads=pads, dilation=dilation)
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=strides,
        padding=pads,
        rhs_dilation=dilation,
        dimension_numbers=_LAYOUTS[x.ndim - 2],
    )
