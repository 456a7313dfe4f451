"""How often the gates of a gated cell sit near 0 or 1."""

import jax.numpy as jnp
import numpy as np

from ._trajectory import gates


def gate_activations(cell, params, xs, *, carry=None):
    """Each gate's activations at every step: {name: (T, *batch, H)}, read through
    ``unroll``."""
    activations = gates(cell, params, jnp.asarray(xs), carry=carry)
    if activations is None:
        raise ValueError(
            "gate_saturation: `cell` has no gates hook (elman, jordan and clockwork have no "
            "gates; a cell of your own gets one with jaxnets.core.tag_cell(cell, kind, "
            "gates=...)); use simple_gru, mgu, gru or lstm."
        )
    return activations


def gate_saturation(cell, params, xs, *, low: float = 0.05, high: float = 0.95, carry=None):
    """The fraction of each gate's activations below ``low`` or above ``high``, per step.

    Saturated gates pass (near 1) or block (near 0) their signal regardless of the
    input, and their gradient, sigmoid' <= 0.05, nearly vanishes.

    Args:
      cell: a gated Cell: its tag (``jaxnets.core.cell_tag``) has a gates hook.
      params: the cell's params.
      xs: inputs (*batch, T, D).

    Returns:
      {gate name: (T,) float64 NumPy array}, the fraction over batch and units.
    """
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"gate_saturation: need 0 <= `low` < `high` <= 1, got {low}, {high}.")
    activations = gate_activations(cell, params, xs, carry=carry)
    fractions = {}
    for name, values in activations.items():
        values = np.asarray(values)
        saturated = (values < low) | (values > high)
        fractions[name] = saturated.reshape(values.shape[0], -1).mean(1).astype(np.float64)
    return fractions
