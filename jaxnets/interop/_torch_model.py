"""A whole PyTorch model's state_dict into a jaxnets ``serial`` model's params and state."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from ._torch import _array, from_torch, to_torch


def _modules(state_dict) -> list:
    """(prefix, {name: array}) per torch module with tensors, in state_dict order."""
    modules: dict[str, dict] = {}
    for key, value in dict(state_dict).items():
        prefix, _, name = key.rpartition(".")
        if name == "num_batches_tracked":
            continue
        modules.setdefault(prefix, {})[name] = _array(value)
    return list(modules.items())


def _leaf_layers(model, input_shape, params, state, path=()):
    """(path, params, state, input shape, output shape) of every layer under ``serial``
    combinators, in order; a layer with children is walked, any other is a leaf."""
    if not model.children:
        yield path, params, state, input_shape, model.init(jax.random.key(0), input_shape)[0]
        return
    shape = input_shape
    for name, child in model.children:
        out = child.init(jax.random.key(0), shape)[0]
        yield from _leaf_layers(child, shape, params[name], state[name], (*path, name))
        shape = out


def _pairs(where, model, input_shape, params, state, state_dict):
    """(path, label, params, state, flattened, torch prefix, torch tensors) for each layer
    with params, matched in order with the torch modules that have tensors; ``flattened``
    is the feature map shape a flatten just before it read, else None. A module or a
    layer left over on either side is a ValueError."""
    modules = _modules(state_dict)
    flattened = None
    position = 0
    for path, p, s, in_shape, out_shape in _leaf_layers(model, tuple(input_shape), params, state):
        label = "/".join(path) or model.name
        if not p:
            if len(in_shape) > 1 and len(out_shape) == 1:
                flattened = in_shape
            continue
        if position >= len(modules):
            raise ValueError(
                f"{where}: `state_dict` has no module left for layer {label!r}; it has "
                f"{len(modules)} modules with tensors."
            )
        prefix, tensors = modules[position]
        position += 1
        yield path, label, p, s, flattened, prefix, tensors
        flattened = None
    if position < len(modules):
        raise ValueError(
            f"{where}: `state_dict` has modules no layer of the model reads: "
            f"{[prefix for prefix, _ in modules[position:]]}."
        )


def _rnn_kind(params) -> tuple:
    """(kind, num_layers, bidirectional) for from_torch, from a recurrent layer's params."""
    layers = params if "layer_0" in params else {"layer_0": params}
    first = layers["layer_0"]
    bidirectional = "forward" in first
    cell = first["forward"] if bidirectional else first
    gates = cell["w_h"].shape[1] // (
        cell["w_p"].shape[0] if "w_p" in cell else cell["w_h"].shape[0]
    )
    kind = {1: "rnn", 3: "gru", 4: "lstm"}[gates]
    return kind, len(layers), bidirectional


def load_torch_model(model, input_shape, state_dict) -> tuple:
    """``(params, state)`` for ``model`` (a jaxnets ``serial``, nested allowed) from the
    state_dict of the PyTorch model with the same layers in the same order.

    The layers with params are matched in order with the torch modules that have
    tensors: ``dense`` with ``nn.Linear``, ``conv1d/2d`` with ``nn.Conv1d/2d``,
    ``batch_norm`` with ``nn.BatchNorm*d`` (running statistics into ``state``),
    ``layer_norm`` with ``nn.LayerNorm``, ``rms_norm`` with ``nn.RMSNorm``,
    ``embedding`` with ``nn.Embedding``, and ``recurrent`` / ``stacked_rnn`` with
    ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (``from_torch``). Weights are transposed to
    jaxnets' layouts (channels last). A ``dense`` that reads a flattened feature map
    has its rows reordered from torch's (C, H, W) flattening to jaxnets' (H, W, C), so
    the same network gives the same outputs on NHWC images.

    Raises:
      ValueError: naming the layer and the torch key, for a module with other tensors
        than its layer needs, a tensor of another shape, or modules left on either side.
    """
    where = "load_torch_model"
    _, params, state = model.init(jax.random.key(0), input_shape)
    new_params, new_state = jax.tree.map(np.asarray, params), jax.tree.map(np.asarray, state)
    for path, label, p, s, flattened, prefix, tensors in _pairs(
        where, model, input_shape, params, state, state_dict
    ):
        converted, converted_state = _convert(where, label, prefix, p, s, tensors, flattened)
        for key, value in converted.items():
            if tuple(np.shape(value)) != tuple(np.shape(_get(p, key))):
                raise ValueError(
                    f"{where}: layer {label!r} needs {key} of shape {np.shape(_get(p, key))}; "
                    f"torch module {prefix!r} gives {np.shape(value)}."
                )
        _set(new_params, path, converted)
        if converted_state:
            _set(new_state, path, converted_state)
    as_jax = lambda tree, like: jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), tree, like)  # noqa: E731
    return as_jax(new_params, params), as_jax(new_state, state)


