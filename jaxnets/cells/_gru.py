"""Gated recurrent unit, in PyTorch's (reset after) and Cho et al.'s (reset before) forms."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, along_last_axis, gate_columns, precision_policy, projected_cell

from ._common import (
    check_carry,
    init_weights,
    normalized_gates,
    positive_int,
    project_gates,
    scaled_norm,
)


def gru(
    hidden_size: int,
    *,
    reset_after: bool = True,
    layer_norm: bool = False,
    dtype=None,
    param_dtype=None,
    precision=None,
) -> Cell:
    """Gated recurrent unit (Cho et al., 2014), gates in PyTorch's order r, z, n.

      r  = sigmoid(x w_x[:, r] + h w_h[:, r] + b[r])
      z  = sigmoid(x w_x[:, z] + h w_h[:, z] + b[z])
      n  = tanh(x w_x[:, n] + b[n] + r * (h w_h[:, n] + b_hn))    reset_after=True
      n  = tanh(x w_x[:, n] + b[n] + (r * h) w_h[:, n])           reset_after=False
      h' = (1 - z) * n + z * h

    With ``layer_norm`` (Ba et al. 2016), the input pre-activations are normalized
    over all 3H gates together, the recurrent ones of r and z together and n's apart
    (with ``reset_after=False`` n's recurrent term depends on r):

      [x_r x_z x_n] = LN(x w_x) * ln_x_scale + b
      [h_r h_z]     = LN(h w_h[:, r z]) * ln_h_scale[r z]
      h_n           = LN(h w_h[:, n]) * ln_h_scale[n]    or  LN((r * h) w_h[:, n]) * ...
      r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * (h_n + b_hn))
      (reset_after) or tanh(x_n + h_n), h' as above.

    ``reset_after=True`` is the cuDNN / ``torch.nn.GRU`` form; its hidden-side bias
    of n, ``b_hn``, stays inside the reset product (the r and z hidden biases are
    folded into ``b``). ``reset_after=False`` is the original form. ``x w_x + b`` of
    all steps is one matmul outside the time loop; with ``reset_after``, ``unroll``
    runs it on CPU with the kernel ``gru_fused`` (``jaxnets.kernels``), a hand-written
    backward pass.

    Args:
      hidden_size: H.
      reset_after: PyTorch's form (True) or Cho et al.'s (False).
      layer_norm: the layer-normalized GRU above; it runs the plain scan.

    Returns:
      A Cell with carry h (B, H) and output h' (B, H). Params: ``w_x`` (D, 3H),
      ``w_h`` (H, 3H), ``b`` (3H,), ``b_hn`` (H,) when ``reset_after``, and
      ``ln_x_scale``, ``ln_h_scale`` (3H,) with ``layer_norm``.
    """
    where = "gru"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        params = init_weights(key, input_size, hidden_size, 3 * hidden_size, policy.draw)
        if reset_after:
            params["b_hn"] = jnp.zeros((hidden_size,), policy.draw)
        if layer_norm:
            params["ln_x_scale"] = jnp.ones((3 * hidden_size,), policy.draw)
            params["ln_h_scale"] = jnp.ones((3 * hidden_size,), policy.draw)
        return params

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_h"].dtype)

    def project(params, x):
        if layer_norm:
            return normalized_gates(f"{where}.step", params, x, 3)
        return project_gates(f"{where}.step", params, x, 3)

    def forward(params, h, z):
        check_carry(f"{where}.step", "carry", h, z[0], hidden_size)
        x_r, x_z, x_n = z
        w_r, w_z, w_n = gate_columns(params["w_h"], 3)
        if layer_norm:
            g_rz, g_n = jnp.split(params["ln_h_scale"], [2 * hidden_size])
            h_r, h_z = gate_columns(scaled_norm(h @ params["w_h"][:, : 2 * hidden_size], g_rz), 2)

            def recurrent_n(v):
                return scaled_norm(v @ w_n, g_n)
        else:
            h_r, h_z = h @ w_r, h @ w_z

            def recurrent_n(v):
                return v @ w_n

        r = jax.nn.sigmoid(x_r + h_r)
        u = jax.nn.sigmoid(x_z + h_z)
        if reset_after:
            n = jnp.tanh(x_n + r * (recurrent_n(h) + along_last_axis(params["b_hn"], h.ndim)))
        else:
            n = jnp.tanh(x_n + recurrent_n(r * h))
        h = (1 - u) * n + u * h
        return h, h, {"r": r, "z": u}

    options = {"reset_after": reset_after, "layer_norm": layer_norm}
    return projected_cell(
        init,
        initial_carry,
        project,
        forward,
        policy=policy,
        kind="gru",
        options=options,
        gated=True,
    )
