"""A language model over a tokenizer's vocabulary, with sampling from a text prompt."""

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.core import Cell
from jaxnets.models import check_generation, generate, initial_carry, language_model

from ._tokenizer import Tokenizer


class TextLM(NamedTuple):
    """A recurrent language model bound to its tokenizer.

    ``init`` and ``apply`` are those of ``jaxnets.models.language_model`` (ids (B, T)
    to logits (B, T, V), with ``carry`` and ``return_carry``);
    ``sample(params, prompt, length, *, temperature=1.0, top_k=None, key=None) -> str``
    continues a text prompt.
    """

    init: Callable
    apply: Callable
    name: str
    children: tuple
    tokenizer: Tokenizer
    sample: Callable


def text_lm(
    tokenizer: Tokenizer,
    cell: Cell,
    *,
    embed_size: int = 64,
    num_layers: int = 1,
    drop_rate: float = 0.0,
    unroll=1,
    name: str = "text_lm",
) -> TextLM:
    """A character- or word-level RNN language model, by the tokenizer's level.

    Training (``jaxnets.text.fit_lm``) reads a token stream in which ``<eos>`` ends
    a text (or a line, for words), so the model learns where texts begin: sampling
    starts from ``<eos>`` followed by the prompt.

    ``sample(params, prompt, length, *, temperature=1.0, top_k=None, key=None)``
    reads ``<eos>`` + prompt, then draws up to ``length`` tokens, each fed back as the
    next input, from softmax(logits / temperature) restricted to the ``top_k`` most
    likely tokens; it stops early at ``<eos>``. ``temperature=0`` is greedy decoding
    (the limit of ever lower temperatures); then ``key`` is not needed. Returns the
    continuation as text, without the prompt.

    Args:
      tokenizer: from ``char_tokenizer`` or ``word_tokenizer``.
      cell: the recurrent cell.
      embed_size: E, as in ``jaxnets.models.language_model``.
      num_layers: depth of the RNN.
      drop_rate: dropout in training on the non-recurrent connections.
      unroll: the scan unroll factor.
    """
    model = language_model(
        tokenizer.vocab_size, cell, embed_size=embed_size, num_layers=num_layers,
        drop_rate=drop_rate, unroll=unroll, name=name,
    )  # fmt: skip

    @functools.partial(jax.jit, static_argnames=("length", "temperature", "top_k"))
    def continuation(params, ids, key, *, length, temperature, top_k):
        carry = initial_carry(model, params, 1)
        (_, carry), _ = model.apply(params, {}, ids[None, :-1], carry=carry, return_carry=True)

        def step(carry, token):
            (logits, carry), _ = model.apply(
                params, {}, token[:, None], carry=carry, return_carry=True
            )
            return carry, logits[:, 0]

        tokens, _ = generate(
            step, carry, ids[-1:], length, key=key, temperature=temperature, top_k=top_k,
            eos_id=tokenizer.eos_id,
        )  # fmt: skip
        return tokens[0]

    def sample(params, prompt: str, length: int, *, temperature=1.0, top_k=None, key=None) -> str:
        check_generation(f"{name}.sample", length, temperature, top_k, key)
        try:
            prompt_ids = tokenizer.encode(prompt)
        except ValueError as error:
            raise ValueError(f"{name}.sample: `prompt`: {error}") from None
        ids = jnp.asarray(np.concatenate([[tokenizer.eos_id], prompt_ids]), jnp.int32)
        key = jax.random.key(0) if key is None else key
        tokens = np.asarray(
            continuation(
                params, ids, key, length=length, temperature=float(temperature), top_k=top_k
            )
        )
        ends = np.flatnonzero(tokens == tokenizer.eos_id)
        return tokenizer.decode(tokens[: ends[0]] if ends.size else tokens)

    return TextLM(model.init, model.apply, name, (), tokenizer, sample)
