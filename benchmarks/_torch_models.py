"""The PyTorch twins of jaxnets models that the benchmarks time against."""


def keras_convnet():
    """The Keras MNIST convnet (93,322 params) for NCHW 28x28x1 images, as
    ``jaxnets.models.keras_convnet``."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip
