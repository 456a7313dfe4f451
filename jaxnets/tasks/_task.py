"""What a sequence task bundles: data, a default model over any cell, loss and metric."""

import inspect
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
    ``"max"``, smaller if ``"min"``; ``num_outputs``: the size of a prediction, which
    the sweeps pass to a model builder's ``num_classes`` or ``num_outputs``.
    """

    name: str
    data: Callable
    model: Callable
    loss: Callable
    metric: Callable
    metric_name: str
    mode: str
    num_outputs: int | None = None


RNN_OPTIONS = ("merge", "drop_rate", "residual", "unroll", "remat")


def rnn_options(model: Callable) -> Callable:
    """Declare that ``model(cell, ..., **rnn)`` passes ``rnn`` on to
    ``jaxnets.rnn.stacked_rnn``: its signature then lists those keywords
    (``RNN_OPTIONS``), which is what the sweeps validate a ``model.*`` key against."""
    own = inspect.signature(model)
    kept = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    stacked = inspect.signature(stacked_rnn).parameters
    model.__signature__ = own.replace(parameters=kept + [stacked[n] for n in RNN_OPTIONS])
    return model


@rnn_options
def rnn_classifier(
    cell: Cell, num_outputs: int, *, num_layers: int = 1, bidirectional: bool = False, **rnn
) -> Layer:
    """many_to_one over a (deep, bidirectional) RNN whose top layer ends each sequence;
    ``rnn``: more options of ``stacked_rnn`` (dropout between layers, ``unroll``, ``remat``)."""
    rnn = stacked_rnn(cell, num_layers, bidirectional=bidirectional, return_sequences=False, **rnn)
    return many_to_one(rnn, num_outputs)
