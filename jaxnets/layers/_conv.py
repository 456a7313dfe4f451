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
from jaxnets.kernels import check_impl, convolve

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
    groups=1,
    output_padding=None,
) -> Layer:
    check_impl(name, impl)
    if not isinstance(filters, int) or filters <= 0:
        raise ValueError(f"{name}: `filters` must be a positive int, got {filters!r}.")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{name}: `groups` must be a positive int, got {groups!r}.")
    if filters % groups:
        raise ValueError(
            f"{name}: `filters` must be a multiple of `groups`, got {filters} and {groups}."
        )
    kernel = as_tuple(name, "kernel_size", kernel_size, ndim)
    strides = as_tuple(name, "strides", strides, ndim)
    dilation = as_tuple(name, "dilation", dilation, ndim)
    if isinstance(padding, str) and padding.lower() == "causal":
        if ndim != 1:
            raise ValueError(f"{name}: `padding` 'causal' is for conv1d only, got {ndim}-d.")
        # Output i sees inputs up to i only: all the padding goes before the sequence.
        padding = ((dilation[0] * (kernel[0] - 1), 0),)
    padding = padding_pairs(name, padding, ndim)
    transposed = output_padding is not None
    if transposed:
        padding = _transposed_pads(name, padding, kernel, strides, dilation, output_padding)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape, ndim + 1)
        if shape[-1] % groups:
            raise ValueError(
                f"{name}.init: the input channels must be a multiple of `groups` = {groups}, "
                f"got {shape[-1]}."
            )
        k_w, k_b = jax.random.split(key)
        params = {"w": w_init(k_w, (*kernel, shape[-1] // groups, filters), policy.draw)}
        if use_bias:
            params["b"] = b_init(k_b, (filters,), policy.draw)
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False):
        in_channels = params["w"].shape[-2] * groups
        check_shape(f"{name}.apply", "x", x, (None,) * (ndim + 1) + (in_channels,))
        if transposed:
            pads = padding
            for axis, (n, k, s, d, (lo, hi)) in enumerate(
                zip(x.shape[1:-1], kernel, strides, dilation, pads)
            ):
                if (n - 1) * s + 1 + lo + hi - d * (k - 1) < 1:
                    raise ValueError(
                        f"{name}.apply: spatial axis {axis} of `x` ({n}) leaves no output "
                        "after the padding is cropped; use less padding."
                    )
        else:
            pads = explicit_pads(x.shape[1:-1], kernel, strides, dilation, padding)
            check_window(f"{name}.apply", x.shape[1:-1], kernel, dilation, pads)
        y = convolve(
            f"{name}.apply", x, params["w"], strides, pads, dilation, impl, groups, transposed
        )
        if use_bias:
            y = y + along_last_axis(params["b"], y.ndim)
        return (y if activation is None else activation(y)), state

    return policy_layer(Layer(init, apply, name), policy)


def _transposed_pads(name, padding, kernel, strides, dilation, output_padding):
    """The stride-1 convolution's pads that give PyTorch's ConvTranspose: padding p
    takes p from each side of the full output (n - 1) * s + d * (k - 1) + 1, and
    ``output_padding`` adds rows at the high end."""
    if padding == "SAME":
        raise ValueError(
            f"{name}: `padding` must be 'valid', ints or (low, high) pairs, got 'same'."
        )
    padding = ((0, 0),) * len(kernel) if padding == "VALID" else padding
    output_padding = as_tuple(name, "output_padding", output_padding, len(kernel), minimum=0)
    pads = []
    for axis, ((lo, hi), k, s, d, extra) in enumerate(
        zip(padding, kernel, strides, dilation, output_padding)
    ):
        full = d * (k - 1)
        if max(lo, hi) > full:
            raise ValueError(
                f"{name}: `padding` must be at most dilation * (kernel_size - 1) = {full} on "
                f"axis {axis}, got {(lo, hi)}."
            )
        if extra >= max(s, d):
            raise ValueError(
                f"{name}: `output_padding` must be smaller than the stride or the dilation "
                f"({max(s, d)}) on axis {axis}, got {extra}."
            )
        pads.append((full - lo, full - hi + extra))
    return tuple(pads)


def conv1d(
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding="valid",
    dilation=1,
    groups: int = 1,
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
      padding: ``"valid"`` (none), ``"same"`` (output width ceil(W / s)), ``"causal"``
        (d * (K - 1) zeros before the sequence, none after: output i reads inputs up
        to i only, as in WaveNet and Keras), an int p (p zeros on both sides), or a
        (low, high) pair.
      dilation: d, spacing between kernel taps.
      groups: G; the C input channels split into G groups, each convolved with its own
        F / G filters (``torch.nn.Conv1d(groups=)``; G = C is depthwise). C and F must
        be multiples of G; ``w`` is then (K, C / G, F).
      activation: elementwise function applied last; ``None`` for linear.
      use_bias: add ``b``.
      w_init: initializer for ``w`` (K, C, F).
      b_init: initializer for ``b`` (F,).
      dtype: the compute dtype; ``None`` (default): the dtype of the params it is
        given. Params and floating inputs are cast to it (``jaxnets.core.precision_policy``).
      param_dtype: the params' dtype (default: ``dtype``, else float32); drawn in
        float32 and cast, so bfloat16 and float16 params initialize like float32 ones.
      precision: matmul precision while it computes (``None``: JAX's default).
      impl: ``"auto"`` (the kernel ``conv_patches``, im2col and one matmul, on CPU for
        ungrouped convolutions, where its backward is faster; else the reference),
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
        groups,
    )


def conv2d(
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding="valid",
    dilation=1,
    groups: int = 1,
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
      groups: G, as for ``conv1d``: ``w`` is (k_h, k_w, C / G, F); G = C with F = m * C
        is the depthwise convolution with channel multiplier m.
      activation: elementwise function applied last; ``None`` for linear.
      use_bias: add ``b``.
      w_init: initializer for ``w`` (k_h, k_w, C, F) (HWIO).
      b_init: initializer for ``b`` (F,).
      dtype: the compute dtype; ``None`` (default): the dtype of the params it is
        given. Params and floating inputs are cast to it (``jaxnets.core.precision_policy``).
      param_dtype: the params' dtype (default: ``dtype``, else float32); drawn in
        float32 and cast, so bfloat16 and float16 params initialize like float32 ones.
      precision: matmul precision while it computes (``None``: JAX's default).
      impl: ``"auto"`` (the kernel ``conv_patches``, im2col and one matmul, on CPU for
        ungrouped convolutions, where its backward is faster; else the reference),
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
        groups,
    )


def conv_transpose1d(
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding=0,
    output_padding=0,
    dilation=1,
    groups: int = 1,
    activation: Callable | None = None,
    use_bias: bool = True,
    w_init: Callable = glorot_uniform(),
    b_init: Callable = zeros,
    dtype=None,
    param_dtype=None,
    precision=None,
    name: str = "conv_transpose1d",
) -> Layer:
    """Transposed 1-D convolution over x (B, W, C), ``torch.nn.ConvTranspose1d``'s.

    The gradient of ``conv1d`` with respect to its input: each input position adds
    its value times the kernel to the output, positions s apart. Output width
    (W - 1) * s - p_lo - p_hi + d * (K - 1) + output_padding + 1, so that with the same
    kernel, stride and padding it undoes ``conv1d``'s shape.

    Args:
      filters: F, the output channels.
      kernel_size: K, an int or a 1-tuple.
      strides: s, the upsampling factor.
      padding: ``"valid"`` (0), an int p or a (low, high) pair: cropped from the full
        output, at most d * (K - 1) on each side.
      output_padding: added at the high end, smaller than s or d (PyTorch's rule): it
        picks one of the input widths that a stride-s ``conv1d`` maps to W.
      dilation: as for ``conv1d``.
      groups: as for ``conv1d``; ``w`` is (K, C / G, F). PyTorch's weight (C, F / G, K)
        is ``w`` with its axes reordered, per group.
      activation: as for ``conv1d``.
      use_bias: as for ``conv1d``.
      w_init: as for ``conv1d``.
      b_init: as for ``conv1d``.
      dtype: as for ``conv1d``.
      param_dtype: as for ``conv1d``.
      precision: as for ``conv1d``.

    Returns:
      A Layer mapping (B, W, C) to (B, W', F). Params: ``w`` (K, C / G, F), ``b`` (F,).
    """
    return _conv(
        1, filters, kernel_size, strides, padding, dilation, activation, use_bias, w_init,
        b_init, precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision),
        "reference", name, groups, output_padding,
    )  # fmt: skip


def conv_transpose2d(
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding=0,
    output_padding=0,
    dilation=1,
    groups: int = 1,
    activation: Callable | None = None,
    use_bias: bool = True,
    w_init: Callable = glorot_uniform(),
    b_init: Callable = zeros,
    dtype=None,
    param_dtype=None,
    precision=None,
    name: str = "conv_transpose2d",
) -> Layer:
    """Transposed 2-D convolution over images x (B, h, w, C), ``torch.nn.ConvTranspose2d``'s.

    Per spatial axis as ``conv_transpose1d``: output size
    (n - 1) * s - p_lo - p_hi + d * (k - 1) + output_padding + 1. Arguments as there,
    each an int or a pair; ``w`` is (k_h, k_w, C / G, F).

    Returns:
      A Layer mapping (B, h, w, C) to (B, h', w', F). Params: ``w``, ``b`` (F,).
    """
    return _conv(
        2, filters, kernel_size, strides, padding, dilation, activation, use_bias, w_init,
        b_init, precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision),
        "reference", name, groups, output_padding,
    )  # fmt: skip
