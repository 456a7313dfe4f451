"""Long short-term memory, with optional peepholes and output projection."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import Cell, along_last_axis, gate_columns, precision_policy, projected_cell

from ._common import check_carry, init_weights, positive_int, project_gates


class LSTMCarry(NamedTuple):
    """h (B, P or H): the output fed back; c (B, H): the memory cell."""

    h: jax.Array
    c: jax.Array


def lstm(
    hidden_size: int,
    *,
    forget_bias: float = 1.0,
    peephole: bool = False,
    proj_size: int | None = None,
    dtype=None,
    param_dtype=None,
    precision=None,
) -> Cell:
    """LSTM (Hochreiter & Schmidhuber, 1997), gates in PyTorch's order i, f, g, o.

      i  = sigmoid(x w_x[:, i] + h w_h[:, i] + b[i] + p_i * c)     (p_i * c: peephole only)
      f  = sigmoid(x w_x[:, f] + h w_h[:, f] + b[f] + p_f * c)     (p_f * c: peephole only)
      g  = tanh(x w_x[:, g] + h w_h[:, g] + b[g])
      c' = f * c + i * g
      o  = sigmoid(x w_x[:, o] + h w_h[:, o] + b[o] + p_o * c')    (p_o * c': peephole only)
      h' = o * tanh(c'), then h' = h' w_p with proj_size

    Without peepholes this is ``torch.nn.LSTM``'s cell, ``proj_size`` included.
    ``x w_x + b`` of all steps is one matmul outside the time loop. Without peepholes
    and projection, ``unroll`` runs it on CPU with the kernel ``lstm_blocks``
    (``jaxnets.kernels``): a hand-written backward pass over blocks of ten steps.

    Args:
      hidden_size: H, the size of c.
      forget_bias: initial value of b[f] (Jozefowicz et al. 2015 recommend 1); the
        equations add no constant, so PyTorch weights import unchanged.
      peephole: add the diagonal cell-to-gate weights p_i, p_f (reading c) and p_o
        (reading c') of Gers & Schmidhuber (2000).
      proj_size: P; h' is projected to P units, as in ``torch.nn.LSTM``.

    Returns:
      A Cell with carry ``LSTMCarry(h, c)``, h (B, P or H), c (B, H), and output h'.
      Params: ``w_x`` (D, 4H), ``w_h`` (P or H, 4H), ``b`` (4H,), ``w_p`` (H, P) with
      ``proj_size``, ``p_i``, ``p_f``, ``p_o`` (H,) with ``peephole``.
    """
    where = "lstm"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    if proj_size is not None:
        positive_int(where, "proj_size", proj_size)
    out_size = proj_size or hidden_size

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_rnn, k_proj = jax.random.split(key)
        params = init_weights(k_rnn, input_size, out_size, 4 * hidden_size, policy.draw)
        params["b"] = params["b"].at[hidden_size : 2 * hidden_size].set(forget_bias)
        if proj_size is not None:
            params["w_p"] = glorot_uniform()(k_proj, (hidden_size, proj_size), policy.draw)
        if peephole:
            for name in ("p_i", "p_f", "p_o"):
                params[name] = jnp.zeros((hidden_size,), policy.draw)
        return params

    def initial_carry(params, batch_shape):
        carry_dtype = params["w_h"].dtype
        return LSTMCarry(
            jnp.zeros((*batch_shape, out_size), carry_dtype),
            jnp.zeros((*batch_shape, hidden_size), carry_dtype),
        )

    def project(params, x):
        return project_gates(f"{where}.step", params, x, 4)

    def forward(params, carry, z):
        h, c = carry
        check_carry(f"{where}.step", "carry.h", h, z[0], out_size)
        check_carry(f"{where}.step", "carry.c", c, z[0], hidden_size)
        w_i, w_f, w_g, w_o = gate_columns(params["w_h"], 4)
        i, f, g, o = (z_k + h @ w_k for z_k, w_k in zip(z, (w_i, w_f, w_g, w_o)))
        if peephole:
            i = i + c * along_last_axis(params["p_i"], c.ndim)
            f = f + c * along_last_axis(params["p_f"], c.ndim)
        i, f = jax.nn.sigmoid(i), jax.nn.sigmoid(f)
        c = f * c + i * jnp.tanh(g)
        if peephole:
            o = o + c * along_last_axis(params["p_o"], c.ndim)
        o = jax.nn.sigmoid(o)
        h = o * jnp.tanh(c)
        if proj_size is not None:
            h = h @ params["w_p"]
        return LSTMCarry(h, c), h, {"i": i, "f": f, "o": o}

    options = {"peephole": peephole, "proj_size": proj_size}
    return projected_cell(
        init,
        initial_carry,
        project,
        forward,
        policy=policy,
        kind="lstm",
        options=options,
        gated=True,
    )
