"""Fashion-MNIST (Debian's ``dataset-fashion-mnist``): 28x28 grey images, 10 classes."""

from jaxnets.data import fashion_mnist as fashion_mnist_data
from jaxnets.train import accuracy, softmax_cross_entropy

from ._images import row_model
from ._task import Task


def data(*, seed: int = 0, n_train: int = 60000, n_test: int = 10000) -> dict:
    """The first ``n_train`` training and ``n_test`` test images, (N, 28, 28, 1) in
    [0, 1]; the split is the published one (``seed`` is unused)."""
    for name, value, most in (("n_train", n_train, 60000), ("n_test", n_test, 10000)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            raise ValueError(
                f"fashion_mnist: `{name}` must be an int in [1, {most}], got {value!r}."
            )
    x, y = fashion_mnist_data("train", as_float=True)
    x_test, y_test = fashion_mnist_data("test", as_float=True)
    return {
        "x": x[:n_train],
        "y": y[:n_train],
        "x_test": x_test[:n_test],
        "y_test": y_test[:n_test],
    }


task = Task(
    "fashion_mnist", data, row_model, softmax_cross_entropy, accuracy, "accuracy", "max", 10
)
