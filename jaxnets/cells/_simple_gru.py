"""The simplified GRU of the textbook: an update gate and no reset gate."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, precision_policy, projected_cell

from ._common import check_carry, init_weights, positive_int, project_input


def simple_gru(hidden_size: int, *, dtype=None, param_dtype=None, precision=None) -> Cell:
    """Simplified GRU (the textbook's, after Cho et al. 2014), one update gate u.

      u  = sigmoid(x w_x[:, :H] + c w_h[:, :H] + b[:H])
      c~ = tanh(x w_x[:, H:] + c w_h[:, H:] + b[H:])
      c' = u * c~ + (1 - u) * c

    i.e. W_u [c, x] + b_u and W_c [c, x] + b_c with the weight matrices split into
    their c and x columns. ``x w_x + b`` of all steps is one matmul outside the loop.

    Returns:
      A Cell with carry c (B, H) and output c' (B, H). Params: ``w_x`` (D, 2H),
      ``w_h`` (H, 2H), ``b`` (2H,), gates in the order (u, c~).
    """
    where = "simple_gru"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        return init_weights(key, input_size, hidden_size, 2 * hidden_size, policy.draw)

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_h"].dtype)

    def project(params, x):
        return project_input(f"{where}.step", params, x)

    def forward(params, c, z):
        check_carry(f"{where}.step", "carry", c, z, hidden_size)
        u_in, n_in = jnp.split(z + c @ params["w_h"], 2, axis=-1)
        u = jax.nn.sigmoid(u_in)
        c = u * jnp.tanh(n_in) + (1 - u) * c
        return c, c, {"u": u}

    return projected_cell(
        init, initial_carry, project, forward, policy=policy, kind="simple_gru", gated=True
    )
