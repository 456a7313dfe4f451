"""The adding problem: sum the two marked values of a long sequence (regression)."""

from jaxnets.cells import lstm
from jaxnets.data import adding_problem
from jaxnets.train import mse

from ._task import Task, rnn_classifier, rnn_options


def data(*, seed: int = 0, length: int = 100, n_train: int = 10000, n_test: int = 1000) -> dict:
    """Sequences (N, length, 2) of (value, marker) pairs and their targets (N, 1).

    Predicting the mean scores an MSE of 1/6 (about 0.167).
    """
    x, y = adding_problem(n_train, length, seed=seed)
    x_test, y_test = adding_problem(n_test, length, seed=seed + 1_000_003)
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}


@rnn_options
def model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, **rnn):
    """A regression head (one output) on the RNN's final output.

    The default cell is LSTM(32) with a forget bias of 3: it keeps ~95% of its cell
    per step at initialization (a memory horizon of ~20 steps, against ~4 with the
    usual 1), so it leaves the predict-the-mean plateau within a few epochs.
    """
    cell = cell or lstm(32, forget_bias=3.0)
    return rnn_classifier(cell, 1, num_layers=num_layers, bidirectional=bidirectional, **rnn)


task = Task("adding", data, model, mse, mse, "mse", "min", 1)
