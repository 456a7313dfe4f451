"""Weights from and to other frameworks."""

from ._torch import from_torch as from_torch
from ._torch import to_torch as to_torch
from ._torch_model import export_torch_model as export_torch_model
from ._torch_model import load_torch_model as load_torch_model

__all__ = [
    "export_torch_model",
    "from_torch",
    "load_torch_model",
    "to_torch",
]
