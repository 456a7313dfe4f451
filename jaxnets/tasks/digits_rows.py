"""scikit-learn's 8x8 digits read row by row: 8 steps of 8 pixels, 10 classes."""

from jaxnets.cells import gru
from jaxnets.data import digits, holdout
from jaxnets.train import accuracy, softmax_cross_entropy

from ._task import Task, rnn_classifier, rnn_options


def data(*, seed: int = 0) -> dict:
    """The 1,797 digits as (N, 8, 8) row sequences, a stratified 7:3 split by ``seed``."""
    x, y = digits()
    x = x[..., 0]
    train, test = holdout(y, test_fraction=0.3, seed=seed)
    return {"x": x[train], "y": y[train], "x_test": x[test], "y_test": y[test]}


@rnn_options
def model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, **rnn):
    """Class logits from the RNN's final output; GRU(64) by default."""
    return rnn_classifier(
        cell or gru(64), 10, num_layers=num_layers, bidirectional=bidirectional, **rnn
    )


task = Task("digits_rows", data, model, softmax_cross_entropy, accuracy, "accuracy", "max", 10)
