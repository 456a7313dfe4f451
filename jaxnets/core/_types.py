"""The two contracts every building block of jaxnets follows: Layer and Cell."""

from collections.abc import Callable
from typing import Any, NamedTuple


class Layer(NamedTuple):
    """A feed-forward layer: two pure functions and a name.

    ``init(key, input_shape) -> (output_shape, params, state)``
      ``input_shape`` excludes the batch axis. ``params`` (trained) and ``state``
      (not trained, e.g. batch-norm running statistics; ``{}`` when there is none)
      are dict pytrees of arrays.

    ``apply(params, state, x, *, key=None, train=False) -> (y, new_state)``
      ``x`` has the batch axes first, then ``input_shape``. ``key`` feeds
      stochastic layers (dropout) and is required only when they are active.

    ``name`` labels the layer in ``summary`` and in error messages.
    ``children`` lists ``(name, Layer)`` pairs of a combinator, for ``summary``.
    """

    init: Callable[..., Any]
    apply: Callable[..., Any]
    name: str
    children: tuple = ()


class Cell(NamedTuple):
    """A recurrent cell: three pure functions, plus one optional speed hook.

    ``init(key, input_size) -> params``
    ``initial_carry(params, batch_shape) -> carry``
    ``step(params, carry, x_t) -> (carry, y_t)``, the ``lax.scan`` body signature:
      ``partial(cell.step, params)`` can be scanned directly.

    The optional hook, for a cell whose input enters only through an affine map: the
    input-projection split ``project(params, x) -> z`` (the input part of every
    pre-activation; any leading axes) and ``recur(params, carry, z_t) -> (carry, y_t)``
    with ``step(p, c, x) == recur(p, c, project(p, x))``. ``jaxnets.rnn.unroll`` then
    projects all T steps in one matmul outside the loop and runs only ``recur`` inside
    it. Give both or neither.

    Faster whole-sequence paths are not part of the cell: they are kernels
    (``jaxnets.kernels``), matched to the cell by its tag (``jaxnets.core.tag_cell``).
    """

    init: Callable[..., Any]
    initial_carry: Callable[..., Any]
    step: Callable[..., Any]
    project: Callable[..., Any] | None = None
    recur: Callable[..., Any] | None = None


class TreeCell(NamedTuple):
    """A recursive (tree) cell: a node's carry from its input and its children's carries.

    ``init(key, input_size) -> params``
    ``initial_carry(params, batch_shape) -> carry``: the carry of a missing child (zeros).
    ``step(params, children, x) -> (carry, y)``: ``children`` is the carry structure with
      one more axis, of size ``arity``, before each leaf's feature axis (child k's carry
      at index k, missing children at ``initial_carry``); x (*batch, D).
    ``arity``: K, the most children a node has.

    ``jaxnets.rnn.recursive`` runs one over batches of trees.
    """

    init: Callable[..., Any]
    initial_carry: Callable[..., Any]
    step: Callable[..., Any]
    arity: int
