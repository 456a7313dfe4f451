"""Whole networks built from jaxnets layers."""

from ._convnets import keras_convnet as keras_convnet
from ._convnets import lenet5 as lenet5
from ._mlp import mlp as mlp

__all__ = [
    "keras_convnet",
    "lenet5",
    "mlp",
]
