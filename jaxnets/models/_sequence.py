"""Sequence models over any cell: many-to-one and many-to-many."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, Layer, check_input_shape, output_shape
from jaxnets.layers import dense
from jaxnets.rnn import READOUTS, recurrent, step_mask
from jaxnets.rnn import readout as read_out


def sequence_layer(where: str, rnn) -> Layer:
    """A Cell run by ``recurrent``, or a sequence Layer (bidirectional, stacked_rnn) as is."""
    if isinstance(rnn, Cell):
        return recurrent(rnn)
    if isinstance(rnn, Layer):
        return rnn
    raise TypeError(f"{where}: `rnn` must be a Cell or a sequence Layer, got {rnn!r}.")


def _run(layer, params, x, lengths, key, train, carry=None):
    extra = {} if lengths is None else {"lengths": lengths}
    if carry is not None:
        extra["carry"] = carry
    y, _ = layer.apply(params, {}, x, key=key, train=train, **extra)
    return y


def many_to_one(
    rnn,
    output_size: int,
    *,
    readout: str = "last",
    output_activation=None,
    name: str = "many_to_one",
) -> Layer:
    """Sequence to one vector: an RNN, a readout over the valid steps, a dense head.

      hs = rnn(x)                       (B, T, H)
      v  = readout(hs, lengths, how)    (B, H): the last valid step, or mean / max
      y  = g(v w + b)                   (B, O)

    A sequence Layer that already returns one vector per sequence (for example
    ``bidirectional(..., return_sequences=False)``, which pairs the forward RNN's
    last output with the backward RNN's first) skips the readout.

    Args:
      rnn: a Cell (run forward by ``jaxnets.rnn.recurrent``) or a sequence Layer
        such as ``stacked_rnn`` or ``bidirectional``.
      output_size: O (classes for a classifier, whose outputs are logits).
      readout: ``"last"``, ``"mean"`` or ``"max"`` over each sequence's valid steps.
      output_activation: g; ``None`` for logits or a linear regression.

    Returns:
      A Layer mapping x (B, T, D) to (B, O); ``apply`` also takes ``lengths`` (B,).
      Params: ``{"rnn": ..., "head": {"w", "b"}}``.
    """
    layer = sequence_layer(name, rnn)
    if readout not in READOUTS:
        raise ValueError(f"{name}: `readout` must be one of {READOUTS}, got {readout!r}.")
    head = dense(output_size, activation=output_activation, name=f"{name}.head")

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape, rank=2)  # (T, D)
        k_rnn, k_head = jax.random.split(key)
        rnn_shape, rnn_params, _ = layer.init(k_rnn, shape)
        _, head_params, _ = head.init(k_head, rnn_shape[-1:])
        params = {"rnn": rnn_params, "head": head_params}
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None):
        hs = _run(layer, params["rnn"], x, lengths, key, train)
        if hs.ndim == x.ndim:  # one output per step: reduce over time
            hs = read_out(hs, lengths, how=readout)
        y, _ = head.apply(params["head"], {}, hs)
        return y, state

    return Layer(init, apply, name)


def many_to_many(
    rnn, output_size: int, *, output_activation=None, name: str = "many_to_many"
) -> Layer:
    """One output per input step (T_y = T_x): an RNN and a dense head at every step.

      hs  = rnn(x)              (B, T, H)
      y_t = g(hs_t w + b)       (B, T, O), zero past each sequence's length

    Args:
      rnn: a Cell or a sequence Layer (``bidirectional``, ``stacked_rnn``) that
        returns one output per step.
      output_size: O.
      output_activation: g; ``None`` for logits.

    ``apply(params, state, x, *, key=None, train=False, lengths=None, carry=None,
    return_carry=False)``: ``carry`` continues from a previous chunk and
    ``return_carry=True`` returns ``(y, final_carry)``, which is what truncated BPTT
    (``fit(..., tbptt=k)``) needs; the RNN must then be a Cell, or a sequence Layer
    built with ``return_carry=True``.

    Returns:
      A Layer mapping x (B, T, D) to (B, T, O); ``apply`` also takes ``lengths``.
      Params: ``{"rnn": ..., "head": {"w", "b"}}``.
    """
    # A Cell runs with its carry returned, for truncated BPTT; a sequence Layer returns
    # one when it was built with return_carry=True.
    layer = (
        recurrent(rnn, return_carry=True) if isinstance(rnn, Cell) else sequence_layer(name, rnn)
    )
    head = dense(output_size, activation=output_activation, name=f"{name}.head")

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape, rank=2)  # (T, D)
        k_rnn, k_head = jax.random.split(key)
        rnn_shape, rnn_params, _ = layer.init(k_rnn, shape)
        if isinstance(rnn_shape[0], tuple):  # (outputs, carry)
            rnn_shape = rnn_shape[0]
        if len(rnn_shape) != 2:
            raise ValueError(
                f"{name}.init: `rnn` must return one output per step, (T, H), got {rnn_shape}."
            )
        _, head_params, _ = head.init(k_head, rnn_shape[-1:])
        params = {"rnn": rnn_params, "head": head_params}
        return output_shape(apply, params, {}, shape), params, {}

    def apply(
        params, state, x, *, key=None, train=False, lengths=None, carry=None, return_carry=False
    ):
        out = _run(layer, params["rnn"], x, lengths, key, train, carry)
        hs, final = out if isinstance(out, tuple) else (out, None)
        if return_carry and final is None:
            raise ValueError(
                f"{name}.apply: `return_carry` needs an rnn that returns its carry: a Cell, "
                "or a sequence Layer built with return_carry=True."
            )
        y, _ = head.apply(params["head"], {}, hs)
        if lengths is not None:
            valid = step_mask(lengths, x.shape[-2])
            y = jnp.where(valid[..., None], y, 0)
        return ((y, final) if return_carry else y), state

    return Layer(init, apply, name)
