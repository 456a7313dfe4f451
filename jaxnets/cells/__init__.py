"""Recurrent cells: ``Cell(init, initial_carry, step)`` with pure functions.

  init(key, input_size) -> params
  initial_carry(params, batch_shape) -> carry
  step(params, carry, x_t) -> (carry, y_t)

Run them over sequences with ``jaxnets.rnn.unroll``. The cells linear in their state
(``min_gru``, ``min_lstm``, ``lru``, ``diagonal_rnn``, or your own through
``linear_recurrence``) also run as a parallel scan: ``unroll(..., unroll="associative")``.

Tree cells (``recursive_cell``, ``tree_lstm``) are ``TreeCell``s: a node's carry from
its children's; ``jaxnets.rnn.recursive`` runs them over batches of trees.

``CELLS`` is the one registry of the built-in cells, name -> constructor
``f(hidden_size, **options) -> Cell``: the sweeps' ``cell:`` names, the cell test suite
and the benchmarks read it, so a new cell joins all of them with one line here.
"""

from ._clockwork import ClockworkCarry as ClockworkCarry
from ._clockwork import clockwork as clockwork
from ._conv_lstm import conv_lstm as conv_lstm
from ._elman import elman as elman
from ._gru import gru as gru
from ._hopfield import hopfield_energy as hopfield_energy
from ._hopfield import hopfield_recall as hopfield_recall
from ._hopfield import hopfield_store as hopfield_store
from ._jordan import jordan as jordan
from ._linear import LinearRecurrence as LinearRecurrence
from ._linear import linear_recurrence as linear_recurrence
from ._lru import diagonal_rnn as diagonal_rnn
from ._lru import eigenvalues as lru_eigenvalues
from ._lru import lru as lru
from ._lstm import LSTMCarry as LSTMCarry
from ._lstm import lstm as lstm
from ._mgu import mgu as mgu
from ._min_rnn import min_gru as min_gru
from ._min_rnn import min_lstm as min_lstm
from ._simple_gru import simple_gru as simple_gru
from ._tree import recursive_cell as recursive_cell
from ._tree import tree_lstm as tree_lstm

CELLS = {
    "elman": elman,
    "jordan": jordan,
    "simple_gru": simple_gru,
    "mgu": mgu,
    "gru": gru,
    "lstm": lstm,
    "clockwork": clockwork,
    "min_gru": min_gru,
    "min_lstm": min_lstm,
    "lru": lru,
    "diagonal_rnn": diagonal_rnn,
}

__all__ = [
    "CELLS",
    "ClockworkCarry",
    "LSTMCarry",
    "LinearRecurrence",
    "clockwork",
    "conv_lstm",
    "diagonal_rnn",
    "elman",
    "gru",
    "hopfield_energy",
    "hopfield_recall",
    "hopfield_store",
    "jordan",
    "linear_recurrence",
    "lru",
    "lru_eigenvalues",
    "lstm",
    "mgu",
    "min_gru",
    "min_lstm",
    "recursive_cell",
    "simple_gru",
    "tree_lstm",
]
