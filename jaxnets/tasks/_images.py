"""What the image tasks share: a cell reads an image row by row."""

from jaxnets.cells import gru
from jaxnets.core import Layer, check_input_shape
from jaxnets.layers import serial

from ._task import rnn_classifier, rnn_options


def rows(*, name: str = "rows") -> Layer:
    """Images (B, height, width, C) -> sequences (B, height, width * C): a row a step."""

    def init(key, input_shape):
        height, width, channels = check_input_shape(f"{name}.init", input_shape, rank=3)
        return (height, width * channels), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        return x.reshape(*x.shape[:2], -1), state

    return Layer(init, apply, name)


@rnn_options
def row_model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, **rnn) -> Layer:
    """Ten class logits from an RNN reading the rows; GRU(64) by default. Feed-forward
    models (``jaxnets.models.MODELS``) read the images themselves."""
    classify = rnn_classifier(
        cell or gru(64), 10, num_layers=num_layers, bidirectional=bidirectional, **rnn
    )
    return serial(rows(), classify)
