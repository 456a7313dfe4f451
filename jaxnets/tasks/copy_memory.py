"""The copy-memory task: recall 10 symbols after a long blank delay (Arjovsky et al. 2016)."""

import numpy as np

from jaxnets.cells import lstm
from jaxnets.models import many_to_many
from jaxnets.rnn import stacked_rnn
from jaxnets.train import accuracy, softmax_cross_entropy

from ._task import Task, rnn_options

COPY = 10
SYMBOLS = 8  # ids 1..8; 0 is blank, 9 the delimiter


def sequences(n: int, delay: int, *, copy_length: int = COPY, seed: int = 0):
    """Inputs (n, T, 10) one-hot and int targets (n, T), T = delay + 2 * copy_length.

    Input: ``copy_length`` random symbols, ``delay - 1`` blanks, the delimiter,
    ``copy_length`` blanks. Target: blanks until the delimiter has been read, then
    the symbols. Guessing blanks, then any symbol, scores a cross-entropy of
    copy_length * log(8) / T per step.
    """
    for arg, value in (("delay", delay), ("copy_length", copy_length)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"copy_memory: `{arg}` must be an int >= 1, got {value!r}.")
    rng = np.random.default_rng(seed)
    steps = delay + 2 * copy_length
    symbols = rng.integers(1, SYMBOLS + 1, (n, copy_length))
    ids = np.zeros((n, steps), np.int32)
    ids[:, :copy_length] = symbols
    ids[:, copy_length + delay - 1] = SYMBOLS + 1
    targets = np.zeros((n, steps), np.int32)
    targets[:, -copy_length:] = symbols
    return np.eye(SYMBOLS + 2, dtype=np.float32)[ids], targets


def data(
    *, seed: int = 0, delay: int = 50, copy_length: int = COPY, n_train: int = 10000,
    n_test: int = 1000,
) -> dict:  # fmt: skip
    """Training and test sequences of the given delay and number of symbols."""
    x, y = sequences(n_train, delay, copy_length=copy_length, seed=seed)
    x_test, y_test = sequences(n_test, delay, copy_length=copy_length, seed=seed + 1_000_003)
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}


@rnn_options
def model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, **rnn):
    """Per-step logits over blank and the 8 symbols; LSTM(64) by default."""
    rnn = stacked_rnn(cell or lstm(64), num_layers, bidirectional=bidirectional, **rnn)
    return many_to_many(rnn, SYMBOLS + 1)


def recall_accuracy(logits, targets):
    """Accuracy on the recalled symbols only (the steps whose target is not blank)."""
    return accuracy(logits, targets, mask=targets != 0)


task = Task(
    "copy_memory", data, model, softmax_cross_entropy, recall_accuracy, "recall", "max", SYMBOLS + 1
)
