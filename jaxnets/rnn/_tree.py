"""Recursive networks over batches of trees: level by level, no Python recursion."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnets.core import Layer, TreeCell, check_lengths, check_shape, output_shape

from ._readout import readout


def check_children(where: str, children, num_nodes: int, arity: int, lengths=None):
    """``children`` (B, N, K) ints: each node's children by index, -1 for none, every
    child before its parent (post-order, so the root is a tree's last node). Checked
    where the values are known; a ValueError names the first node that breaks it."""
    check_shape(where, "children", children, (None, num_nodes, arity))
    if not jnp.issubdtype(children.dtype, jnp.integer):
        raise TypeError(f"{where}: `children` must hold ints, got dtype {children.dtype}.")
    if isinstance(children, jax.core.Tracer):
        return
    values = np.asarray(children)
    node = np.arange(num_nodes)[None, :, None]
    limit = node if lengths is None else np.minimum(node, np.asarray(lengths)[:, None, None])
    bad = (values < -1) | (values >= limit)
    if bad.any():
        tree, at, k = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{where}: `children` must list for each node the indices of earlier nodes of its "
            f"tree (post-order) or -1; tree {tree}, node {at} has child {k} = "
            f"{int(values[tree, at, k])}."
        )


def tree_heights(children):
    """(B, N) ints: each node's height (0 for a leaf, 1 + its tallest child's), in one
    pass over the nodes (children come first)."""
    batch, num_nodes, _ = children.shape

    def visit(heights, n):
        kids = children[:, n]
        below = jnp.take_along_axis(heights, jnp.maximum(kids, 0), axis=1)
        height = jnp.max(jnp.where(kids >= 0, below + 1, 0), axis=1)
        return heights.at[:, n].set(height), None

    heights, _ = lax.scan(visit, jnp.zeros((batch, num_nodes), jnp.int32), jnp.arange(num_nodes))
    return heights


def recursive(
    cell: TreeCell,
    *,
    max_height: int | None = None,
    return_nodes: bool = False,
    name: str = "recursive",
) -> Layer:
    """A recursive network (Goller & Kuechler 1996; Socher et al. 2011): ``cell`` applied
    at every node of every tree, children before parents.

    A batch of trees is N padded nodes per tree in post-order: inputs x (B, N, D) (a
    node's own input, e.g. the embedding of its word or operator), ``children``
    (B, N, K) (each node's children by index, -1 for none; a child's index is below its
    parent's) and ``lengths`` (B,) (each tree's node count; its root is node
    ``lengths - 1``). The nodes are computed level by level: a ``lax.scan`` over
    heights, each step running the cell on all nodes at once and keeping those whose
    height it is (Looks et al.'s dynamic batching, without a host-side schedule), so
    trees of any shapes share one compiled program.

    ``apply(params, state, x, *, children, lengths=None, key=None, train=False)`` returns
    each root's output (B, H) or, with ``return_nodes``, every node's (B, N, H) (zeros
    past ``lengths``).

    Args:
      cell: a ``TreeCell`` (``jaxnets.cells.recursive_cell``, ``tree_lstm`` or yours).
      max_height: the tallest tree's height the scan covers (a leaf's is 0); ``None``:
        N - 1, always enough, at N steps. Where values are known a taller tree is a
        ValueError; under ``jit`` its nodes above ``max_height`` are NaN.
      return_nodes: return every node's output, not the roots'.
      name: label for errors.

    Returns:
      A Layer; its params are the cell's.
    """
    if not isinstance(cell, TreeCell):
        raise TypeError(f"{name}: `cell` must be a jaxnets TreeCell, got {type(cell).__name__}.")
    if max_height is not None and (
        not isinstance(max_height, int) or isinstance(max_height, bool) or max_height < 0
    ):
        raise ValueError(f"{name}: `max_height` must be an int >= 0 or None, got {max_height!r}.")

    def init(key, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"{name}.init: `input_shape` must be (N, D), nodes and features, got "
                f"{tuple(input_shape)}."
            )
        params = cell.init(key, input_shape[-1])
        children = jnp.full((1, input_shape[0], cell.arity), -1, jnp.int32)
        shape = output_shape(partial(apply, children=children), params, {}, input_shape)
        return shape, params, {}

    def apply(params, state, x, *, children, lengths=None, key=None, train=False):
        check_shape(f"{name}.apply", "x", x, (None, None, None))
        batch, num_nodes, _ = x.shape
        children = jnp.asarray(children)
        if lengths is not None:
            lengths = check_lengths(f"{name}.apply", lengths, (batch,), num_nodes)
        check_children(f"{name}.apply", children, num_nodes, cell.arity, lengths)
        heights = tree_heights(children)
        levels = num_nodes if max_height is None else max_height + 1
        if max_height is not None and not isinstance(heights, jax.core.Tracer):
            tallest = int(heights.max()) if heights.size else 0
            if tallest > max_height:
                raise ValueError(
                    f"{name}.apply: a tree of height {tallest} is taller than `max_height` "
                    f"= {max_height}."
                )
        has_child = children >= 0
        blank = cell.initial_carry(params, (batch, num_nodes))

        def gather(carries):
            # Each node's children's carries, (B, N, K, ...); a missing child's is blank.
            def one(leaf, blank_leaf):
                rows = jnp.maximum(children, 0).reshape(batch, -1)
                got = jnp.take_along_axis(
                    leaf, rows.reshape(batch, -1, *([1] * (leaf.ndim - 2))), axis=1
                ).reshape(batch, num_nodes, cell.arity, *leaf.shape[2:])
                empty = jnp.broadcast_to(blank_leaf[:, :, None], got.shape)
                mask = has_child.reshape(*has_child.shape, *([1] * (leaf.ndim - 2)))
                return jnp.where(mask, got, empty)

            return jax.tree.map(one, carries, blank)

        carry0, y_shape = (
            blank,
            jax.eval_shape(lambda p, c, xs: cell.step(p, c, xs)[1], params, gather(blank), x),
        )
        ys0 = jnp.zeros(y_shape.shape, y_shape.dtype)

        def level(state, height):
            carries, ys = state
            new_carries, new_ys = cell.step(params, gather(carries), x)
            here = heights == height

            def keep(new, old):
                return jnp.where(here.reshape(*here.shape, *([1] * (old.ndim - 2))), new, old)

            return (jax.tree.map(keep, new_carries, carries), keep(new_ys, ys)), None

        (_, ys), _ = lax.scan(level, (carry0, ys0), jnp.arange(levels))
        ys = jnp.where((heights < levels)[..., None], ys, jnp.nan)
        if lengths is not None:
            ys = jnp.where((jnp.arange(num_nodes)[None, :] < lengths[:, None])[..., None], ys, 0)
        if return_nodes:
            return ys, state
        return readout(ys, lengths), state

    return Layer(init, apply, name)
