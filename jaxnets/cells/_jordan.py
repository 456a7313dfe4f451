"""Jordan network: the previous output, not the hidden state, is fed back."""

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import Cell, along_last_axis, precision_policy, projected_cell

from ._common import activation_fn, check_carry, init_weights, positive_int, project_input


def jordan(
    hidden_size: int,
    output_size: int | None = None,
    *,
    activation="tanh",
    output_activation="tanh",
    dtype=None,
    param_dtype=None,
    precision=None,
) -> Cell:
    """Jordan recurrent cell (Jordan, 1986).

      h = f(x w_x + y_prev w_h + b)
      y = g(h w_y + b_y)

    The carry is the previous output y_prev (zeros at the start). ``x w_x + b`` of all
    steps is one matmul outside the time loop.

    Args:
      hidden_size: H.
      output_size: O, the size of y and of the feedback; ``None``: H.
      activation: f; output_activation: g ("tanh" by default, which keeps the
        fed-back signal bounded).

    Returns:
      A Cell with carry y_prev (B, O) and output y (B, O). Params: ``w_x`` (D, H),
      ``w_h`` (O, H), ``b`` (H,), ``w_y`` (H, O), ``b_y`` (O,).
    """
    where = "jordan"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    output_size = hidden_size if output_size is None else output_size
    positive_int(where, "output_size", output_size)
    f = activation_fn(where, "activation", activation)
    g = activation_fn(where, "output_activation", output_activation)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_rnn, k_out = jax.random.split(key)
        params = init_weights(k_rnn, input_size, output_size, hidden_size, policy.draw)
        params["w_y"] = glorot_uniform()(k_out, (hidden_size, output_size), policy.draw)
        params["b_y"] = jnp.zeros((output_size,), policy.draw)
        return params

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, output_size), params["w_h"].dtype)

    def project(params, x):
        return project_input(f"{where}.step", params, x)

    def forward(params, y_prev, z):
        check_carry(f"{where}.step", "carry", y_prev, z, output_size)
        h = f(z + y_prev @ params["w_h"])
        y = g(h @ params["w_y"] + along_last_axis(params["b_y"], h.ndim))
        return y, y

    options = {"output_size": output_size, "activation": f, "output_activation": g}
    return projected_cell(
        init, initial_carry, project, forward, policy=policy, kind="jordan", options=options
    )
