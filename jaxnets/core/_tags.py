"""What a cell's step computes, told to the rest of the library: its kind, the options
that change its equations, and a hook for its gates.

The tag belongs to the ``step`` function: a cell built with another ``step`` (a
researcher's variant, a diagnostics probe) carries no tag, so nothing that matches on
the tag (a kernel, the gate diagnostics) can run for equations it was not written for.
"""

import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._precision import Precision, cast_floats, policy_cell
from ._types import Cell


class CellTag(NamedTuple):
    """``kind``: a name for the equations (``"lstm"``); ``options``: the constructor
    arguments that change them (read-only); ``gates``: ``gates(params, carry, z) -> dict``
    of each gate's activations in (0, 1), where z is what ``step`` reads after the
    projection hook (``project(params, x)`` when the cell has one, else x), or ``None``;
    ``policy``: the cell's precision policy (``jaxnets.core.Precision``), which a kernel
    follows by casting params and inputs as the cell's ``step`` does, or ``None``."""

    kind: str
    options: Mapping[str, Any]
    gates: Callable | None
    policy: Precision | None = None


# Keyed by the step function itself, held weakly: a tag lives exactly as long as its step.
_TAGS: "weakref.WeakKeyDictionary[Callable, CellTag]" = weakref.WeakKeyDictionary()


def tag_cell(
    cell: Cell, kind: str, *, options: Mapping | None = None, gates=None, policy=None
) -> Cell:
    """Tag ``cell`` (its ``step``) as computing the equations ``kind`` with ``options``.

    Kernels registered for ``kind`` (``jaxnets.kernels``) may then run the cell's whole
    sequence, and ``gates`` feeds ``jaxnets.diagnostics.gate_saturation``. Returns the cell.
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"tag_cell: `kind` must be a non-empty str, got {kind!r}.")
    if not isinstance(cell, Cell):
        raise TypeError(f"tag_cell: `cell` must be a jaxnets.core.Cell, got {type(cell).__name__}.")
    if gates is not None and not callable(gates):
        raise TypeError(f"tag_cell: `gates` must be callable or None, got {gates!r}.")
    if policy is not None and not isinstance(policy, Precision):
        raise TypeError(
            f"tag_cell: `policy` must be a jaxnets.core.Precision or None, got {policy!r}."
        )
    _TAGS[cell.step] = CellTag(kind, types.MappingProxyType(dict(options or {})), gates, policy)
    return cell


def cell_tag(cell: Cell) -> CellTag | None:
    """The tag of ``cell``'s step (see ``tag_cell``), or ``None`` for an untagged cell."""
    try:
        return _TAGS.get(cell.step)
    except TypeError:  # a step that cannot be weakly referenced was never tagged
        return None


def projected_cell(
    init,
    initial_carry,
    project,
    forward,
    *,
    kind: str,
    options: Mapping | None = None,
    gated: bool = False,
    policy: Precision | None = None,
) -> Cell:
    """A tagged Cell from ``project`` and ``forward(params, carry, z_t)``.

    ``forward`` returns ``(carry, y_t)``, or ``(carry, y_t, gates)`` for a gated cell,
    where ``gates`` maps each gate's name to its activations in (0, 1) (``gated=True``).
    The cell is tagged ``kind`` with ``options`` (``tag_cell``), and a gated cell's tag
    carries ``gates(params, carry, z) -> dict``, which
    ``jaxnets.diagnostics.gate_saturation`` reads. Unused outputs cost nothing under ``jit``.
    ``policy`` (``precision_policy``): the cell stores params in its ``param_dtype`` and
    computes in its ``dtype`` (``policy_cell``); ``init`` should draw at ``policy.draw``.
    """

    def recur(params, carry, z):
        return forward(params, carry, z)[:2]

    def step(params, carry, x):
        return recur(params, carry, project(params, x))

    def gates(params, carry, z):
        return forward(params, carry, z)[2]

    cell = Cell(init, initial_carry, step, project, recur)
    if policy is not None:
        cell = policy_cell(cell, policy, name=kind)
        inner_gates = gates

        def gates(params, carry, z):
            return inner_gates(cast_floats(params, policy.compute(params)), carry, z)

    gates = gates if gated else None
    return tag_cell(cell, kind, options=options, gates=gates, policy=policy)
