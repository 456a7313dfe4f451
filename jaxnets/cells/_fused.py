"""GRU and Elman over a whole sequence with hand-written backward passes
(``jax.custom_vjp``); the LSTM's, which also runs in blocks of steps, is in
``_lstm_sequence``.

Autodiff of a ``lax.scan`` saves every intermediate of every step and, in the backward
loop, computes the recurrent weight gradient as T small matmuls. Here the forward loop
saves only the gate activations (and h), the backward loop does multiply-adds and one
(B, H) x (H, H) matmul per gate and step, and the weight gradient is one
(H, T*B) x (T*B, H) matmul per gate over all steps. Inputs are the
per-gate projected inputs of every step (``cell.project``), time-major (T, B, H) each;
the projection's own gradient is left to autodiff, where it already is one large
matmul per gate.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from ._common import ACTIVATIONS, gate_columns


def previous(first, states, reverse):
    """The state each step read: ``first`` at the first processed step, then the one
    written by the step processed before (t - 1, or t + 1 when running in reverse)."""
    if reverse:
        return jnp.concatenate([states[1:], first[None]], axis=0)
    return jnp.concatenate([first[None], states[:-1]], axis=0)


def _over_all_steps(h_prev, dz):
    """sum_t h_prev[t]^T dz[t]: a weight gradient as one matmul over all steps and
    batch rows, instead of T small ones."""
    return h_prev.reshape(-1, h_prev.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])


def weight_gradient(h_prev, dzs):
    """The (H, G*H) weight gradient of G gates: one matmul over all steps per gate."""
    return jnp.concatenate([_over_all_steps(h_prev, dz) for dz in dzs], axis=-1)


def _sigmoid(v):
    return jax.nn.sigmoid(v)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def gru_sequence(w_h, b_hn, h0, zs, reverse, unroll):
    """GRU (reset after) recurrence over zs = (z_r, z_z, z_n), each (T, B, H): ``(h_T, hs)``."""
    h, hs, _ = _gru_forward(w_h, b_hn, h0, zs, reverse, unroll)
    return h, hs


def gru_step(ws, b_hn, h, z):
    """One step on per-gate inputs z and weights ws: ``(h, (r, u, n, hn))``."""
    x_r, x_z, x_n = z
    w_r, w_z, w_n = ws
    r = _sigmoid(x_r + h @ w_r)
    u = _sigmoid(x_z + h @ w_z)
    hn = h @ w_n + b_hn.reshape((1,) * (h.ndim - 1) + (-1,))
    n = jnp.tanh(x_n + r * hn)
    return (1 - u) * n + u * h, (r, u, n, hn)


def _gru_forward(w_h, b_hn, h0, zs, reverse, unroll):
    ws = gate_columns(w_h, 3)

    def step(h, z):
        h, saved = gru_step(ws, b_hn, h, z)
        return h, (h, saved)

    h, (hs, saved) = lax.scan(step, h0, zs, reverse=reverse, unroll=unroll)
    return h, hs, saved


def _gru_fwd(w_h, b_hn, h0, zs, reverse, unroll):
    h, hs, saved = _gru_forward(w_h, b_hn, h0, zs, reverse, unroll)
    return (h, hs), (w_h, h0, hs, saved)


def _gru_bwd(reverse, unroll, saved_values, cotangents):
    w_h, h0, hs, saved = saved_values
    dh_last, dhs = cotangents
    h_prev = previous(h0, hs, reverse)
    w_r, w_z, w_n = (w.T for w in gate_columns(w_h, 3))

    def step(dh_next, inputs):
        dh_out, h_before, (r, u, n, hn) = inputs
        dh = dh_out + dh_next
        dn = dh * (1 - u) * (1 - n * n)  # of n's pre-activation
        da_r = dn * hn * r * (1 - r)
        da_z = dh * (h_before - n) * u * (1 - u)
        dhn = dn * r  # of h w_n + b_hn
        dh_prev = dh * u + da_r @ w_r + da_z @ w_z + dhn @ w_n
        return dh_prev, (da_r, da_z, dn, dhn)

    dh0, (da_r, da_z, dn, dhn) = lax.scan(
        step, dh_last, (dhs, h_prev, saved), reverse=not reverse, unroll=unroll
    )
    dw_h = weight_gradient(h_prev, (da_r, da_z, dhn))
    db_hn = dhn.reshape(-1, dhn.shape[-1]).sum(axis=0)
    return dw_h, db_hn, dh0, (da_r, da_z, dn)


gru_sequence.defvjp(_gru_fwd, _gru_bwd)


# d activation / d pre-activation, written with the activation's output a.
ELMAN_DERIVATIVES = {
    "tanh": lambda a: 1 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
    "sigmoid": lambda a: a * (1 - a),
}


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def elman_sequence(w_h, h0, zs, activation, reverse, unroll):
    """Elman recurrence h = f(z_t + h w_h) over zs (T, B, H), f one of
    ``ELMAN_DERIVATIVES``: ``(h_T, hs)``."""
    return _elman_forward(w_h, h0, zs, activation, reverse, unroll)


def _elman_forward(w_h, h0, zs, activation, reverse, unroll):
    f = ACTIVATIONS[activation]

    def step(h, z):
        h = f(z + h @ w_h)
        return h, h

    return lax.scan(step, h0, zs, reverse=reverse, unroll=unroll)


def _elman_fwd(w_h, h0, zs, activation, reverse, unroll):
    h, hs = _elman_forward(w_h, h0, zs, activation, reverse, unroll)
    return (h, hs), (w_h, h0, hs)


def _elman_bwd(activation, reverse, unroll, saved, cotangents):
    w_h, h0, hs = saved
    dh_last, dhs = cotangents
    derivative = ELMAN_DERIVATIVES[activation]
    w_t = w_h.T

    def step(dh_next, inputs):
        dh_out, h = inputs
        da = (dh_out + dh_next) * derivative(h)
        return da @ w_t, da

    dh0, dzs = lax.scan(step, dh_last, (dhs, hs), reverse=not reverse, unroll=unroll)
    return _over_all_steps(previous(h0, hs, reverse), dzs), dh0, dzs


elman_sequence.defvjp(_elman_fwd, _elman_bwd)
