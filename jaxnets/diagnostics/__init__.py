"""Research diagnostics for recurrent cells: gradient flow through time, Jacobian norms,
gate saturation, and their plots."""

from ._gates import gate_activations as gate_activations
from ._gates import gate_saturation as gate_saturation
from ._gradient_flow import gradient_flow as gradient_flow
from ._jacobians import jacobian_norms as jacobian_norms
from ._plots import plot_gate_saturation as plot_gate_saturation
from ._plots import plot_gradient_flow as plot_gradient_flow
from ._plots import plot_jacobian_norms as plot_jacobian_norms

__all__ = [
    "gate_activations",
    "gate_saturation",
    "gradient_flow",
    "jacobian_norms",
    "plot_gate_saturation",
    "plot_gradient_flow",
    "plot_jacobian_norms",
]
