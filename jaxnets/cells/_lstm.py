"""Long short-term memory, with optional peepholes and output projection."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import Cell, along_last_axis, gate_columns, precision_policy, projected_cell

from ._common import (
    check_carry,
    init_weights,
    normalized_gates,
    positive_int,
    project_gates,
    scaled_norm,
)


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
    layer_norm: bool = False,
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

    With ``layer_norm`` (Ba et al. 2016), the layer-normalized LSTM: the gates' input and
    recurrent pre-activations are each normalized over all 4H gates together, and c'
    before its tanh (LN(v): (v - mean) / sqrt(var + 1e-5) over the last axis):

      [i f g o] = LN(x w_x) * ln_x_scale + LN(h w_h) * ln_h_scale + b
      h' = o * tanh(LN(c') * ln_c_scale + ln_c_bias)

    (the two gate normalizations' biases would only add to ``b``, so ``b`` is theirs).

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
      layer_norm: the layer-normalized LSTM above; composes with ``peephole`` and
        ``proj_size``. It runs the plain scan (no kernel has its equations).

    Returns:
      A Cell with carry ``LSTMCarry(h, c)``, h (B, P or H), c (B, H), and output h'.
      Params: ``w_x`` (D, 4H), ``w_h`` (P or H, 4H), ``b`` (4H,), ``w_p`` (H, P) with
      ``proj_size``, ``p_i``, ``p_f``, ``p_o`` (H,) with ``peephole``; with
      ``layer_norm``, ``ln_x_scale``, ``ln_h_scale`` (4H,) and ``ln_c_scale``,
      ``ln_c_bias`` (H,), ones and zeros at init.
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
        if layer_norm:
            params["ln_x_scale"] = jnp.ones((4 * hidden_size,), policy.draw)
            params["ln_h_scale"] = jnp.ones((4 * hidden_size,), policy.draw)
            params["ln_c_scale"] = jnp.ones((hidden_size,), policy.draw)
            params["ln_c_bias"] = jnp.zeros((hidden_size,), policy.draw)
        return params

    def initial_carry(params, batch_shape):
        carry_dtype = params["w_h"].dtype
        return LSTMCarry(
            jnp.zeros((*batch_shape, out_size), carry_dtype),
            jnp.zeros((*batch_shape, hidden_size), carry_dtype),
        )

    def project(params, x):
        if layer_norm:
            return normalized_gates(f"{where}.step", params, x, 4)
        return project_gates(f"{where}.step", params, x, 4)

    def forward(params, carry, z):
        h, c = carry
        check_carry(f"{where}.step", "carry.h", h, z[0], out_size)
        check_carry(f"{where}.step", "carry.c", c, z[0], hidden_size)
        if layer_norm:
            recurrent = gate_columns(scaled_norm(h @ params["w_h"], params["ln_h_scale"]), 4)
        else:
            recurrent = (h @ w_k for w_k in gate_columns(params["w_h"], 4))
        i, f, g, o = (z_k + r_k for z_k, r_k in zip(z, recurrent))
        if peephole:
            i = i + c * along_last_axis(params["p_i"], c.ndim)
            f = f + c * along_last_axis(params["p_f"], c.ndim)
        i, f = jax.nn.sigmoid(i), jax.nn.sigmoid(f)
        c = f * c + i * jnp.tanh(g)
        if peephole:
            o = o + c * along_last_axis(params["p_o"], c.ndim)
        o = jax.nn.sigmoid(o)
        h = o * jnp.tanh(
            scaled_norm(c, params["ln_c_scale"], params["ln_c_bias"]) if layer_norm else c
        )
        if proj_size is not None:
            h = h @ params["w_p"]
        return LSTMCarry(h, c), h, {"i": i, "f": f, "o": o}

    options = {"peephole": peephole, "proj_size": proj_size, "layer_norm": layer_norm}
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
