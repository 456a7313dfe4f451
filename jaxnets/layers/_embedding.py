"""Embedding: integer ids to learned vectors."""

from collections.abc import Callable

import jax.numpy as jnp
from jax.nn.initializers import normal

from jaxnets.core import (
    Layer,
    check_ids,
    check_input_shape,
    output_shape,
    policy_layer,
    precision_policy,
)


def embedding(
    vocab_size: int,
    features: int,
    *,
    e_init: Callable = normal(stddev=1.0),
    dtype=None,
    param_dtype=None,
    name: str = "embedding",
) -> Layer:
    """Look up row ``x`` of a (vocab_size, features) table.

    Ids outside [0, vocab_size) are a ``ValueError`` naming the id and the vocabulary
    size where their values are known (outside ``jit``). Under ``jit`` they cannot
    raise; they give NaN rows instead (negative ids too, never a wrapped-around row),
    and NaN cannot pass for a real embedding.

    Args:
      vocab_size: V, the number of ids.
      features: E, the embedding size.
      e_init: initializer of ``table`` (V, E); the default is N(0, 1), as in PyTorch.
      dtype: the dtype of the embeddings it returns; ``None`` (default): the table's.
      param_dtype: the table's dtype (default: ``dtype``, else float32).

    Returns:
      A Layer mapping int ids (B, ...) to (B, ..., E). Params: ``table`` (V, E).
    """
    for arg, value in (("vocab_size", vocab_size), ("features", features)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: `{arg}` must be a positive int, got {value!r}.")
    policy = precision_policy(name, dtype=dtype, param_dtype=param_dtype)

    def init(key, input_shape):
        shape = check_input_shape(f"{name}.init", input_shape)
        params = {"table": e_init(key, (vocab_size, features), policy.draw)}
        return output_shape(apply, params, {}, shape, jnp.int32), params, {}

    def apply(params, state, x, *, key=None, train=False):
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(f"{name}.apply: `x` must hold integer ids, got dtype {x.dtype}.")
        check_ids(f"{name}.apply", "x", x, vocab_size)
        return lookup(params["table"], x), state

    return policy_layer(Layer(init, apply, name), policy)


def lookup(table, ids):
    """Rows ``ids`` of ``table`` (V, E), NaN rows for ids outside [0, V).

    The lookup of every embedding in jaxnets: plain indexing (``table[ids]``) would
    clamp id V + 5 to row V - 1 and wrap -1 to it, a valid-looking wrong answer.
    """
    # take(mode="fill") reads negative ids from the end; send them past it instead.
    ids = jnp.where(ids < 0, table.shape[0], ids)
    return jnp.take(table, ids, axis=0, mode="fill", fill_value=jnp.nan)
