"""Recurrent language model: token ids in, next-token logits out, carry threaded through."""

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, Layer, check_input_shape, output_shape
from jaxnets.layers import dense, dropout, embedding
from jaxnets.rnn import stacked_rnn

from ._seq2seq import check_token_ids


def language_model(
    vocab_size: int,
    cell: Cell,
    *,
    embed_size: int = 64,
    num_layers: int = 1,
    drop_rate: float = 0.0,
    unroll=1,
    name: str = "language_model",
) -> Layer:
    """An RNN language model: p(w_{t+1} | w_0..w_t) = softmax(logits_t).

      e = E[ids]                  (B, T, embed_size)
      h = stacked_rnn(cell)(e)    (B, T, H), ``num_layers`` deep
      logits = h w + b            (B, T, V)

    Dropout with ``drop_rate`` acts in training on the embeddings, between layers and
    on the top layer's outputs: the non-recurrent connections (Zaremba et al. 2014).

    ``apply(params, state, ids, *, key=None, train=False, carry=None,
    return_carry=False)``: ``carry`` (one per layer) continues from a previous
    chunk, which is how truncated BPTT carries the state across a long text, and how
    sampling feeds one token at a time; ``return_carry=True`` returns
    ``(logits, carry)``.

    Args:
      vocab_size: V.
      cell: the recurrent cell of every layer.
      embed_size: E.
      num_layers: depth of the RNN.
      drop_rate: dropout rate in training.
      unroll: the scan unroll factor, see ``jaxnets.rnn.unroll``.

    Returns:
      A Layer mapping ids (B, T) to logits (B, T, V). Params: ``embedding``,
      ``rnn`` (``layer_0``, ...), ``head``.
    """
    embed = embedding(vocab_size, embed_size, name=f"{name}.embedding")
    rnn = stacked_rnn(
        cell, num_layers, drop_rate=drop_rate, return_carry=True, unroll=unroll, name=f"{name}.rnn"
    )
    drop = dropout(drop_rate, name=f"{name}.dropout")
    head = dense(vocab_size, name=f"{name}.head")

    def init(key, input_shape):
        (steps,) = check_input_shape(f"{name}.init", input_shape, rank=1)
        k_embed, k_rnn, k_head = jax.random.split(key, 3)
        _, embed_params, _ = embed.init(k_embed, (steps,))
        (rnn_shape, _), rnn_params, _ = rnn.init(k_rnn, (steps, embed_size))
        _, head_params, _ = head.init(k_head, rnn_shape[-1:])
        params = {"embedding": embed_params, "rnn": rnn_params, "head": head_params}
        return output_shape(apply, params, {}, (steps,), jnp.int32), params, {}

    def apply(params, state, ids, *, key=None, train=False, carry=None, return_carry=False):
        check_token_ids(f"{name}.apply", "ids", ids, vocab_size)
        keys = [None] * 3 if key is None else list(jax.random.split(key, 3))
        e, _ = embed.apply(params["embedding"], {}, ids)
        e, _ = drop.apply({}, {}, e, key=keys[0], train=train)
        (h, carry), _ = rnn.apply(params["rnn"], {}, e, key=keys[1], train=train, carry=carry)
        h, _ = drop.apply({}, {}, h, key=keys[2], train=train)
        logits, _ = head.apply(params["head"], {}, h)
        return ((logits, carry) if return_carry else logits), state

    return Layer(init, apply, name)


def initial_carry(model: Layer, params, batch_size: int):
    """The carry a fresh sequence starts from: ``model`` run over zero steps.

    A scan over no steps returns its initial carry, so this is the cells' own
    ``initial_carry`` for every layer, in the structure ``apply`` takes.
    """
    no_steps = jnp.zeros((batch_size, 0), jnp.int32)
    (_, carry), _ = model.apply(params, {}, no_steps, return_carry=True)
    return carry
