"""GRU and Elman over a whole sequence with hand-written backward passes.

Autodiff of a ``lax.scan`` saves every intermediate of every step and, in the backward
loop, computes the recurrent weight gradient as T small matmuls. Here the forward loop
saves only the gate activations (and h), the backward loop does multiply-adds and one
(B, H) x (H, H) matmul per gate and step, and the weight gradient is one
(H, T*B) x (T*B, H) matmul per gate over all steps. The input projection of all steps
(one matmul per gate) and its gradient are left to autodiff, outside the loop.

With a valid-step mask (padded batches), a padded step keeps the carry: its gradient
passes through unchanged and it adds nothing to the weight or input gradients.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import along_last_axis, gate_columns, project_gates

from ._sequences import keep, over_all_steps, previous, weight_gradient, zero_padded


def outputs(hs, mask):
    """The outputs of a run whose carries are hs: zero at padded steps."""
    return hs if mask is None else zero_padded(mask, (hs,))[0]


def gru(params, carry, xs, *, mask, reverse, unroll, options):
    """The GRU (``jaxnets.cells.gru``, reset after) over time-major xs (T, *batch, D).

    Measured with ``python benchmarks/kernels.py`` (2-core AMD EPYC, jax 0.10.2, float32;
    big = B 32, T 200, D 128, H 256; small = B 16, T 100, D 32, H 64; train step = gradient):
    against the reference scan, train step 1.46x faster at big (145 -> 99 ms), 1.44x
    with lengths, 1.24x at small (3.8 -> 3.1 ms); forward 1.50x (big), 1.36x (small).
    Registered for CPU only: no other backend was measured.
    """
    zs = project_gates(params, xs, 3)
    h, hs = _gru_sequence(params["w_h"], params["b_hn"], carry, zs, mask, reverse, unroll)
    return h, outputs(hs, mask)


def gru_supports(options):
    if not options.get("reset_after", True):
        return "reset_after=False (Cho et al.'s form) has no hand-written backward pass"
    if options.get("layer_norm"):
        return "layer_norm changes the equations its backward pass is written for"
    return None


def _gru_step(ws, b_hn, h, z):
    """One step on per-gate inputs z and weights ws: ``(h, (r, u, n, hn))``."""
    x_r, x_z, x_n = z
    w_r, w_z, w_n = ws
    r = jax.nn.sigmoid(x_r + h @ w_r)
    u = jax.nn.sigmoid(x_z + h @ w_z)
    hn = h @ w_n + along_last_axis(b_hn, h.ndim)
    n = jnp.tanh(x_n + r * hn)
    return (1 - u) * n + u * h, (r, u, n, hn)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _gru_sequence(w_h, b_hn, h0, zs, mask, reverse, unroll):
    h, hs, _ = _gru_forward(w_h, b_hn, h0, zs, mask, reverse, unroll)
    return h, hs


def _gru_forward(w_h, b_hn, h0, zs, mask, reverse, unroll):
    ws = gate_columns(w_h, 3)

    def step(h, inputs):
        z, valid = inputs
        new, saved = _gru_step(ws, b_hn, h, z)
        h = keep(valid, new, h)
        return h, (h, saved)

    h, (hs, saved) = lax.scan(step, h0, (zs, mask), reverse=reverse, unroll=unroll)
    return h, hs, saved


def _gru_fwd(w_h, b_hn, h0, zs, mask, reverse, unroll):
    h, hs, saved = _gru_forward(w_h, b_hn, h0, zs, mask, reverse, unroll)
    return (h, hs), (w_h, h0, hs, saved, mask)


def _gru_bwd(reverse, unroll, residuals, cotangents):
    w_h, h0, hs, saved, mask = residuals
    dh_last, dhs = cotangents
    h_prev = previous(h0, hs, reverse)
    w_r, w_z, w_n = (w.T for w in gate_columns(w_h, 3))

    def step(dh_next, inputs):
        dh_out, h_before, (r, u, n, hn), valid = inputs
        dh = dh_out + dh_next
        dn = dh * (1 - u) * (1 - n * n)  # of n's pre-activation
        da_r = dn * hn * r * (1 - r)
        da_z = dh * (h_before - n) * u * (1 - u)
        dhn = dn * r  # of h w_n + b_hn
        da_r, da_z, dn, dhn = zero_padded(valid, (da_r, da_z, dn, dhn))
        dh_prev = keep(valid, dh * u + da_r @ w_r + da_z @ w_z + dhn @ w_n, dh)
        return dh_prev, (da_r, da_z, dn, dhn)

    dh0, (da_r, da_z, dn, dhn) = lax.scan(
        step, dh_last, (dhs, h_prev, saved, mask), reverse=not reverse, unroll=unroll
    )
    dw_h = weight_gradient(h_prev, (da_r, da_z, dhn))
    db_hn = dhn.reshape(-1, dhn.shape[-1]).sum(axis=0)
    return dw_h, db_hn, dh0, (da_r, da_z, dn), None


_gru_sequence.defvjp(_gru_fwd, _gru_bwd)


# Each activation and its derivative written with the activation's output a.
ELMAN_ACTIVATIONS = {
    "tanh": (jnp.tanh, lambda a: 1 - a * a),
    "relu": (jax.nn.relu, lambda a: (a > 0).astype(a.dtype)),
    "sigmoid": (jax.nn.sigmoid, lambda a: a * (1 - a)),
}


def elman(params, carry, xs, *, mask, reverse, unroll, options):
    """The Elman cell (``jaxnets.cells.elman``) over time-major xs (T, *batch, D).

    Measured with ``python benchmarks/kernels.py`` (2-core AMD EPYC, jax 0.10.2, float32;
    big = B 32, T 200, D 128, H 256; small = B 16, T 100, D 32, H 64; train step = gradient):
    against the reference scan, train step 1.86x faster at big (41.5 -> 22.3 ms), 2.43x
    with lengths, 1.46x at small (1.48 -> 1.01 ms); the forward pass alone is level
    (1.02x big, 0.83-0.94x small: there is little to gain without a backward pass).
    Registered for CPU only: no other backend was measured.
    """
    zs = xs @ params["w_x"] + along_last_axis(params["b"], xs.ndim)
    activation = options["activation"]
    h, hs = _elman_sequence(params["w_h"], carry, zs, mask, activation, reverse, unroll)
    if options.get("output_size") is not None:
        # The output layer reads no recurrence: one matmul over all steps.
        g = options["output_activation"]
        hs = g(hs @ params["w_y"] + along_last_axis(params["b_y"], hs.ndim))
    return h, outputs(hs, mask)


def elman_supports(options):
    if options.get("activation") not in ELMAN_ACTIVATIONS:
        return f"the activation {options.get('activation')!r} has no derivative written here"
    return None


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _elman_sequence(w_h, h0, zs, mask, activation, reverse, unroll):
    return _elman_forward(w_h, h0, zs, mask, activation, reverse, unroll)


def _elman_forward(w_h, h0, zs, mask, activation, reverse, unroll):
    f = ELMAN_ACTIVATIONS[activation][0]

    def step(h, inputs):
        z, valid = inputs
        h = keep(valid, f(z + h @ w_h), h)
        return h, h

    return lax.scan(step, h0, (zs, mask), reverse=reverse, unroll=unroll)


def _elman_fwd(w_h, h0, zs, mask, activation, reverse, unroll):
    h, hs = _elman_forward(w_h, h0, zs, mask, activation, reverse, unroll)
    return (h, hs), (w_h, h0, hs, mask)


def _elman_bwd(activation, reverse, unroll, residuals, cotangents):
    w_h, h0, hs, mask = residuals
    dh_last, dhs = cotangents
    derivative = ELMAN_ACTIVATIONS[activation][1]
    w_t = w_h.T

    def step(dh_next, inputs):
        dh_out, h, valid = inputs
        dh = dh_out + dh_next
        (da,) = zero_padded(valid, (dh * derivative(h),))
        return keep(valid, da @ w_t, dh), da

    dh0, dzs = lax.scan(step, dh_last, (dhs, hs, mask), reverse=not reverse, unroll=unroll)
    return over_all_steps(previous(h0, hs, reverse), dzs), dh0, dzs, None


_elman_sequence.defvjp(_elman_fwd, _elman_bwd)
