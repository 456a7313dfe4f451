"""Whole-sequence recurrences with hand-written backward passes (``jax.custom_vjp``).

Autodiff of a ``lax.scan`` saves every intermediate of every step and, in the backward
loop, computes the recurrent weight gradient as T small matmuls. Here the forward loop
saves only the gate activations and the cell state, the backward loop does
multiply-adds and one (B, G*H) x (G*H, H) matmul per step, and the weight gradient is
one (H, T*B) x (T*B, G*H) matmul over all steps. Inputs are the projected inputs z of
every step (``cell.project``), time-major (T, B, G*H); the projection's own gradient is
left to autodiff, where it already is one large matmul.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax


def _previous(first, states, reverse):
    """The state each step read: ``first`` at the first processed step, then the one
    written by the step processed before (t - 1, or t + 1 when running in reverse)."""
    if reverse:
        return jnp.concatenate([states[1:], first[None]], axis=0)
    return jnp.concatenate([first[None], states[:-1]], axis=0)


def _over_all_steps(h_prev, dz):
    """sum_t h_prev[t]^T dz[t]: the recurrent weight gradient as one matmul over all
    steps and batch rows, instead of T small ones."""
    return h_prev.reshape(-1, h_prev.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def lstm_sequence(w_h, h0, c0, z, reverse, unroll):
    """LSTM recurrence over z (T, B, 4H), gates i f g o: ``((h_T, c_T), hs (T, B, H))``."""
    (h, c), hs, _ = _lstm_forward(w_h, h0, c0, z, reverse, unroll)
    return (h, c), hs


def _lstm_forward(w_h, h0, c0, z, reverse, unroll):
    def step(carry, z_t):
        h, c = carry
        i, f, g, o = jnp.split(z_t + h @ w_h, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return (h, c), (h, c, jnp.concatenate([i, f, g, o], axis=-1))

    carry, (hs, cs, gates) = lax.scan(step, (h0, c0), z, reverse=reverse, unroll=unroll)
    return carry, hs, (cs, gates)


def _lstm_fwd(w_h, h0, c0, z, reverse, unroll):
    carry, hs, (cs, gates) = _lstm_forward(w_h, h0, c0, z, reverse, unroll)
    return (carry, hs), (w_h, h0, c0, hs, cs, gates)


def _lstm_bwd(reverse, unroll, saved, cotangents):
    w_h, h0, c0, hs, cs, gates = saved
    (dh_last, dc_last), dhs = cotangents
    h_prev, c_prev = _previous(h0, hs, reverse), _previous(c0, cs, reverse)
    w_t = w_h.T

    def step(carry, inputs):
        dh_next, dc_next = carry
        dh_out, c, c_before, gate = inputs
        i, f, g, o = jnp.split(gate, 4, axis=-1)
        dh = dh_out + dh_next
        tc = jnp.tanh(c)
        dc = dc_next + dh * o * (1 - tc * tc)
        da = jnp.concatenate(
            [dc * g * i * (1 - i), dc * c_before * f * (1 - f), dc * i * (1 - g * g),
             dh * tc * o * (1 - o)],
            axis=-1,
        )  # fmt: skip
        return (da @ w_t, dc * f), da

    # From the last processed step back to the first.
    (dh0, dc0), dz = lax.scan(
        step, (dh_last, dc_last), (dhs, cs, c_prev, gates), reverse=not reverse, unroll=unroll
    )
    dw_h = _over_all_steps(h_prev, dz)
    return dw_h, dh0, dc0, dz


lstm_sequence.defvjp(_lstm_fwd, _lstm_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def gru_sequence(w_h, b_hn, h0, z, reverse, unroll):
    """GRU (reset after) recurrence over z (T, B, 3H), gates r z n: ``(h_T, hs)``."""
    h, hs, _ = _gru_forward(w_h, b_hn, h0, z, reverse, unroll)
    return h, hs


def _gru_forward(w_h, b_hn, h0, z, reverse, unroll):
    def step(h, z_t):
        x_r, x_z, x_n = jnp.split(z_t, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(h @ w_h, 3, axis=-1)
        r = jax.nn.sigmoid(x_r + h_r)
        u = jax.nn.sigmoid(x_z + h_z)
        hn = h_n + b_hn.reshape((1,) * (h.ndim - 1) + (-1,))
        n = jnp.tanh(x_n + r * hn)
        h = (1 - u) * n + u * h
        return h, (h, jnp.concatenate([r, u, n, hn], axis=-1))

    h, (hs, saved) = lax.scan(step, h0, z, reverse=reverse, unroll=unroll)
    return h, hs, saved


def _gru_fwd(w_h, b_hn, h0, z, reverse, unroll):
    h, hs, saved = _gru_forward(w_h, b_hn, h0, z, reverse, unroll)
    return (h, hs), (w_h, h0, hs, saved)


def _gru_bwd(reverse, unroll, saved_values, cotangents):
    w_h, h0, hs, saved = saved_values
    dh_last, dhs = cotangents
    h_prev = _previous(h0, hs, reverse)
    w_t = w_h.T

    def step(dh_next, inputs):
        dh_out, h_before, values = inputs
        r, u, n, hn = jnp.split(values, 4, axis=-1)
        dh = dh_out + dh_next
        dn = dh * (1 - u) * (1 - n * n)  # gradient of n's pre-activation
        da_r = dn * hn * r * (1 - r)
        da_z = dh * (h_before - n) * u * (1 - u)
        dhn = dn * r
        dzh = jnp.concatenate([da_r, da_z, dhn], axis=-1)  # of h w_h (+ b_hn for n)
        return dh * u + dzh @ w_t, (dzh, jnp.concatenate([da_r, da_z, dn], axis=-1))

    dh0, (dzh, dz) = lax.scan(
        step, dh_last, (dhs, h_prev, saved), reverse=not reverse, unroll=unroll
    )
    dw_h = _over_all_steps(h_prev, dzh)
    db_hn = dzh[..., 2 * w_h.shape[0] :].reshape(-1, w_h.shape[0]).sum(axis=0)
    return dw_h, db_hn, dh0, dz


gru_sequence.defvjp(_gru_fwd, _gru_bwd)
