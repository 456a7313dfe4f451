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
    """A recurrent cell: three pure functions, plus two optional ones for speed.

    ``init(key, input_size) -> params``
    ``initial_carry(params, batch_shape) -> carry``
    ``step(params, carry, x_t) -> (carry, y_t)``, the ``lax.scan`` body signature:
      ``partial(cell.step, params)`` can be scanned directly.

    A cell whose input enters only through an affine map also provides
    ``project(params, x) -> z`` (the input part of every pre-activation; any leading
    axes) and ``recur(params, carry, z_t) -> (carry, y_t)`` with
    ``step(p, c, x) == recur(p, c, project(p, x))``. ``jaxnets.rnn.unroll`` then
    projects all T steps in one matmul outside the loop and runs only ``recur``
    inside it. A gated cell also has ``gates(params, carry, z_t) -> dict`` of its gate
    activations. A cell may also offer ``scan(params, carry, xs, *, reverse, unroll)
    -> (carry, ys)``: the recurrence over all time-major inputs xs (T, *batch, D) at
    once, projection included (so it may project a block of steps at a time), with a
    hand-written backward pass; ``unroll`` uses it when it can (no ``lengths``, no
    ``remat``, not the Python loop), with the numbers of ``step``.
    """

    init: Callable[..., Any]
    initial_carry: Callable[..., Any]
    step: Callable[..., Any]
    project: Callable[..., Any] | None = None
    recur: Callable[..., Any] | None = None
    gates: Callable[..., Any] | None = None
    scan: Callable[..., Any] | None = None


def projected_cell(
    init, initial_carry, project, forward, *, gated: bool = False, scan=None
) -> Cell:
    """A Cell from ``project`` and ``forward(params, carry, z_t)``.

    ``forward`` returns ``(carry, y_t)``, or ``(carry, y_t, gates)`` for a gated cell
    (``gated=True``), where ``gates`` maps each gate's name to its activations in
    (0, 1); the cell then exposes ``gates(params, carry, z_t) -> dict``, which
    ``jaxnets.diagnostics.gate_saturation`` reads. Unused outputs cost nothing under
    ``jit``. ``scan`` is the optional whole-sequence fast path (see ``Cell``).
    """

    def recur(params, carry, z):
        return forward(params, carry, z)[:2]

    def step(params, carry, x):
        return recur(params, carry, project(params, x))

    def gates(params, carry, z):
        return forward(params, carry, z)[2]

    return Cell(init, initial_carry, step, project, recur, gates if gated else None, scan)
