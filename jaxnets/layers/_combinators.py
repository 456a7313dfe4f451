"""Layers made of layers: serial (a pipeline), parallel (branches), residual (a skip)."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import Layer, check_input_shape, float_dtype, precision_policy


def _unique_names(layers) -> tuple:
    """Keras-style names: the second ``dense`` is ``dense_1``."""
    seen: dict[str, int] = {}
    names = []
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"expected Layers, got {layer!r}; wrap functions in activation(fn).")
        count = seen.get(layer.name, 0)
        seen[layer.name] = count + 1
        names.append(layer.name if count == 0 else f"{layer.name}_{count}")
    return tuple(zip(names, layers))


def _split(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def _check_tree(where, arg, tree, names):
    if not isinstance(tree, dict) or set(tree) != set(names):
        got = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
        raise ValueError(f"{where}: `{arg}` must be a dict with keys {sorted(names)}, got {got}.")


def serial(*layers: Layer, name: str = "serial") -> Layer:
    """Chain layers like Keras's Sequential: each layer's output feeds the next.

    Only the model is told the input shape; ``init`` passes each layer's output
    shape to the next. ``params`` and ``state`` are dicts keyed by the layers'
    unique names (``conv2d``, ``conv2d_1``, ...). ``apply`` splits ``key`` once per
    layer, so dropout layers draw independent masks.

    Example:
      >>> import jax
      >>> from jaxnets.layers import dense, serial
      >>> model = serial(dense(8, activation=jax.nn.relu), dense(2))
      >>> out_shape, params, state = model.init(jax.random.key(0), (3,))
      >>> out_shape, sorted(params)
      ((2,), ['dense', 'dense_1'])
    """
    if not layers:
        raise ValueError(f"{name}: needs at least one layer, got none.")
    children = _unique_names(layers)
    names = [n for n, _ in children]

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        params, state = {}, {}
        for (child, layer), k in zip(children, jax.random.split(key, len(children))):
            shape, params[child], state[child] = layer.init(k, shape)
        return shape, params, state

    def apply(params, state, x, *, key=None, train=False):
        _check_tree(f"{name}.apply", "params", params, names)
        _check_tree(f"{name}.apply", "state", state, names)
        new_state = {}
        for (child, layer), k in zip(children, _split(key, len(children))):
            x, new_state[child] = layer.apply(params[child], state[child], x, key=k, train=train)
        return x, new_state

    return Layer(init, apply, name, children)


_MERGES: dict[str, Callable] = {
    "concat": lambda ys: jnp.concatenate(ys, axis=-1),
    "add": lambda ys: sum(ys[1:], ys[0]),
}


def parallel(*branches: Layer, merge: str | None = "concat", name: str = "parallel") -> Layer:
    """Feed the same input to every branch and merge their outputs.

    Args:
      branches: Layers, each applied to the whole input.
      merge: ``"concat"`` (along the last axis), ``"add"`` (elementwise sum, equal
        shapes), or ``None`` (a tuple of the branch outputs).

    Returns:
      A Layer whose params and state are dicts keyed by the branches' unique names.
    """
    if not branches:
        raise ValueError(f"{name}: needs at least one branch, got none.")
    if merge is not None and merge not in _MERGES:
        raise ValueError(f"{name}: `merge` must be 'concat', 'add' or None, got {merge!r}.")
    children = _unique_names(branches)
    names = [n for n, _ in children]

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        shapes, params, state = [], {}, {}
        for (child, layer), k in zip(children, jax.random.split(key, len(children))):
            out, params[child], state[child] = layer.init(k, shape)
            shapes.append(out)
        if merge is None:
            return tuple(shapes), params, state
        ys = [jax.ShapeDtypeStruct((1, *s), float_dtype(params)) for s in shapes]
        try:
            merged = jax.eval_shape(_MERGES[merge], ys)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{name}.init: branch output shapes {shapes} cannot be merged by {merge!r}."
            ) from error
        return tuple(merged.shape[1:]), params, state

    def apply(params, state, x, *, key=None, train=False):
        _check_tree(f"{name}.apply", "params", params, names)
        ys, new_state = [], {}
        for (child, layer), k in zip(children, _split(key, len(children))):
            y, new_state[child] = layer.apply(params[child], state[child], x, key=k, train=train)
            ys.append(y)
        return (tuple(ys) if merge is None else _MERGES[merge](ys)), new_state

    return Layer(init, apply, name)


def _projection_strides(where, in_shape, out_shape) -> tuple:
    """Strides s with ceil(n_in / s) == n_out per spatial axis, as for a strided block."""
    if len(in_shape) != len(out_shape):
        raise ValueError(
            f"{where}: the block maps shape {in_shape} to {out_shape}, a different number "
            "of axes; a residual connection needs the same number."
        )
    strides = []
    for n_in, n_out in zip(in_shape[:-1], out_shape[:-1]):
        s = -(-n_in // n_out)
        if -(-n_in // s) != n_out:
            raise ValueError(
                f"{where}: no strided 1x1 projection maps spatial size {n_in} to {n_out} "
                f"(block maps {in_shape} to {out_shape}); use 'same' padding in the block."
            )
        strides.append(s)
    return tuple(strides)


def residual(
    block: Layer,
    *,
    w_init: Callable = glorot_uniform(),
    dtype=None,
    param_dtype=None,
    precision=None,
    name: str = "residual",
) -> Layer:
    """Skip connection: ``y = x + block(x)``, or ``y = P(x) + block(x)`` if shapes differ.

    When the block changes the shape, ``P`` is a learned projection (no bias): the
    input subsampled with the block's stride on every spatial axis, times ``w``
    (C_in, C_out), i.e. ResNet's strided 1x1 convolution. Params: ``block`` and,
    only when shapes differ, ``projection`` = {``w``}. ``dtype``, ``param_dtype`` and
    ``precision`` are the projection's policy (``jaxnets.core.precision_policy``); its
    compute dtype defaults to the block output's.
    """
    if not isinstance(block, Layer):
        raise TypeError(f"{name}: `block` must be a Layer, got {block!r}.")
    policy = precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        k_block, k_proj = jax.random.split(key)
        out_shape, block_params, block_state = block.init(k_block, shape)
        params = {"block": block_params}
        if tuple(out_shape) != shape:
            _projection_strides(f"{name}.init", shape, out_shape)
            w = w_init(k_proj, (shape[-1], out_shape[-1]), policy.draw)
            params["projection"] = {"w": w.astype(policy.param_dtype)}
        return out_shape, params, {"block": block_state}

    def apply(params, state, x, *, key=None, train=False):
        y, block_state = block.apply(params["block"], state["block"], x, key=key, train=train)
        if "projection" in params:
            strides = _projection_strides(f"{name}.apply", x.shape[1:], y.shape[1:])
            x = x[(slice(None), *(slice(None, None, s) for s in strides))]
            compute = policy.dtype or y.dtype
            with policy.matmuls():
                x = x.astype(compute) @ params["projection"]["w"].astype(compute)
        elif x.shape != y.shape:
            raise ValueError(
                f"{name}.apply: the block maps `x` of shape {x.shape} to {y.shape}; it was "
                "initialized without a projection, so shapes must match."
            )
        return x.astype(y.dtype) + y, {"block": block_state}

    return Layer(init, apply, name)