def _get(tree, key):
    for part in key.split("/"):
        tree = tree[part]
    return tree


def _set(tree, path, values):
    for part in path:
        tree = tree[part]
    for key, value in values.items():
        *parents, last = key.split("/")
        node = tree
        for part in parents:
            node = node[part]
        node[last] = value


def _expect(where, label, prefix, tensors, names):
    if set(tensors) != set(names):
        raise ValueError(
            f"{where}: layer {label!r} reads {sorted(names)} from torch module {prefix!r}, "
            f"which has {sorted(tensors)}."
        )


def _channels_last_rows(w, flattened, *, inverse=False):
    """A dense weight's rows (D, O) reordered from torch's flattening of a (C, *spatial)
    feature map to jaxnets' (*spatial, C), or back with ``inverse``; unchanged unless the
    dense reads a flattened map of D values."""
    if flattened is None or math.prod(flattened) != w.shape[0] or len(flattened) < 2:
        return w
    c, spatial = flattened[-1], tuple(flattened[:-1])
    n = len(spatial)
    if inverse:  # (*spatial, C) -> (C, *spatial)
        w = w.reshape(*spatial, c, -1).transpose(n, *range(n), n + 1)
    else:  # (C, *spatial) -> (*spatial, C)
        w = w.reshape(c, *spatial, -1).transpose(*range(1, n + 1), 0, n + 1)
    return w.reshape(math.prod(flattened), -1)


def _convert(where, label, prefix, params, state, tensors, flattened):
    """({param key: array}, {state key: array}) for one layer from one torch module."""
    keys = set(params)
    if "w_x" in keys or "layer_0" in keys:
        kind, num_layers, bidirectional = _rnn_kind(params)
        converted = from_torch(tensors, kind, num_layers, bidirectional)
        if "layer_0" not in keys:
            converted = converted["layer_0"]
        flat = jax.tree_util.tree_flatten_with_path(converted)[0]
        return {
            "/".join(str(k.key) for k in path): np.asarray(v) for path, v in flat
        }, {}  # fmt: skip
    if keys == {"table"}:
        _expect(where, label, prefix, tensors, {"weight"})
        return {"table": tensors["weight"]}, {}
    if keys <= {"w", "b"} and "w" in keys:
        _expect(where, label, prefix, tensors, {"weight", "bias"} if "b" in keys else {"weight"})
        weight = tensors["weight"]
        if weight.ndim == 2:  # Linear (O, D)
            w = _channels_last_rows(weight.T, flattened)
        else:  # Conv (F, C / G, *k) -> (*k, C / G, F)
            w = weight.transpose(*range(2, weight.ndim), 1, 0)
        out = {"w": w}
        if "b" in keys:
            out["b"] = tensors["bias"]
        return out, {}
    if state and set(state) == {"mean", "var"}:
        names = {"running_mean", "running_var"} | {
            n for n, k in (("weight", "scale"), ("bias", "bias")) if k in keys
        }
        _expect(where, label, prefix, tensors, names)
        out = {k: tensors[n] for n, k in (("weight", "scale"), ("bias", "bias")) if k in keys}
        return out, {"mean": tensors["running_mean"], "var": tensors["running_var"]}
    if keys <= {"scale", "bias"}:
        _expect(where, label, prefix, tensors, {"weight", "bias"} & {
            n for n, k in (("weight", "scale"), ("bias", "bias")) if k in keys
        })  # fmt: skip
        return {k: tensors[n] for n, k in (("weight", "scale"), ("bias", "bias")) if k in keys}, {}
    raise ValueError(
        f"{where}: layer {label!r} has params {sorted(keys)}, which no PyTorch module "
        "this reads has."
    )


