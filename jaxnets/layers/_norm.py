"""Batch, layer and RMS normalization."""

import math

import jax.numpy as jnp
from jax import lax

from jaxnets.core import (
    Layer,
    along_last_axis,
    cast_floats,
    check_input_shape,
    check_shape,
    normalize,
    policy_layer,
    precision_policy,
)


def batch_norm(
    *,
    momentum: float = 0.9,
    eps: float = 1e-5,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype=None,
    param_dtype=None,
    name: str = "batch_norm",
) -> Layer:
    """Normalize each feature (the last axis) with batch or running statistics.

    In training (``train=True``), over every axis but the last (B for dense inputs;
    B, height, width for images):

      y = scale * (x - mean) / sqrt(var + eps) + bias      (var: biased, / n)
      running_mean = momentum * running_mean + (1 - momentum) * mean
      running_var  = momentum * running_var  + (1 - momentum) * var * n / (n - 1)

    The running variance takes the unbiased batch variance, as in the paper and in
    PyTorch. In evaluation the running statistics replace the batch ones and the
    state is returned unchanged.

    Args:
      momentum: decay of the running averages. PyTorch's ``momentum`` is
        ``1 - momentum`` here (its default 0.1 is this default 0.9).
      eps: added to the variance.
      use_scale: learn ``scale`` (C,).
      use_bias: learn ``bias`` (C,).
      dtype: the compute dtype; ``None`` (default): the params'. The batch statistics
        are computed in at least float32 whatever the compute dtype, as cuDNN does.
      param_dtype: the dtype of params and of the running statistics (default:
        ``dtype``, else float32).

    Returns:
      A Layer with params ``scale``, ``bias`` (C,) and state ``mean``, ``var`` (C,).
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{name}: `momentum` must be in [0, 1], got {momentum!r}.")
    if eps <= 0:
        raise ValueError(f"{name}: `eps` must be positive, got {eps!r}.")
    policy = precision_policy(name, dtype=dtype, param_dtype=param_dtype)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        if not shape:
            raise ValueError(f"{name}.init: `input_shape` must have a feature axis, got ().")
        features = shape[-1]
        params = {}
        if use_scale:
            params["scale"] = jnp.ones((features,), policy.param_dtype)
        if use_bias:
            params["bias"] = jnp.zeros((features,), policy.param_dtype)
        state = {
            "mean": jnp.zeros((features,), policy.param_dtype),
            "var": jnp.ones((features,), policy.param_dtype),
        }
        return shape, params, state

    def apply(params, state, x, *, key=None, train=False):
        check_shape(f"{name}.apply", "x", x, (..., state["mean"].shape[0]))
        dtype = policy.compute(params) if params else policy.dtype or state["mean"].dtype
        # Statistics in at least float32: a bfloat16 mean of many values drifts.
        stats = jnp.promote_types(dtype, jnp.float32)
        x = x.astype(stats)
        params = cast_floats(params, stats)
        if train:
            axes = tuple(range(x.ndim - 1))
            n = math.prod(x.shape[:-1])
            if n < 2:
                raise ValueError(
                    f"{name}.apply: training needs more than one value per feature, got "
                    f"`x` of shape {x.shape}."
                )
            mean = x.mean(axes)
            var = x.var(axes)
            new_state = {
                "mean": momentum * state["mean"] + (1 - momentum) * lax.stop_gradient(mean),
                "var": momentum * state["var"]
                + (1 - momentum) * lax.stop_gradient(var) * (n / (n - 1)),
            }
            new_state = cast_floats(new_state, state["mean"].dtype)
        else:
            mean, var, new_state = state["mean"], state["var"], state
            mean, var = mean.astype(stats), var.astype(stats)
        y = (x - along_last_axis(mean, x.ndim)) * along_last_axis(lax.rsqrt(var + eps), x.ndim)
        if use_scale:
            y = y * along_last_axis(params["scale"], x.ndim)
        if use_bias:
            y = y + along_last_axis(params["bias"], x.ndim)
        return y.astype(dtype), new_state

    return Layer(init, apply, name)


def layer_norm(
    *,
    num_axes: int = 1,
    eps: float = 1e-5,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype=None,
    param_dtype=None,
    name: str = "layer_norm",
) -> Layer:
    """Layer normalization (Ba et al., 2016): each example over its last ``num_axes`` axes.

      y = scale * (x - mean) / sqrt(var + eps) + bias     (mean, var over those axes)

    ``torch.nn.LayerNorm(x.shape[-num_axes:], eps)``: ``scale`` and ``bias`` have the
    normalized axes' shape, and the statistics are the same in training and evaluation
    (no state). Statistics in at least float32, whatever the compute dtype.

    Args:
      num_axes: how many trailing axes to normalize over (1: the features).
      eps: added to the variance.
      use_scale: learn ``scale`` (ones at init).
      use_bias: learn ``bias`` (zeros at init).
      dtype: the compute dtype; ``None`` (default): the params'.
      param_dtype: the params' dtype (default: ``dtype``, else float32).

    Returns:
      A Layer with params ``scale`` and ``bias`` of shape ``input_shape[-num_axes:]``.
    """
    return _trailing_norm(name, True, num_axes, eps, use_scale, use_bias, dtype, param_dtype)


def rms_norm(
    *,
    num_axes: int = 1,
    eps: float = 1e-6,
    use_scale: bool = True,
    dtype=None,
    param_dtype=None,
    name: str = "rms_norm",
) -> Layer:
    """RMS normalization (Zhang & Sennrich, 2019): layer normalization without the mean.

      y = scale * x / sqrt(mean(x^2) + eps)     (mean over the last ``num_axes`` axes)

    ``torch.nn.RMSNorm(x.shape[-num_axes:], eps)``, whose default ``eps`` depends on the
    dtype; this one is fixed (flax's 1e-6). Arguments as for ``layer_norm``.

    Returns:
      A Layer with params ``scale`` of shape ``input_shape[-num_axes:]``.
    """
    return _trailing_norm(name, False, num_axes, eps, use_scale, False, dtype, param_dtype)


def _trailing_norm(name, center, num_axes, eps, use_scale, use_bias, dtype, param_dtype):
    if isinstance(num_axes, bool) or not isinstance(num_axes, int) or num_axes < 1:
        raise ValueError(f"{name}: `num_axes` must be a positive int, got {num_axes!r}.")
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps > 0:
        raise ValueError(f"{name}: `eps` must be a positive number, got {eps!r}.")
    policy = precision_policy(name, dtype=dtype, param_dtype=param_dtype)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        if len(shape) < num_axes:
            raise ValueError(
                f"{name}.init: `input_shape` must have at least num_axes={num_axes} axes, "
                f"got {shape}."
            )
        normalized = shape[len(shape) - num_axes :]
        params = {}
        if use_scale:
            params["scale"] = jnp.ones(normalized, policy.param_dtype)
        if use_bias:
            params["bias"] = jnp.zeros(normalized, policy.param_dtype)
        return shape, params, {}

    def apply(params, state, x, *, key=None, train=False):
        if params:
            normalized = next(iter(params.values())).shape
            check_shape(f"{name}.apply", "x", x, (..., *normalized))
        elif x.ndim < num_axes:
            raise ValueError(
                f"{name}.apply: `x` must have at least num_axes={num_axes} axes, got "
                f"shape {x.shape}."
            )
        y = normalize(x, num_axes=num_axes, eps=eps, center=center)
        lead = (1,) * (x.ndim - num_axes)  # explicit broadcasting (rank promotion)
        if use_scale:
            y = y * params["scale"].reshape(lead + params["scale"].shape)
        if use_bias:
            y = y + params["bias"].reshape(lead + params["bias"].shape)
        return y, state

    return policy_layer(Layer(init, apply, name), policy)
