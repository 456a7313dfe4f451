"""Elman network: the plain recurrent cell."""

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import Cell, along_last_axis, precision_policy, projected_cell

from ._common import activation_fn, check_carry, init_weights, positive_int, project_input


def elman(
    hidden_size: int,
    *,
    activation="tanh",
    output_size: int | None = None,
    output_activation="identity",
    dtype=None,
    param_dtype=None,
    precision=None,
) -> Cell:
    """Elman recurrent cell (Elman, 1990), as ``torch.nn.RNN``'s cell.

      h = f(x w_x + h w_h + b)
      y = h, or g(h w_y + b_y) when ``output_size`` is given

    ``x w_x + b`` of all steps is one matmul outside the time loop
    (``project``); the loop runs only ``recur``. With a named activation, ``unroll``
    runs it on CPU with the kernel ``elman_fused`` (``jaxnets.kernels``): a
    hand-written backward pass, and the output layer as one matmul over all steps.

    Args:
      hidden_size: H.
      activation: f: "tanh", "relu", "sigmoid" or a callable.
      output_size: O for the optional output layer; ``None``: y = h.
      output_activation: g of the output layer.
      dtype: the compute dtype (default: the params'; ``jaxnets.core.precision_policy``).
      param_dtype: the params' dtype (default: ``dtype``, else float32).
      precision: the matmul precision (default: JAX's).

    Returns:
      A Cell with carry h (B, H) and output y (B, H or O). Params: ``w_x`` (D, H),
      ``w_h`` (H, H), ``b`` (H,), and ``w_y`` (H, O), ``b_y`` (O,) with an output layer.
    """
    where = "elman"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    f = activation_fn(where, "activation", activation)
    g = activation_fn(where, "output_activation", output_activation)
    if output_size is not None:
        positive_int(where, "output_size", output_size)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_rnn, k_out = jax.random.split(key)
        params = init_weights(k_rnn, input_size, hidden_size, hidden_size, policy.draw)
        if output_size is not None:
            params["w_y"] = glorot_uniform()(k_out, (hidden_size, output_size), policy.draw)
            params["b_y"] = jnp.zeros((output_size,), policy.draw)
        return params

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_h"].dtype)

    def project(params, x):
        return project_input(f"{where}.step", params, x)

    def forward(params, h, z):
        check_carry(f"{where}.step", "carry", h, z, hidden_size)
        h = f(z + h @ params["w_h"])
        if output_size is None:
            return h, h
        return h, g(h @ params["w_y"] + along_last_axis(params["b_y"], h.ndim))

    # A named activation is told by name (a kernel knows its derivative); a callable, as is.
    options = {"activation": activation, "output_size": output_size, "output_activation": g}
    return projected_cell(
        init, initial_carry, project, forward, policy=policy, kind="elman", options=options
    )
