"""The plain LSTM over a whole sequence, in blocks of time steps, with a hand-written
backward pass (``jax.custom_vjp``).

Why blocks: XLA:CPU gives each call one scratch buffer, and glibc serves a buffer over
32 MiB with fresh pages on every call; touching them cost ~25,000 page faults per
train step at B=32, T=200, H=256 (a third of its time). Projecting the inputs of
``BLOCK`` steps at a time, inside the loop, and computing the input and weight
gradients block by block in the backward loop, leaves no (T, B, 4H) projection or
gradient in memory: only the per-step values the backward pass needs (the gates and
c) and h.

Why by hand: autodiff of a ``lax.scan`` saves every intermediate of every step and
computes the recurrent weight gradient as T small matmuls. Here the forward saves the
four gate activations and c per step; the backward loop does multiply-adds and one
(B, H) x (H, H) matmul per gate and step, and each block's weight gradients are one
(H, BLOCK*B) x (BLOCK*B, H) matmul per gate. Gates are kept as separate arrays: slicing
one (B, 4H) array into gates inside the loop copies strided columns at every step.

With a valid-step mask (padded batches), a padded step keeps (h, c): its gradients
pass through unchanged and it adds nothing to the weight or input gradients.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import along_last_axis, gate_columns

from ._sequences import keep, previous, weight_gradient, zero_padded

# Steps per block. Measured at B=32 (two devices), T=200, H=256: 10 and 20 steps take
# the same time and 40 is slower (its scratch buffer passes 32 MiB again).
BLOCK = 10


def lstm(params, carry, xs, *, mask, reverse, unroll, options):
    """The LSTM (``jaxnets.cells.lstm`` without peepholes or projection) over time-major
    xs (T, *batch, D) from ``carry`` (an ``LSTMCarry``): ``(carry, hs)``.

    Measured with ``python benchmarks/kernels.py`` (2-core AMD EPYC, jax 0.10.2, float32;
    big = B 32, T 200, D 128, H 256; small = B 16, T 100, D 32, H 64; train step = gradient):
    against the reference scan, train step 1.37x faster at big (170 -> 124 ms), 1.53x
    with lengths (183 -> 120 ms), 1.32x at small (5.7 -> 4.3 ms); forward 1.43x (big)
    and 1.29x (small). Registered for CPU only: the blocks answer XLA:CPU's scratch
    buffer and glibc's 32 MiB threshold; no other backend was measured.
    """
    weights = {name: params[name] for name in ("w_x", "w_h", "b")}
    if reverse:
        # Time flipped, the reverse recurrence is the forward one.
        flip = None if mask is None else mask[::-1]
        (h, c), hs = _lstm_blocks(weights, tuple(carry), xs[::-1], flip, unroll)
        hs = hs[::-1]
    else:
        (h, c), hs = _lstm_blocks(weights, tuple(carry), xs, mask, unroll)
    if mask is not None:
        (hs,) = zero_padded(mask, (hs,))
    return type(carry)(h, c), hs


def lstm_supports(options):
    extras = [name for name in ("peephole", "proj_size", "layer_norm") if options.get(name)]
    if extras:
        return f"{' and '.join(extras)} change the equations its backward pass is written for"
    return None


def _split(params):
    """Per-gate (w_x, b, w_h) blocks: four arrays each."""
    return tuple(gate_columns(params[name], 4) for name in ("w_x", "b", "w_h"))


def _run_block(weights, carry, xs, mask, unroll, save):
    """One block of steps: its input projection (one matmul per gate), then the loop.
    Outputs per step: h, plus (c, gates) when ``save`` (for the backward pass)."""
    w_x, b, w_h = weights
    zs = tuple(xs @ u + along_last_axis(c, xs.ndim) for u, c in zip(w_x, b))

    def step(carry, inputs):
        z, valid = inputs
        h, c = carry
        a_i, a_f, a_g, a_o = (z_k + h @ w for z_k, w in zip(z, w_h))
        i, f, g, o = jax.nn.sigmoid(a_i), jax.nn.sigmoid(a_f), jnp.tanh(a_g), jax.nn.sigmoid(a_o)
        c_new = f * c + i * g
        h, c = keep(valid, o * jnp.tanh(c_new), h), keep(valid, c_new, c)
        return (h, c), (h, (c, (i, f, g, o))) if save else h

    return lax.scan(step, carry, (zs, mask), unroll=unroll)


def _blocks(a):
    """(T, ...) as full blocks (N, BLOCK, ...) and the remaining (T mod BLOCK, ...)."""
    if a is None:
        return None, None
    full = a.shape[0] // BLOCK * BLOCK
    return a[:full].reshape(-1, BLOCK, *a.shape[1:]), a[full:]


def _join(head, tail):
    head = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), head)
    if tail is None:
        return head
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), head, tail)


def _forward(params, carry, xs, mask, unroll, save):
    """Blocks in order: a lax.scan over the full ones, then the rest as one more."""
    weights = _split(params)
    head, rest = _blocks(xs)
    mask_head, mask_rest = _blocks(mask)

    def block(carry, inputs):
        return _run_block(weights, carry, *inputs, unroll, save)

    carry, out_head = lax.scan(block, carry, (head, mask_head))
    out_rest = None
    if rest.shape[0]:
        carry, out_rest = block(carry, (rest, mask_rest))
    return carry, out_head, out_rest


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _lstm_blocks(params, carry, xs, mask, unroll):
    carry, hs_head, hs_rest = _forward(params, carry, xs, mask, unroll, save=False)
    return carry, _join(hs_head, hs_rest)


def _lstm_fwd(params, carry, xs, mask, unroll):
    carry_out, head, rest = _forward(params, carry, xs, mask, unroll, save=True)
    hs = _join(head[0], None if rest is None else rest[0])
    return (carry_out, hs), (params, carry, xs, mask, head, rest)


def _first_of_each_block(first, head):
    """What each full block's first step read: ``first``, then each block's last value."""
    return jnp.concatenate([first[None], head[:-1, -1]])[: head.shape[0]]


def _lstm_bwd(unroll, residuals, cotangents):
    params, (h0, c0), xs, mask, head, rest = residuals
    (dh, dc), dhs = cotangents
    weights = _split(params)
    transposed = tuple(tuple(w.T for w in ws) for ws in (weights[0], weights[2]))
    grads = (dh, dc, *(jnp.zeros_like(params[name]) for name in ("w_x", "w_h", "b")))

    def block(grads, inputs):
        return _block_backward(transposed, unroll, grads, inputs)

    x_head, x_rest = _blocks(xs)
    dhs_head, dhs_rest = _blocks(dhs)
    mask_head, mask_rest = _blocks(mask)
    hs_head, (cs_head, gates_head) = head
    dx_rest = None
    if rest is not None:
        # The remaining block ran last, so it goes back first; it started from the
        # last full block's state, or from the initial one when there is none.
        h_first, c_first = (hs_head[-1, -1], cs_head[-1, -1]) if hs_head.shape[0] else (h0, c0)
        hs_rest, (cs_rest, gates_rest) = rest
        grads, dx_rest = block(
            grads, (x_rest, h_first, c_first, hs_rest, cs_rest, gates_rest, dhs_rest, mask_rest)
        )
    firsts = (_first_of_each_block(h0, hs_head), _first_of_each_block(c0, cs_head))
    inputs = (x_head, *firsts, hs_head, cs_head, gates_head, dhs_head, mask_head)
    (dh0, dc0, dw_x, dw_h, db), dx_head = lax.scan(block, grads, inputs, reverse=True)
    dparams = {"w_x": dw_x, "w_h": dw_h, "b": db}
    return dparams, (dh0, dc0), _join(dx_head, dx_rest), None


def _block_backward(transposed, unroll, grads, inputs):
    """One block back: the step loop from its last step to its first, then the block's
    input gradient and its share of the weight gradients as a few large matmuls."""
    w_x_t, w_h_t = transposed
    dh, dc, dw_x, dw_h, db = grads
    x, h_first, c_first, hs, cs, gates, dhs, mask = inputs
    h_before = previous(h_first, hs, reverse=False)
    c_before = previous(c_first, cs, reverse=False)

    def step(carry, inputs):
        dh_next, dc_next = carry
        dh_out, c, c_prev, (i, f, g, o), valid = inputs
        dh = dh_out + dh_next
        tc = jnp.tanh(c)
        dc = dc_next + dh * o * (1 - tc * tc)
        da = zero_padded(
            valid,
            (
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tc * o * (1 - o),
            ),
        )
        dh_prev = keep(valid, sum(d @ w for d, w in zip(da, w_h_t)), dh)
        return (dh_prev, keep(valid, dc * f, dc_next)), da

    inputs = (dhs, cs, c_before, gates, mask)
    (dh, dc), da = lax.scan(step, (dh, dc), inputs, reverse=True, unroll=unroll)
    dx = sum(d @ w for d, w in zip(da, w_x_t))
    dw_x = dw_x + weight_gradient(x, da)
    dw_h = dw_h + weight_gradient(h_before, da)
    db = db + jnp.concatenate([d.reshape(-1, d.shape[-1]).sum(axis=0) for d in da])
    return (dh, dc, dw_x, dw_h, db), dx


_lstm_blocks.defvjp(_lstm_fwd, _lstm_bwd)
