"""Dense (fully connected) layer: y = activation(x w + b)."""

from collections.abc import Callable

import jax
from jax.nn.initializers import glorot_uniform, zeros

from jaxnets.core import (
    Layer,
    along_last_axis,
    check_input_shape,
    check_shape,
    output_shape,
    policy_layer,
    precision_policy,
)


def dense(
    features: int,
    *,
    activation: Callable | None = None,
    use_bias: bool = True,
    w_init: Callable = glorot_uniform(),
    b_init: Callable = zeros,
    dtype=None,
    param_dtype=None,
    precision=None,
    name: str = "dense",
) -> Layer:
    """Fully connected layer, ``y = activation(x @ w + b)`` over the last axis.

    Args:
      features: O, the number of outputs.
      activation: an elementwise function such as ``jax.nn.relu``; ``None`` for linear.
      use_bias: add ``b``.
      w_init: a ``jax.nn.initializers`` function for ``w`` (D, O); Glorot uniform,
        as in Keras.
      b_init: initializer for ``b`` (O,); zeros.
      dtype: the compute dtype; ``None`` (default): the dtype of the params it is
        given. Params and floating inputs are cast to it (``jaxnets.core.precision_policy``).
      param_dtype: the params' dtype (default: ``dtype``, else float32); drawn in
        float32 and cast, so bfloat16 and float16 params initialize like float32 ones.
      precision: matmul precision while it computes (``None``: JAX's default).
      name: label in ``summary`` and error messages.

    Returns:
      A Layer mapping x (..., D) to y (..., O). Params: ``w`` (D, O), ``b`` (O,).
    """
    if not isinstance(features, int) or features <= 0:
        raise ValueError(f"{name}: `features` must be a positive int, got {features!r}.")
    policy = precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        if not shape:
            raise ValueError(f"{name}.init: `input_shape` must have at least one axis, got ().")
        k_w, k_b = jax.random.split(key)
        params = {"w": w_init(k_w, (shape[-1], features), policy.draw)}
        if use_bias:
            params["b"] = b_init(k_b, (features,), policy.draw)
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False):
        check_shape(f"{name}.apply", "x", x, (..., params["w"].shape[0]))
        y = x @ params["w"]
        if use_bias:
            y = y + along_last_axis(params["b"], y.ndim)
        return (y if activation is None else activation(y)), state

    return policy_layer(Layer(init, apply, name), policy)
