"""Recurrent layers in the layer contract: one direction, both directions, deep stacks."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, Layer, check_input_shape, output_shape
from jaxnets.kernels import check_impl

from ._readout import readout
from ._unroll import unroll as run

MERGES = {
    "concat": lambda a, b: jnp.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mean": lambda a, b: (a + b) / 2,
    "mul": lambda a, b: a * b,
}


def _check_cell(where, cell, impl):
    if not isinstance(cell, Cell):
        raise TypeError(f"{where}: expected a Cell, got {cell!r}.")
    check_impl(where, impl)


def _sequence_shape(where, input_shape):
    shape = check_input_shape(f"{where}.init", input_shape)
    if len(shape) != 2:
        raise ValueError(f"{where}.init: `input_shape` must be (T, D), got {shape}.")
    return shape


def recurrent(
    cell: Cell,
    *,
    return_sequences: bool = True,
    return_carry: bool = False,
    reverse: bool = False,
    unroll=1,
    remat=None,
    impl: str = "auto",
    name: str = "rnn",
) -> Layer:
    """A cell run over a sequence, as a Layer (Keras's ``RNN``).

    ``apply(params, state, x, *, key=None, train=False, lengths=None, carry=None)``
    maps x (B, T, D) to ys (B, T, O), or with ``return_sequences=False`` to the
    output of the final processed step (B, O): step length - 1, or step 0 when
    ``reverse``. ``return_carry=True`` returns ``(y, final_carry)``. ``lengths`` and
    ``carry``, like ``unroll``, ``remat`` and ``impl``, are passed to
    ``jaxnets.rnn.unroll``.
    Params are the cell's.
    """
    _check_cell(name, cell, impl)

    def init(key, input_shape):
        shape = _sequence_shape(name, input_shape)
        params = cell.init(key, shape[-1])
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None, carry=None):
        final, ys = run(
            cell, params, x, carry=carry, lengths=lengths, reverse=reverse, unroll=unroll,
            remat=remat, impl=impl,
        )  # fmt: skip
        if not return_sequences:
            ys = readout(ys, lengths, how="first" if reverse else "last")
        return ((ys, final) if return_carry else ys), state

    return Layer(init, apply, name)


def bidirectional(
    forward_cell: Cell,
    backward_cell: Cell,
    *,
    merge: str = "concat",
    return_sequences: bool = True,
    return_carry: bool = False,
    unroll=1,
    remat=None,
    impl: str = "auto",
    name: str = "bidirectional",
) -> Layer:
    """Two RNNs over the same sequence, one reversed, outputs merged per step.

    Step t's output merges the forward RNN's output after reading steps 0..t with
    the backward RNN's after reading steps t..L-1 (L: the sequence's length).
    ``return_sequences=False`` merges the forward output at step L - 1 with the
    backward output at step 0, the two final ones. ``return_carry=True`` returns
    ``(y, (forward_carry, backward_carry))``.

    Args:
      merge: ``"concat"`` (2O features), ``"sum"``, ``"mean"`` or ``"mul"``.
      unroll: passed to ``jaxnets.rnn.unroll``.
      remat: passed to ``jaxnets.rnn.unroll``.
      impl: passed to ``jaxnets.rnn.unroll``.

    Returns:
      A Layer with params ``{"forward": ..., "backward": ...}``.
    """
    _check_cell(name, forward_cell, impl)
    _check_cell(name, backward_cell, impl)
    if merge not in MERGES:
        raise ValueError(f"{name}: `merge` must be one of {sorted(MERGES)}, got {merge!r}.")

    def init(key, input_shape):
        shape = _sequence_shape(name, input_shape)
        k_fwd, k_bwd = jax.random.split(key)
        params = {
            "forward": forward_cell.init(k_fwd, shape[-1]),
            "backward": backward_cell.init(k_bwd, shape[-1]),
        }
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None, carry=None):
        carry_f, carry_b = (None, None) if carry is None else carry
        final_f, ys_f = run(
            forward_cell, params["forward"], x, carry=carry_f, lengths=lengths, unroll=unroll,
            remat=remat, impl=impl,
        )  # fmt: skip
        final_b, ys_b = run(
            backward_cell, params["backward"], x, carry=carry_b, lengths=lengths,
            reverse=True, unroll=unroll, remat=remat, impl=impl,
        )  # fmt: skip
        if not return_sequences:
            ys_f, ys_b = readout(ys_f, lengths, how="last"), readout(ys_b, lengths, how="first")
        y = MERGES[merge](ys_f, ys_b)
        return ((y, (final_f, final_b)) if return_carry else y), state

    return Layer(init, apply, name)
