"""The plain LSTM through cuDNN on NVIDIA GPUs (``jax.experimental.rnn``)."""

import jax.numpy as jnp
from jax.experimental import rnn as jax_rnn


def cudnn_weights(params):
    """Our LSTM params as cuDNN's flat weight vector for one layer, one direction:
    W_ih (4H, D), W_hh (4H, H), b_ih (4H,), b_hh (4H,), gates i, f, g, o as ours.
    Our one bias is b_ih; b_hh is zero (the sum is what the equations read)."""
    b = params["b"]
    return jnp.concatenate([params["w_x"].T.ravel(), params["w_h"].T.ravel(), b, jnp.zeros_like(b)])


def lstm_cudnn(params, carry, xs, *, mask, reverse, unroll, options, call=jax_rnn.lstm):
    """The LSTM (``jaxnets.cells.lstm`` without peepholes or projection) over time-major
    xs (T, *batch, D) from ``carry`` (an ``LSTMCarry``) by one cuDNN call, forward and
    backward: ``(carry, hs)``.

    cuDNN takes the lengths of padded sequences itself (outputs past a sequence's end
    are zero, its final carry the last valid one). A length of 0 keeps the initial
    carry, as ``unroll`` does. It computes under the matmul precision in force:
    TF32 for float32 on Ampere and later unless ``jax_default_matmul_precision`` is
    ``"highest"``. ``call``: the cuDNN entry point, ``jax.experimental.rnn.lstm``, or
    a function of the same signature (the tests pass ``lstm_ref``'s, to check this
    wrapper on CPU).
    """
    num_steps, batch_shape = xs.shape[0], xs.shape[1:-1]
    hidden = params["w_h"].shape[0]
    x = xs.reshape(num_steps, -1, xs.shape[-1])
    if reverse:  # only without a mask: unroll reverses padded sequences itself
        x = x[::-1]
    rows = x.shape[1]
    if mask is None:
        lengths = jnp.full((rows,), num_steps, jnp.int32)
    else:
        lengths = mask.reshape(num_steps, rows).sum(0).astype(jnp.int32)
    h0 = carry.h.reshape(1, rows, hidden)
    c0 = carry.c.reshape(1, rows, hidden)
    ys, h, c = call(
        jnp.swapaxes(x, 0, 1), h0, c0, cudnn_weights(params), jnp.maximum(lengths, 1),
        input_size=x.shape[-1], hidden_size=hidden, num_layers=1, dropout=0.0,
        bidirectional=False,
    )  # fmt: skip
    empty = lengths == 0
    h = jnp.where(empty[:, None], h0[0], h[0])
    c = jnp.where(empty[:, None], c0[0], c[0])
    ys = jnp.where(empty[:, None, None], jnp.zeros_like(ys), ys)
    ys = jnp.swapaxes(ys, 0, 1)
    if reverse:
        ys = ys[::-1]
    new = carry._replace(h=h.reshape(*batch_shape, hidden), c=c.reshape(*batch_shape, hidden))
    return new, ys.reshape(num_steps, *batch_shape, hidden)


def reference_call(x, h_0, c_0, weights, seq_lengths, *, input_size, hidden_size,
                   num_layers, dropout, bidirectional):  # fmt: skip
    """``jax.experimental.rnn.lstm``'s signature over its pure-JAX ``lstm_ref``: the
    same weight layout and length semantics, runnable on any backend."""
    w_ih, w_hh, b_ih, b_hh = jax_rnn.unpack_lstm_weights(
        weights, input_size, hidden_size, num_layers, bidirectional
    )
    return jax_rnn.lstm_ref(
        x, h_0, c_0, w_ih, w_hh, b_ih, b_hh, seq_lengths,
        input_size, hidden_size, num_layers, dropout, bidirectional,
    )  # fmt: skip
