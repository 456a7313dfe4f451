"""Minimal gated unit: one forget gate, which also gates the candidate's recurrence."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, precision_policy, projected_cell

from ._common import check_carry, init_weights, positive_int, project_input


def mgu(hidden_size: int, *, dtype=None, param_dtype=None, precision=None) -> Cell:
    """Minimal gated unit (Zhou et al., 2016).

      f  = sigmoid(x w_x[:, :H] + h w_h[:, :H] + b[:H])
      h~ = tanh(x w_x[:, H:] + (f * h) w_h[:, H:] + b[H:])
      h' = (1 - f) * h + f * h~

    ``x w_x + b`` of all steps is one matmul outside the time loop.

    Returns:
      A Cell with carry h (B, H) and output h' (B, H). Params: ``w_x`` (D, 2H),
      ``w_h`` (H, 2H), ``b`` (2H,), gates in the order (f, h~).

    References:
      Zhou, Wu, Zhang, Zhou. Minimal gated unit for recurrent neural networks. 2016.
    """
    where = "mgu"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        return init_weights(key, input_size, hidden_size, 2 * hidden_size, policy.draw)

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_h"].dtype)

    def project(params, x):
        return project_input(f"{where}.step", params, x)

    def forward(params, h, z):
        check_carry(f"{where}.step", "carry", h, z, hidden_size)
        f_in, n_in = jnp.split(z, 2, axis=-1)
        w_f, w_n = jnp.split(params["w_h"], 2, axis=-1)
        f = jax.nn.sigmoid(f_in + h @ w_f)
        n = jnp.tanh(n_in + (f * h) @ w_n)
        h = (1 - f) * h + f * n
        return h, h, {"f": f}

    return projected_cell(
        init, initial_carry, project, forward, policy=policy, kind="mgu", gated=True
    )
