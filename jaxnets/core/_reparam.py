"""Weight normalization: a reparametrization of any layer's or cell's weights."""

import jax
import jax.numpy as jnp

from ._types import Cell, Layer


def _is_split(node) -> bool:
    return isinstance(node, dict) and set(node) == {"direction", "scale"}


def _norm(v, axis: int):
    # The Euclidean norm over every axis but `axis` (the outputs), in at least float32.
    axes = tuple(a for a in range(v.ndim) if a != axis % v.ndim)
    wide = v.astype(jnp.promote_types(v.dtype, jnp.float32))
    return jnp.sqrt(jnp.sum(jnp.square(wide), axes, keepdims=True))


def _chosen(name, params, names, axis) -> set:
    """The paths ("a/b/w") of the leaves to reparametrize; a named one that is missing,
    or has fewer than two axes, is a ValueError naming what there is."""
    leaves = {
        "/".join(str(k.key) for k in path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
    }
    if names is None:
        return {path for path, leaf in leaves.items() if jnp.ndim(leaf) >= 2}
    chosen = {path for path in leaves if path.rsplit("/", 1)[-1] in names or path in names}
    found = {part for path in chosen for part in (path, path.rsplit("/", 1)[-1])}
    missing = sorted(set(names) - found)
    if missing:
        raise ValueError(
            f"{name}: `names` {missing} match no param; the params are {sorted(leaves)}."
        )
    flat = sorted(path for path in chosen if jnp.ndim(leaves[path]) < 2)
    if flat:
        raise ValueError(
            f"{name}: weight normalization needs a weight of >= 2 axes; {flat} have "
            f"{[jnp.shape(leaves[p]) for p in flat]}."
        )
    return chosen


def _split(params, chosen, axis, path=()):
    if not isinstance(params, dict):
        if "/".join(path) in chosen:
            return {"direction": params, "scale": _norm(params, axis).astype(params.dtype)}
        return params
    return {k: _split(v, chosen, axis, (*path, str(k))) for k, v in params.items()}


def _join(params, axis):
    """The weights back from (direction, scale): w = scale * direction / ||direction||."""
    if _is_split(params):
        v, g = params["direction"], params["scale"]
        return (g * (v / _norm(v, axis))).astype(v.dtype)
    if isinstance(params, dict):
        return {k: _join(v, axis) for k, v in params.items()}
    return params


def weight_norm(block, names=None, *, axis: int = -1, name: str = "weight_norm"):
    """``block`` (a Layer or a Cell) with chosen weights reparametrized as
    ``w = scale * direction / ||direction||`` (Salimans & Kingma, 2016).

    The norm is taken over every axis of the weight but ``axis``, the outputs: jaxnets
    keeps outputs last (dense ``w`` (D, O), conv kernels (*k, C, F), a cell's ``w_x``
    (D, G*H) and ``w_h`` (H, G*H)), so each output column gets its own scale, as
    ``torch.nn.utils.parametrizations.weight_norm``'s default ``dim=0`` does on torch's
    transposed layouts. At init ``direction`` is the block's own initial weight and
    ``scale`` its norm, so the block starts out computing what it did before.

    Args:
      block: a ``Layer`` or a ``Cell``.
      names: the params to reparametrize, by key (``"w_h"``, every leaf of that name)
        or by path (``"layer_0/w_h"``); ``None`` (default): every param with two or more
        axes.
      axis: the output axis each scale belongs to.
      name: label for errors (and the layer's name in ``summary``).

    Returns:
      The same kind of block; each chosen param ``p`` becomes
      ``{"direction": p, "scale": ||p||}`` in its params (the scale keeps the weight's
      axes, with size 1 but along ``axis``). A cell returned is untagged: the kernels
      written for the plain cell's params do not run it.

    Raises:
      TypeError: ``block`` is neither a Layer nor a Cell.
      ValueError: at init, a name that matches no param or a param with under two axes.
    """
    if names is not None:
        names = (names,) if isinstance(names, str) else tuple(names)
        if not names or not all(isinstance(n, str) for n in names):
            raise TypeError(f"{name}: `names` must be a str, strs or None, got {names!r}.")
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"{name}: `axis` must be an int, got {axis!r}.")

    if isinstance(block, Layer):

        def init(key, input_shape):
            shape, params, state = block.init(key, input_shape)
            return shape, _split(params, _chosen(name, params, names, axis), axis), state

        def apply(params, state, x, **kwargs):
            return block.apply(_join(params, axis), state, x, **kwargs)

        return Layer(init, apply, name)
    if isinstance(block, Cell):

        def cell_init(key, input_size):
            params = block.init(key, input_size)
            return _split(params, _chosen(name, params, names, axis), axis)

        def initial_carry(params, batch_shape):
            return block.initial_carry(_join(params, axis), batch_shape)

        def step(params, carry, x_t):
            return block.step(_join(params, axis), carry, x_t)

        if block.project is None:
            return Cell(cell_init, initial_carry, step)
        return Cell(
            cell_init,
            initial_carry,
            step,
            lambda params, x: block.project(_join(params, axis), x),
            lambda params, carry, z_t: block.recur(_join(params, axis), carry, z_t),
        )
    raise TypeError(f"{name}: `block` must be a jaxnets Layer or Cell, got {type(block).__name__}.")
