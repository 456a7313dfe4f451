"""Weights from and to other frameworks."""

from ._torch import from_torch as from_torch
from ._torch import to_torch as to_torch
from ._torch_model import load_torch_model as load_torch_model

__all__ = [
    "from_torch",
    "load_torch_model",
    "to_torch",
]
