"""What a sequence task bundles: data, a default model over any cell, loss and metric."""

from collections.abc import Callable
from typing import NamedTuple

from jaxnets.core import Cell, Layer
from jaxnets.models import many_to_one
from jaxnets.rnn import stacked_rnn


class Task(NamedTuple):
    """A supervised task that ``jaxnets.train.fit`` can train.

    ``data(*, seed=0, **sizes) -> {"x", "y", "x_test", "y_test"}`` (NumPy arrays, or
    pytrees of them; padded sequences also have ``"lengths"`` and
    ``"lengths_test"``); ``model(cell=None, *, num_layers=1, bidirectional=False) ->``
    a Layer (a default cell when ``cell`` is None); ``loss(y_pred, y)``;
    ``metric(y_pred, y)`` named ``metric_name``, better when larger if ``mode`` is
    ``"max"``, smaller if ``"min"``.
    """

    name: str
    data: Callable
    model: Callable
    loss: Callable
    metric: Callable
    metric_name: str
    mode: str


def rnn_classifier(cell: Cell, num_outputs: int, *, num_layers: int, bidirectional: bool) -> Layer:
    """many_to_one over a (deep, bidirectional) RNN whose top layer ends each sequence."""
    rnn = stacked_rnn(cell, num_layers, bidirectional=bidirectional, return_sequences=False)
    return many_to_one(rnn, num_outputs)
