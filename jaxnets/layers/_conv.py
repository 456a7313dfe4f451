"""Convolution layers over one or two spatial axes (NWC / NHWC)."""

from collections.abc import Callable

import jax
from jax.nn.initializers import glorot_uniform, zeros

from jaxnets.core import (
    Layer,
    along_last_axis,
    as_tuple,
    check_input_shape,
    check_shape,
    output_shape,
    policy_layer,
    precision_policy,
)
from jaxnets.kernels import check_impl

from ._conv_ops import convolve
from ._window import check_window, explicit_pads, padding_pairs


def _conv(
    ndim,
    filters,
    kernel_size,
    strides,
    padding,
    dilation,
    activation,
    use_bias,
    w_init,
    b_init,
    policy,
    impl,
    name,
) -> Layer:
    check_impl(name, impl)
    if not isinstance(filters, int) or filters <= 0:
        raise ValueError(f"{name}: `filters` must be a positive int, got {filters!r}.")
    kernel = as_tuple(name, "kernel_size", kernel_size, ndim)
    strides = as_tuple(name, "strides", strides, ndim)
    dilation = as_tuple(name, "dilation", dilation, ndim)
    padding = padding_pairs(name, padding, ndim)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape, ndim + 1)
        k_w, k_b = jax.random.split(key)
        params = {"w": w_init(k_w, (*kernel, shape[-1], filters), policy.draw)}
        if use_bias:
            params["b"] = b_init(k_b, (filters,), policy.draw)
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False):
        in_channels = params["w"].shape[-2]
        check_shape(f"{name}.apply", "x", x, (None,) * (ndim + 1) + (in_channels,))
        pads = explicit_pads(x.shape[1:-1], kernel, strides, dilation, padding)
        check_window(f"{name}.apply", x.shape[1:-1], kernel, dilation, pads)
        y = convolve(f"{name}.apply", x, params["w"], strides, pads, dilation, impl)
        if use_bias:
            y = y + along_last_axis(params["b"], y.ndim)
        return (y if activation is None else activation(y)), state

    return policy_layer(Layer(init, apply, name), policy)


def conv1d(
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding="valid",
    dilation=1,
    activation: Callable | None = None,
    use_bias: bool = True,
    w_init: Callable = glorot_uniform(),
    b_init: Callable = zeros,
    dtype=None,
    param_dtype=None,
    precision=None,
    impl: str = "auto",
    name: str = "conv1d",
) -> Layer:
    """1-D convolution (cross-correlation, as in every framework) over x (B, W, C).

      y[b, i, f] = activation(sum_{k, c} x_pad[b, i * s + k * d, c] w[k, c, f] + b[f])

    Output width: (W + p_lo + p_hi - d * (K - 1) - 1) // s + 1.

    Args:
      filters: F, the number of output channels.
      kernel_size: K, an int or a 1-tuple.
      strides: s, a positive int.
      padding: ``"valid"`` (none), ``"same"`` (output width ceil(W / s)), an int p
        (p zeros on both sides), or a (low, high) pair.
      dilation: d, spacing between kernel taps.
      activation: elementwise function applied last; ``None`` for linear.
      use_bias: add ``b``.
      w_init: initializer for ``w`` (K, C, F).
      b_init: initializer for ``b`` (F,).
      dtype: the compute dtype; ``None`` (default): the dtype of the params it is
        given. Params and floating inputs are cast to it (``jaxnets.core.precision_policy``).
      param_dtype: the params' dtype (default: ``dtype``, else float32); drawn in
        float32 and cast, so bfloat16 and float16 params initialize like float32 ones.
      precision: matmul precision while it computes (``None``: JAX's default).
      impl: ``"auto"`` (the kernel ``conv_patches``, im2col and one matmul, on CPU in
        float32/float64, where its backward is faster; else the reference),
        ``"reference"`` (``lax.conv_general_dilated``) or a kernel's name
        (``jaxnets.kernels``).

    Returns:
      A Layer mapping (B, W, C) to (B, W', F). Params: ``w`` (K, C, F), ``b`` (F,).
    """
    return _conv(
        1,
        filters,
        kernel_size,
        strides,
        padding,
        dilation,
        activation,
        use_bias,
        w_init,
        b_init,
        precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision),
        impl,
        name,
    )


def conv2d(
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding="valid",
    dilation=1,
    activation: Callable | None = None,
    use_bias: bool = True,
    w_init: Callable = glorot_uniform(),
    b_init: Callable = zeros,
    dtype=None,
    param_dtype=None,
    precision=None,
    impl: str = "auto",
    name: str = "conv2d",
) -> Layer:
    """2-D convolution (cross-correlation) over images x (B, height, width, C).

      y[b, i, j, f] = activation(
          sum_{m, n, c} x_pad[b, i*s_h + m*d_h, j*s_w + n*d_w, c] w[m, n, c, f] + b[f])

    Output size per spatial axis: (h + p_lo + p_hi - d * (k - 1) - 1) // s + 1, which
    is the textbook's (h + 2p - k) / s + 1 for d = 1 and symmetric padding.

    Args:
      filters: F, the number of output channels.
      kernel_size: an int k or a pair (k_h, k_w).
      strides: an int or a pair.
      padding: ``"valid"``, ``"same"``, an int p, a pair of ints, or a pair of
        (low, high) pairs.
      dilation: an int or a pair.
      activation: elementwise function applied last; ``None`` for linear.
      use_bias: add ``b``.
      w_init: initializer for ``w`` (k_h, k_w, C, F) (HWIO).
      b_init: initializer for ``b`` (F,).
      dtype: the compute dtype; ``None`` (default): the dtype of the params it is
        given. Params and floating inputs are cast to it (``jaxnets.core.precision_policy``).
      param_dtype: the params' dtype (default: ``dtype``, else float32); drawn in
        float32 and cast, so bfloat16 and float16 params initialize like float32 ones.
      precision: matmul precision while it computes (``None``: JAX's default).
      impl: ``"auto"`` (the kernel ``conv_patches``, im2col and one matmul, on CPU in
        float32/float64, where its backward is faster; else the reference),
        ``"reference"`` (``lax.conv_general_dilated``) or a kernel's name
        (``jaxnets.kernels``).

    Returns:
      A Layer mapping (B, h, w, C) to (B, h', w', F). Params: ``w`` (k_h, k_w, C, F),
      ``b`` (F,).
    """
    return _conv(
        2,
        filters,
        kernel_size,
        strides,
        padding,
        dilation,
        activation,
        use_bias,
        w_init,
        b_init,
        precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision),
        impl,
        name,
    )
