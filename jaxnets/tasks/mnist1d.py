"""mnist1d read as a sequence: 40 steps of one value, 10 classes."""

from jaxnets.cells import gru
from jaxnets.data import mnist1d as mnist1d_data
from jaxnets.train import accuracy, softmax_cross_entropy

from ._task import Task, rnn_classifier, rnn_options


def data(*, seed: int = 0, num_samples: int = 5000) -> dict:
    """mnist1d's sequences (N, 40, 1) and labels; ``seed`` picks the generated data
    (seed 0 here is the published set, the generator's seed 42)."""
    raw = mnist1d_data(num_samples=num_samples, seed=42 + seed)
    return {
        "x": raw["x"][..., None], "y": raw["y"],
        "x_test": raw["x_test"][..., None], "y_test": raw["y_test"],
    }  # fmt: skip


@rnn_options
def model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, **rnn):
    """Class logits from the RNN's final output; GRU(64) by default."""
    return rnn_classifier(
        cell or gru(64), 10, num_layers=num_layers, bidirectional=bidirectional, **rnn
    )


task = Task("mnist1d", data, model, softmax_cross_entropy, accuracy, "accuracy", "max", 10)
