"""Whole networks built from jaxnets layers and cells.

``MODELS`` is the one registry of the built-in feed-forward classifiers, name ->
builder ``f(num_classes, **options) -> Layer``, which the sweeps' ``model:`` names read.
"""

from ._convnets import keras_convnet as keras_convnet
from ._convnets import lenet5 as lenet5
from ._decoding import beam_search as beam_search
from ._decoding import check_generation as check_generation
from ._decoding import choose_token as choose_token
from ._decoding import generate as generate
from ._language_model import initial_carry as initial_carry
from ._language_model import language_model as language_model
from ._mlp import mlp as mlp
from ._mlp import mlp_classifier as mlp_classifier
from ._one_to_many import one_to_many as one_to_many
from ._seq2seq import Seq2Seq as Seq2Seq
from ._seq2seq import seq2seq as seq2seq
from ._sequence import many_to_many as many_to_many
from ._sequence import many_to_one as many_to_one
from ._tree import tree_classifier as tree_classifier

MODELS = {"mlp": mlp_classifier, "lenet5": lenet5, "keras_convnet": keras_convnet}

__all__ = [
    "MODELS",
    "Seq2Seq",
    "beam_search",
    "check_generation",
    "choose_token",
    "generate",
    "initial_carry",
    "keras_convnet",
    "language_model",
    "lenet5",
    "many_to_many",
    "many_to_one",
    "mlp",
    "mlp_classifier",
    "one_to_many",
    "seq2seq",
    "tree_classifier",
]
