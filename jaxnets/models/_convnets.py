"""The classic convnets: LeNet-5 and the Keras MNIST convnet."""

from collections.abc import Callable

import jax

from jaxnets.core import Layer
from jaxnets.layers import avg_pool2d, conv2d, dense, flatten, max_pool2d, serial


def lenet5(
    num_classes: int = 10,
    *,
    activation: Callable = jax.nn.tanh,
    pool: str = "avg",
    name: str = "lenet5",
) -> Layer:
    """LeNet-5 (LeCun et al., 1998) for 32x32x1 images: 61,706 params with 10 classes.

    conv 6@5x5 -> pool 2 -> conv 16@5x5 -> pool 2 -> flatten (400) -> dense 120 ->
    dense 84 -> dense ``num_classes`` (logits). The original uses tanh-like units
    and average subsampling, the defaults here; ``activation=jax.nn.relu,
    pool="max"`` is the modern variant.

    Example:
      >>> from jaxnets.layers import summary
      >>> print(summary(lenet5(), (32, 32, 1)).splitlines()[-3])
      Total params: 61,706
    """
    if pool not in ("avg", "max"):
        raise ValueError(f"{name}: `pool` must be 'avg' or 'max', got {pool!r}.")
    pooling = avg_pool2d if pool == "avg" else max_pool2d
    return serial(
        conv2d(6, 5, activation=activation),
        pooling(2),
        conv2d(16, 5, activation=activation),
        pooling(2),
        flatten(),
        dense(120, activation=activation),
        dense(84, activation=activation),
        dense(num_classes),
        name=name,
    )


def keras_convnet(num_classes: int = 10, *, name: str = "keras_convnet") -> Layer:
    """The classic Keras / TensorFlow MNIST convnet, for 28x28x1 images.

    conv 32@3x3 relu -> max pool 2 -> conv 64@3x3 relu -> max pool 2 ->
    conv 64@3x3 relu -> flatten (576) -> dense 64 relu -> dense ``num_classes``
    (logits). 55,744 params up to the last conv, 93,322 in all with 10 classes.

    Example:
      >>> from jaxnets.layers import summary
      >>> print(summary(keras_convnet(), (28, 28, 1)).splitlines()[-3])
      Total params: 93,322
    """
    relu = jax.nn.relu
    return serial(
        conv2d(32, 3, activation=relu),
        max_pool2d(2),
        conv2d(64, 3, activation=relu),
        max_pool2d(2),
        conv2d(64, 3, activation=relu),
        flatten(),
        dense(64, activation=relu),
        dense(num_classes),
        name=name,
    )
