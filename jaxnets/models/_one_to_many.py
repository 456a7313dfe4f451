"""One-to-many: a sequence generated from one input (or none), outputs fed back."""

import jax
import jax.numpy as jnp
from jax import lax

from jaxnets.core import Cell, Layer, cell_output_size, check_input_shape, check_shape
from jaxnets.layers import dense
from jaxnets.rnn import unroll


def one_to_many(
    cell: Cell,
    output_size: int,
    length: int,
    *,
    feedback: bool = True,
    output_activation=None,
    name: str = "one_to_many",
) -> Layer:
    """Generate T = ``length`` outputs from one input x (B, D), or from none (D = 0).

    Step t reads u_t = [x if t == 0 else 0,  y_{t-1} (0 at t = 0),  1 if t == 0 else 0]:
    the input at the first step only, the previous output when ``feedback`` (as in
    music or text generation), and a start flag, so the network knows where the
    sequence begins even without an input:

      carry, h_t = cell.step(carry, u_t),   y_t = g(h_t w + b)

    In training, ``apply(..., targets=y)`` feeds the true previous outputs instead
    (teacher forcing): every input is then known in advance and the cell's input
    projection runs as one matmul over all steps. Without ``feedback`` the same
    holds always (the Clockwork RNN paper's generation task has no input at all).

    Args:
      cell: the recurrent cell.
      output_size: O.
      length: T, the number of generated steps.
      feedback: feed y_{t-1} back as part of the next input.
      output_activation: g; ``None`` for a linear output.

    Returns:
      A Layer mapping x (B, D) to y (B, T, O); ``init`` takes ``input_shape`` (D,),
      and ``(0,)`` for no input. ``apply`` also takes ``targets`` (B, T, O).
      Params: ``{"cell": ..., "head": {"w", "b"}}``.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"{name}: `cell` must be a Cell, got {cell!r}.")
    if not isinstance(length, int) or length <= 0:
        raise ValueError(f"{name}: `length` must be a positive int, got {length!r}.")
    head = dense(output_size, activation=output_activation, name=f"{name}.head")
    fed_back = output_size if feedback else 0

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape) if input_shape != (0,) else (0,)
        if len(shape) != 1:
            raise ValueError(f"{name}.init: `input_shape` must be (D,) or (0,), got {shape}.")
        k_cell, k_head = jax.random.split(key)
        cell_params = cell.init(k_cell, shape[0] + fed_back + 1)
        size = cell_output_size(cell, cell_params, shape[0] + fed_back + 1)
        _, head_params, _ = head.init(k_head, (size,))
        return (length, output_size), {"cell": cell_params, "head": head_params}, {}

    def inputs_from(x, previous):
        """u_t for all steps, given the (B, T, O) previous outputs (or None)."""
        batch = x.shape[0]
        first = (jnp.arange(length) == 0).astype(x.dtype)
        parts = [x[:, None, :] * first[None, :, None]]
        if feedback:
            parts.append(previous)
        parts.append(jnp.broadcast_to(first[None, :, None], (batch, length, 1)))
        return jnp.concatenate(parts, axis=-1)

    def apply(params, state, x, *, key=None, train=False, targets=None):
        check_shape(f"{name}.apply", "x", x, (None, None))
        batch = x.shape[0]
        if not feedback or targets is not None:
            previous = None
            if feedback:
                check_shape(f"{name}.apply", "targets", targets, (batch, length, output_size))
                previous = jnp.pad(targets[:, :-1], ((0, 0), (1, 0), (0, 0)))
            _, hs = unroll(cell, params["cell"], inputs_from(x, previous))
            y, _ = head.apply(params["head"], {}, hs)
            return y, state

        def body(loop, t):
            carry, y_prev = loop
            u = jnp.concatenate(
                [x * (t == 0), y_prev, jnp.full((batch, 1), t == 0, x.dtype)], axis=-1
            )
            carry, h = cell.step(params["cell"], carry, u)
            y, _ = head.apply(params["head"], {}, h)
            return (carry, y), y

        carry = cell.initial_carry(params["cell"], (batch,))
        y0 = jnp.zeros((batch, output_size), x.dtype)
        _, ys = lax.scan(body, (carry, y0), jnp.arange(length))
        return jnp.moveaxis(ys, 0, 1), state

    return Layer(init, apply, name)
