"""Multi-layer perceptron."""

from collections.abc import Callable, Sequence

import jax

from jaxnets.core import Layer
from jaxnets.layers import activation as activation_layer
from jaxnets.layers import batch_norm, dense, dropout, flatten, serial


def mlp(
    sizes: Sequence[int],
    *,
    activation: Callable = jax.nn.relu,
    activate_final: bool = False,
    drop_rate: float = 0.0,
    use_batch_norm: bool = False,
    name: str = "mlp",
) -> Layer:
    """Dense layers of the given sizes; the last one is the output layer.

    Each hidden layer is dense -> [batch_norm] -> activation -> [dropout]; the
    output layer is linear unless ``activate_final`` (logits for a classifier).

    Example:
      >>> import jax
      >>> from jaxnets.models import mlp
      >>> out_shape, params, _ = mlp([16, 16, 3]).init(jax.random.key(0), (4,))
      >>> out_shape
      (3,)
    """
    sizes = list(sizes)
    if not sizes:
        raise ValueError(f"{name}: `sizes` must name at least one layer, got {sizes}.")
    layers = []
    for i, size in enumerate(sizes):
        hidden = i < len(sizes) - 1
        if hidden and use_batch_norm:
            layers += [dense(size), batch_norm(), activation_layer(activation)]
        else:
            layers.append(dense(size, activation=activation if hidden or activate_final else None))
        if hidden and drop_rate > 0:
            layers.append(dropout(drop_rate))
    return serial(*layers, name=name)


def mlp_classifier(
    num_classes: int = 10,
    *,
    hidden_sizes: Sequence[int] = (256, 128),
    activation: Callable = jax.nn.relu,
    drop_rate: float = 0.0,
    use_batch_norm: bool = False,
    name: str = "mlp_classifier",
) -> Layer:
    """Inputs of any shape, flattened, then ``mlp([*hidden_sizes, num_classes])``: logits.

    Example:
      >>> import jax
      >>> from jaxnets.models import mlp_classifier
      >>> mlp_classifier(10, hidden_sizes=[32]).init(jax.random.key(0), (8, 8, 1))[0]
      (10,)
    """
    sizes = [*hidden_sizes, num_classes]
    body = mlp(sizes, activation=activation, drop_rate=drop_rate, use_batch_norm=use_batch_norm)
    return serial(flatten(), body, name=name)
