"""Recurrent layers in the layer contract: one direction, both directions, deep stacks."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, Layer, check_input_shape, output_shape
from jaxnets.kernels import check_impl

from ._readout import readout
from ._regularize import check_regularization, run_regularized

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


def _learned_init(cell, key, input_size, learn_initial_state):
    """The cell's params, or with ``learn_initial_state`` ``{"cell": ..., "initial_carry":
    ...}``, the initial carry of one sequence (zeros at init), learned with the rest."""
    params = cell.init(key, input_size)
    if not learn_initial_state:
        return params
    return {"cell": params, "initial_carry": cell.initial_carry(params, ())}


def _split_learned(params, carry, batch_shape, learn_initial_state):
    """(cell params, initial carry) from ``_learned_init``'s params: a given ``carry``
    wins over the learned one, which is broadcast over the batch."""
    if not learn_initial_state:
        return params, carry
    if carry is None:
        carry = jax.tree.map(
            lambda c: jnp.broadcast_to(c, (*batch_shape, *c.shape)), params["initial_carry"]
        )
    return params["cell"], carry


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
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    zoneout: float = 0.0,
    learn_initial_state: bool = False,
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

    Regularization, in training (``train=True``, with ``key``), for any cell:
    ``dropout`` drops input features and ``recurrent_dropout`` the fed-back state (a
    carry's ``h``, else every floating carry leaf) with one mask per sequence, the same
    units at every step (variational dropout, Gal & Ghahramani 2016); ``zoneout`` keeps
    each state unit's previous value with that chance at each step (Krueger et al.
    2016), and in evaluation blends the two by it. ``learn_initial_state``: the initial
    carry is a learned param (zeros at init) instead of zeros; params are then
    ``{"cell": ..., "initial_carry": ...}``. Regularized cells run the plain scan.
    """
    _check_cell(name, cell, impl)
    reg = check_regularization(
        name, dropout=dropout, recurrent_dropout=recurrent_dropout, zoneout=zoneout
    )

    def init(key, input_shape):
        shape = _sequence_shape(name, input_shape)
        params = _learned_init(cell, key, shape[-1], learn_initial_state)
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None, carry=None):
        params, carry = _split_learned(params, carry, x.shape[:-2], learn_initial_state)
        final, ys = run_regularized(
            name, cell, params, x, reg, key=key, train=train, carry=carry, lengths=lengths,
            reverse=reverse, unroll=unroll, remat=remat, impl=impl,
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
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    zoneout: float = 0.0,
    learn_initial_state: bool = False,
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

    Regularization as for ``recurrent``, each direction with its own masks.

    Returns:
      A Layer with params ``{"forward": ..., "backward": ...}``.
    """
    _check_cell(name, forward_cell, impl)
    reg = check_regularization(
        name, dropout=dropout, recurrent_dropout=recurrent_dropout, zoneout=zoneout
    )
    _check_cell(name, backward_cell, impl)
    if merge not in MERGES:
        raise ValueError(f"{name}: `merge` must be one of {sorted(MERGES)}, got {merge!r}.")

    def init(key, input_shape):
        shape = _sequence_shape(name, input_shape)
        k_fwd, k_bwd = jax.random.split(key)
        params = {
            "forward": _learned_init(forward_cell, k_fwd, shape[-1], learn_initial_state),
            "backward": _learned_init(backward_cell, k_bwd, shape[-1], learn_initial_state),
        }
        return output_shape(apply, params, {}, shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None, carry=None):
        carry_f, carry_b = (None, None) if carry is None else carry
        p_f, carry_f = _split_learned(params["forward"], carry_f, x.shape[:-2], learn_initial_state)
        p_b, carry_b = _split_learned(
            params["backward"], carry_b, x.shape[:-2], learn_initial_state
        )
        k_f, k_b = (None, None) if key is None else jax.random.split(key)
        final_f, ys_f = run_regularized(
            name, forward_cell, p_f, x, reg, key=k_f, train=train, carry=carry_f,
            lengths=lengths, unroll=unroll, remat=remat, impl=impl,
        )  # fmt: skip
        final_b, ys_b = run_regularized(
            name, backward_cell, p_b, x, reg, key=k_b, train=train, carry=carry_b,
            lengths=lengths, reverse=True, unroll=unroll, remat=remat, impl=impl,
        )  # fmt: skip
        if not return_sequences:
            ys_f, ys_b = readout(ys_f, lengths, how="last"), readout(ys_b, lengths, how="first")
        y = MERGES[merge](ys_f, ys_b)
        return ((y, (final_f, final_b)) if return_carry else y), state

    return Layer(init, apply, name)
