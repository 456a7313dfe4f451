"""Parameter-free layers: elementwise activations and flattening."""

from collections.abc import Callable

from jaxnets.core import Layer, check_input_shape, output_shape


def activation(fn: Callable, *, name: str | None = None) -> Layer:
    """An elementwise function as a layer, e.g. ``activation(jax.nn.relu)``.

    Any ``jax.nn`` activation (or other shape-preserving function) works; the
    output shape equals the input shape.
    """
    if not callable(fn):
        raise TypeError(f"activation: `fn` must be callable, got {fn!r}.")
    name = name or getattr(fn, "__name__", "activation")

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        return output_shape(apply, {}, {}, shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        return fn(x), state

    return Layer(init, apply, name)


def flatten(*, name: str = "flatten") -> Layer:
    """Flatten every axis but the batch axis: x (B, ...) -> (B, prod(...))."""

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        return output_shape(apply, {}, {}, shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        if x.ndim < 1:
            raise ValueError(f"{name}.apply: `x` must have a batch axis, got shape {x.shape}.")
        return x.reshape(x.shape[0], -1), state

    return Layer(init, apply, name)
