"""scikit-learn's 1,797 handwritten digits as images, 10 classes."""

from jaxnets.data import digits as digits_data
from jaxnets.data import holdout
from jaxnets.train import accuracy, softmax_cross_entropy

from ._images import row_model
from ._task import Task


def data(*, seed: int = 0, size: int = 28) -> dict:
    """Images (N, size, size, 1) in [0, 1] (resized from 8x8: 28 suits the Keras
    convnet, 32 LeNet-5) and labels; a stratified 7:3 split by ``seed``."""
    x, y = digits_data(size=size)
    train, test = holdout(y, test_fraction=0.3, seed=seed)
    return {"x": x[train], "y": y[train], "x_test": x[test], "y_test": y[test]}


task = Task("digits", data, row_model, softmax_cross_entropy, accuracy, "accuracy", "max", 10)
