"""Attention over a memory of encoder outputs: dot, general (Luong) and additive
(Bahdanau) scores, masked by the memory's lengths."""

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import (
    Layer,
    check_input_shape,
    check_lengths,
    check_shape,
    policy_layer,
    precision_policy,
)

from ._lengths import step_mask

SCORES = ("dot", "general", "additive")


def attention_params(key, score: str, query_size: int, memory_size: int, units, dtype) -> dict:
    """The params of ``score`` for queries of ``query_size`` and memories of
    ``memory_size``: {} (dot), ``w_a`` (Q, M) (general), ``w_q`` (Q, U), ``w_m`` (M, U)
    and ``v`` (U,) (additive)."""
    if score == "dot":
        return {}
    if score == "general":
        return {"w_a": glorot_uniform()(key, (query_size, memory_size), dtype)}
    k_q, k_m, k_v = jax.random.split(key, 3)
    return {
        "w_q": glorot_uniform()(k_q, (query_size, units), dtype),
        "w_m": glorot_uniform()(k_m, (memory_size, units), dtype),
        "v": glorot_uniform()(k_v, (units, 1), dtype)[:, 0],
    }


def attend(params: dict, score: str, query, memory, valid=None):
    """Context vectors and attention weights of queries (B, Tq, Q) over a memory (B, S, M).

      dot:       e[t, s] = q_t . m_s                      (Q == M)
      general:   e[t, s] = q_t w_a m_s                    (Luong et al. 2015)
      additive:  e[t, s] = v . tanh(q_t w_q + m_s w_m)    (Bahdanau et al. 2015)
      a[t] = softmax over the valid s of e[t],   context_t = sum_s a[t, s] m_s

    ``valid`` (B, S) bool marks the memory steps that may be attended to (``None``: all);
    the others get weight exactly 0. Returns ``(context (B, Tq, M), weights (B, Tq, S))``.
    """
    if score == "dot":
        scores = jnp.einsum("btq,bsq->bts", query, memory)
    elif score == "general":
        scores = jnp.einsum("btq,qm,bsm->bts", query, params["w_a"], memory)
    else:
        hidden = jnp.tanh(
            (query @ params["w_q"])[:, :, None, :] + (memory @ params["w_m"])[:, None, :, :]
        )
        scores = hidden @ params["v"]
    if valid is not None:
        scores = jnp.where(valid[:, None, :], scores, -jnp.inf)
    weights = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum("bts,bsm->btm", weights, memory), weights


def check_score(where: str, score, units) -> None:
    if score not in SCORES:
        raise ValueError(f"{where}: `score` must be one of {SCORES}, got {score!r}.")
    if score == "additive" and (
        isinstance(units, bool) or not isinstance(units, int) or units <= 0
    ):
        raise ValueError(f"{where}: score='additive' needs `units`, a positive int, got {units!r}.")


def attention(
    score: str = "general",
    *,
    units: int | None = None,
    return_weights: bool = False,
    dtype=None,
    param_dtype=None,
    precision=None,
    name: str = "attention",
) -> Layer:
    """Attention as a layer: ``apply(params, state, (query, memory), lengths=None)``.

    The queries (B, Tq, Q) attend over the memory (B, S, M) (e.g. encoder outputs), each
    query's weights a softmax over the memory steps s < ``lengths`` (B,) (see ``attend``
    for the three scores). Padded memory steps get weight 0 exactly.

    Args:
      score: ``"dot"`` (no params; Q must equal M), ``"general"`` (Luong's bilinear
        score) or ``"additive"`` (Bahdanau's, with ``units`` hidden units).
      units: U, the additive score's hidden size.
      return_weights: also return the weights: ``y = (context, weights)``.
      dtype: the compute dtype, as for ``dense``.
      param_dtype: the params' dtype, as for ``dense``.
      precision: matmul precision, as for ``dense``.

    Returns:
      A Layer mapping ``(query, memory)`` to the context (B, Tq, M), or to
      ``(context, weights (B, Tq, S))``. ``init`` takes ``((Tq, Q), (S, M))``.
    """
    check_score(name, score, units)
    policy = precision_policy(name, dtype=dtype, param_dtype=param_dtype, precision=precision)

    def init(key, input_shape):
        try:
            query_shape, memory_shape = input_shape
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}.init: `input_shape` must be ((Tq, Q), (S, M)), got {input_shape!r}."
            ) from None
        (steps, q), (_, m) = (
            check_input_shape(f"{name}.init", query_shape, 2),
            check_input_shape(f"{name}.init", memory_shape, 2),
        )
        if score == "dot" and q != m:
            raise ValueError(
                f"{name}.init: score='dot' needs queries and memory of one size, got {q} and {m}."
            )
        params = attention_params(key, score, q, m, units, policy.draw)
        shape = (steps, m)
        return ((shape, (steps, memory_shape[0])) if return_weights else shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None):
        query, memory = x
        check_shape(f"{name}.apply", "query", query, (None, None, None))
        check_shape(f"{name}.apply", "memory", memory, (query.shape[0], None, None))
        valid = None
        if lengths is not None:
            lengths = check_lengths(f"{name}.apply", lengths, query.shape[:1], memory.shape[1])
            valid = step_mask(lengths, memory.shape[1])
        context, weights = attend(params, score, query, memory, valid)
        return ((context, weights) if return_weights else context), state

    return policy_layer(Layer(init, apply, name), policy)