def export_torch_model(model, input_shape, params, state, like) -> dict:
    """The inverse of ``load_torch_model``: ``model``'s params and state as a state_dict
    for the PyTorch model whose own state_dict is ``like`` (its keys, order and shapes).

    Every layer with params is matched in order with a torch module, as in
    ``load_torch_model``, and its weights are written in torch's layouts (a dense that
    reads a flattened feature map gets torch's (C, H, W) row order back). A recurrent
    layer's one bias per gate goes to ``bias_ih``, with ``bias_hh`` zero (``to_torch``).
    BatchNorm's ``num_batches_tracked`` is copied from ``like``. Load the result with
    ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``.

    Args:
      model: a jaxnets ``serial`` (nested allowed).
      input_shape: the input shape without the batch axis, as for ``model.init``.
      params: ``model``'s params.
      state: ``model``'s state.
      like: the target torch model's ``state_dict()`` (tensors or arrays).

    Returns:
      ``{torch key: NumPy array}`` with ``like``'s keys, in its order.

    Raises:
      ValueError: naming the layer and the torch key, for a module whose tensors the
        layer cannot fill, a tensor of another shape, or modules left on either side.
    """
    where = "export_torch_model"
    _, reference, _ = model.init(jax.random.key(0), input_shape)
    if jax.tree.structure(reference) != jax.tree.structure(params):
        raise ValueError(
            f"{where}: `params` are not {model.name!r}'s for input_shape "
            f"{tuple(input_shape)}: expected the structure {jax.tree.structure(reference)}, "
            f"got {jax.tree.structure(params)}."
        )
    like = {key: _array(value) for key, value in dict(like).items()}
    out = {}
    for _, label, p, s, flattened, prefix, tensors in _pairs(
        where, model, input_shape, params, state, like
    ):
        p, s = jax.tree.map(np.asarray, p), jax.tree.map(np.asarray, s)
        converted = _export(where, label, prefix, p, s, tensors, flattened)
        for name, value in converted.items():
            key = f"{prefix}.{name}" if prefix else name
            if value.shape != tensors[name].shape:
                raise ValueError(
                    f"{where}: torch key {key!r} has shape {tensors[name].shape}; layer "
                    f"{label!r} gives {value.shape}."
                )
            out[key] = value.astype(tensors[name].dtype)
    missing = [key for key in like if key not in out and not key.endswith("num_batches_tracked")]
    if missing:  # _pairs matched every module, so only a tensor no layer fills is left
        raise ValueError(f"{where}: no layer of the model fills the torch keys {missing}.")
    return {key: out.get(key, like[key]) for key in like}


def _export(where, label, prefix, params, state, tensors, flattened) -> dict:
    """{torch tensor name: array} for one layer's params and state."""
    keys = set(params)
    if "w_x" in keys or "layer_0" in keys:
        kind, num_layers, bidirectional = _rnn_kind(params)
        stacked = params if "layer_0" in keys else {"layer_0": params}
        converted = to_torch(stacked, kind, num_layers, bidirectional)
        _expect(where, label, prefix, tensors, set(converted))
        return converted
    if keys == {"table"}:
        _expect(where, label, prefix, tensors, {"weight"})
        return {"weight": params["table"]}
    names = {"w": "weight", "b": "bias", "scale": "weight", "bias": "bias"}
    if not keys <= set(names):
        raise ValueError(
            f"{where}: layer {label!r} has params {sorted(keys)}, which no PyTorch module "
            "this writes has."
        )
    out = {names[k]: v for k, v in params.items()}
    if "w" in keys:
        w = params["w"]
        if w.ndim == 2:  # Linear (O, D)
            out["weight"] = _channels_last_rows(w, flattened, inverse=True).T
        else:  # (*k, C / G, F) -> Conv (F, C / G, *k)
            out["weight"] = w.transpose(w.ndim - 1, w.ndim - 2, *range(w.ndim - 2))
    if state and set(state) == {"mean", "var"}:
        out["running_mean"], out["running_var"] = state["mean"], state["var"]
    _expect(where, label, prefix, tensors, set(out))
    return out
