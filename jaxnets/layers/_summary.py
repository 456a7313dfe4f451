"""Keras-style model summary: layer, output shape, parameter count."""

import math

import jax

from jaxnets.core import Layer, check_input_shape


def _count(tree) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def _shape_and_counts(layer: Layer, key, input_shape):
    """Output shape and (params, state) sizes, traced with eval_shape: nothing allocated."""
    shapes = []

    def init(k):
        out, params, state = layer.init(k, input_shape)
        shapes.append(out)
        return params, state

    params, state = jax.eval_shape(init, key)
    return shapes[0], _count(params), _count(state)


def _show_shape(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_show_shape(s) for s in shape)
    return str((None, *shape))


def summary(model: Layer, input_shape, *, key=None) -> str:
    """A Keras-style table of the model's layers, output shapes and parameter counts.

    The rows are the layers of a ``serial`` model (or the model itself); the totals
    split trainable params from non-trainable state (batch-norm statistics).
    Shapes are traced with ``jax.eval_shape``, so no parameter is allocated.

    Args:
      model: a Layer.
      input_shape: the input shape without the batch axis.
      key: PRNG key for init; only shapes are used, so the default key(0) is fine.

    Returns:
      The table as a string; ``print`` it.
    """
    shape = check_input_shape("summary", input_shape)
    key = jax.random.key(0) if key is None else key
    rows, trainable, frozen = [], 0, 0
    for (name, layer), k in zip(
        model.children or ((model.name, model),),
        jax.random.split(key, max(len(model.children), 1)),
    ):
        shape, n_params, n_state = _shape_and_counts(layer, k, shape)
        rows.append((name, _show_shape(shape), f"{n_params + n_state:,}"))
        trainable, frozen = trainable + n_params, frozen + n_state

    header = ("Layer", "Output shape", "Param #")
    widths = [max(len(r[i]) for r in (header, *rows)) + 3 for i in range(3)]
    line = "=" * sum(widths)

    def fmt(row):
        return "".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()

    return "\n".join(
        [
            f'Model: "{model.name}"',
            line,
            fmt(header),
            line,
            *(fmt(r) for r in rows),
            line,
            f"Total params: {trainable + frozen:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {frozen:,}",
        ]
    )
