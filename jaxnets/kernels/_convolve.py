"""N-d convolution: XLA's convolution, or a registered kernel (``jaxnets.kernels``)."""

import math

from jax import lax

from ._registry import choose

_LAYOUTS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def convolve(where, x, w, strides, pads, dilation, impl="auto", groups=1, transposed=False):
    """Cross-correlate x (B, *spatial, C) with w (*kernel, C / groups, F), padded by ``pads``.

    ``groups``: the channels split into that many groups, each convolved with its own
    F / groups filters (``feature_group_count``). ``transposed``: the transposed
    convolution (the gradient of a strided one with respect to its input): x is
    dilated by ``strides`` and convolved at stride 1 with the spatially flipped w;
    ``pads`` are then those of that stride-1 convolution.

    The reference is ``lax.conv_general_dilated`` (cuDNN on GPU); ``impl="auto"`` takes
    the kernel ``conv_patches`` on CPU where it was measured faster (plain convolutions
    with patches of 16 values or more). Both give the same numbers up to float rounding.
    """
    dtype = x.dtype if x.dtype == w.dtype else None
    # Values per patch: kernel size * C.
    options = {"patch": math.prod(w.shape[:-1]), "groups": groups, "transposed": transposed}
    kernel = choose(where, "conv", options, dtype=dtype, impl=impl)
    if kernel is not None:
        return kernel.run(x, w, strides=strides, pads=pads, dilation=dilation)
    spatial = tuple(range(w.ndim - 2))
    return lax.conv_general_dilated(
        x,
        w[tuple(slice(None, None, -1) for _ in spatial)] if transposed else w,
        window_strides=(1,) * len(spatial) if transposed else strides,
        padding=pads,
        lhs_dilation=strides if transposed else None,
        rhs_dilation=dilation,
        dimension_numbers=_LAYOUTS[x.ndim - 2],
        feature_group_count=groups,
    )
