"""Recursive (tree) cells: the plain recursive network and the Tree-LSTM."""

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform, orthogonal

from jaxnets.core import Cell, TreeCell, along_last_axis, policy_cell, precision_policy

from ._common import activation_fn, positive_int
from ._lstm import LSTMCarry


def _stacked_orthogonal(key, count: int, rows: int, cols: int, dtype):
    return jnp.stack([orthogonal()(k, (rows, cols), dtype) for k in jax.random.split(key, count)])


def _tree_cell(where, cell: Cell, arity: int, policy) -> TreeCell:
    init, initial_carry, step = policy_cell(cell, policy, name=where)[:3]
    return TreeCell(init, initial_carry, step, arity)


def recursive_cell(
    hidden_size: int,
    *,
    arity: int = 2,
    activation="tanh",
    dtype=None,
    param_dtype=None,
    precision=None,
) -> TreeCell:
    """The recursive network's node (Pollack 1990; Socher et al. 2011): child k's state
    through its own matrix, so the order of the children matters:

      h = activation(x w_x + sum_k h_k w_h[k] + b)

    Args:
      hidden_size: H.
      arity: K, the most children of a node.
      activation: "tanh" (default), "relu", "sigmoid", "identity" or a callable.
      dtype: compute dtype (``jaxnets.core.precision_policy``).
      param_dtype: params' dtype.
      precision: matmul precision.

    Returns:
      A TreeCell with carry h (*batch, H) and output h. Params: ``w_x`` (D, H), ``w_h``
      (K, H, H), ``b`` (H,).
    """
    where = "recursive_cell"
    positive_int(where, "hidden_size", hidden_size)
    positive_int(where, "arity", arity)
    act = activation_fn(where, "activation", activation)
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_x, k_h = jax.random.split(key)
        return {
            "w_x": glorot_uniform()(k_x, (input_size, hidden_size), policy.draw),
            "w_h": _stacked_orthogonal(k_h, arity, hidden_size, hidden_size, policy.draw),
            "b": jnp.zeros((hidden_size,), policy.draw),
        }

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_x"].dtype)

    def step(params, children, x):
        h = act(
            x @ params["w_x"]
            + jnp.einsum("...kh,khj->...j", children, params["w_h"])
            + along_last_axis(params["b"], x.ndim)
        )
        return h, h

    return _tree_cell(where, Cell(init, initial_carry, step), arity, policy)


def tree_lstm(
    hidden_size: int,
    *,
    arity: int = 2,
    child_sum: bool = False,
    dtype=None,
    param_dtype=None,
    precision=None,
) -> TreeCell:
    """Tree-LSTM (Tai et al. 2015): a node's memory cell sums its children's, each through
    its own forget gate.

    N-ary (default; the children's order matters), for children k = 1..K:

      z   = x w_x + sum_k h_k u_h[k] + b,  split into (z_i, z_o, z_u)
      i   = sigmoid(z_i),  o = sigmoid(z_o),  u = tanh(z_u)
      f_k = sigmoid(x w_f + sum_l h_l u_f[l, k] + b_f)
      c   = i * u + sum_k f_k * c_k,  h = o * tanh(c)

    ``child_sum`` (any number of children up to K, order ignored): the gates read
    h~ = sum_k h_k through one ``u_h`` (H, 3H), and f_k = sigmoid(x w_f + h_k u_f + b_f)
    with one ``u_f`` (H, H).

    Args:
      hidden_size: H.
      arity: K, the most children of a node.
      child_sum: the Child-Sum Tree-LSTM instead of the N-ary one.
      dtype: compute dtype (``jaxnets.core.precision_policy``).
      param_dtype: params' dtype.
      precision: matmul precision.

    Returns:
      A TreeCell with carry ``LSTMCarry(h, c)`` and output h (*batch, H). Params:
      ``w_x`` (D, 3H), ``u_h`` (K, H, 3H) (child-sum: (H, 3H)), ``b`` (3H,), ``w_f``
      (D, H), ``u_f`` (K, K, H, H) (child-sum: (H, H)), ``b_f`` (H,), ones: a forget
      bias of 1 as in ``lstm``.
    """
    where = "tree_lstm"
    positive_int(where, "hidden_size", hidden_size)
    positive_int(where, "arity", arity)
    if not isinstance(child_sum, bool):
        raise TypeError(f"{where}: `child_sum` must be a bool, got {child_sum!r}.")
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    hid = hidden_size

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_x, k_h, k_fx, k_fh = jax.random.split(key, 4)
        draw = policy.draw
        if child_sum:
            u_h = orthogonal()(k_h, (hid, 3 * hid), draw)
            u_f = orthogonal()(k_fh, (hid, hid), draw)
        else:
            u_h = _stacked_orthogonal(k_h, arity, hid, 3 * hid, draw)
            u_f = _stacked_orthogonal(k_fh, arity * arity, hid, hid, draw).reshape(
                arity, arity, hid, hid
            )
        return {
            "w_x": glorot_uniform()(k_x, (input_size, 3 * hid), draw),
            "u_h": u_h,
            "b": jnp.zeros((3 * hid,), draw),
            "w_f": glorot_uniform()(k_fx, (input_size, hid), draw),
            "u_f": u_f,
            "b_f": jnp.ones((hid,), draw),
        }

    def initial_carry(params, batch_shape):
        zeros = jnp.zeros((*batch_shape, hid), params["w_x"].dtype)
        return LSTMCarry(zeros, zeros)

    def step(params, children, x):
        h, c = children  # (*batch, K, H) each
        if child_sum:
            recurrent = h.sum(-2) @ params["u_h"]
            forget = h @ params["u_f"]
        else:
            recurrent = jnp.einsum("...kh,khg->...g", h, params["u_h"])
            forget = jnp.einsum("...lh,lkhj->...kj", h, params["u_f"])
        gates = x @ params["w_x"] + recurrent + along_last_axis(params["b"], x.ndim)
        i, o, u = jnp.split(gates, 3, axis=-1)
        fx = (x @ params["w_f"] + along_last_axis(params["b_f"], x.ndim))[..., None, :]
        f = jax.nn.sigmoid(fx + forget)
        c = jax.nn.sigmoid(i) * jnp.tanh(u) + (f * c).sum(-2)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return LSTMCarry(h, c), h

    return _tree_cell(where, Cell(init, initial_carry, step), arity, policy)
