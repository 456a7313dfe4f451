"""Generating token sequences from a step function: greedy, sampled, beam search."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax


def check_generation(where: str, length, temperature, top_k, key) -> None:
    """Eager checks of the generation arguments (they cannot raise under jit)."""
    if not isinstance(length, int) or isinstance(length, bool) or length <= 0:
        raise ValueError(f"{where}: `length` must be a positive int, got {length!r}.")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(
            f"{where}: `temperature` must be a number >= 0, got {type(temperature).__name__} "
            f"{temperature!r}."
        )
    if not temperature >= 0:  # NaN too
        raise ValueError(f"{where}: `temperature` must be a number >= 0, got {temperature!r}.")
    if top_k is not None and (not isinstance(top_k, int) or top_k <= 0):
        raise ValueError(f"{where}: `top_k` must be a positive int or None, got {top_k!r}.")
    if temperature > 0 and key is None:
        raise ValueError(f"{where}: `key` is required when temperature > 0, got None.")


def choose_token(logits, key, *, temperature: float = 0.0, top_k: int | None = None):
    """One token per row of logits (B, V).

    ``temperature == 0`` picks the argmax (greedy); otherwise a sample from
    softmax(logits / temperature), restricted to the ``top_k`` largest logits when
    given. As the temperature goes to 0 the sample becomes the argmax. A negative
    temperature, or sampling without ``key``, is a ``ValueError``.
    """
    check_generation("choose_token", 1, temperature, top_k, key)
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    return jax.random.categorical(key, logits, axis=-1)


def generate(
    step: Callable,
    carry,
    token,
    length: int,
    *,
    key=None,
    temperature: float = 0.0,
    top_k: int | None = None,
    eos_id: int | None = None,
):
    """Feed each chosen token back as the next input, for ``length`` steps.

      for t in range(length):
          carry, logits = step(carry, token)
          token = choose_token(logits, key_t, temperature, top_k)

    Args:
      step: ``step(carry, token (B,)) -> (carry, logits (B, V))``.
      carry: the state before the first step.
      token: (B,) ints, the first input (a start token, or a prompt's last token).
      length: the number of tokens to generate.
      key: needed when ``temperature > 0``.
      temperature: 0 for greedy decoding.
      top_k: sample only among the k most likely tokens.
      eos_id: once a row emits it, the row stops: the rest of its tokens are ``eos_id``.

    Returns:
      ``(tokens, carry)``: tokens (B, length) ints, and the carry after the last step.

    Raises:
      ValueError: a ``length`` that is not a positive int, a negative ``temperature``,
        or ``temperature > 0`` without ``key`` (never a fixed key in its place).
    """
    check_generation("generate", length, temperature, top_k, key)
    # Greedy decoding uses no randomness; its keys only give the scan its length.
    keys = jax.random.split(jax.random.key(0) if key is None else key, length)
    done = jnp.zeros(token.shape, bool)

    def body(state, k):
        carry, token, done = state
        carry, logits = step(carry, token)
        token = choose_token(logits, k, temperature=temperature, top_k=top_k)
        if eos_id is not None:
            token = jnp.where(done, eos_id, token)
            done = done | (token == eos_id)
        return (carry, token, done), token

    (carry, _, _), tokens = lax.scan(body, (carry, token, done), keys)
    return tokens.T, carry


def beam_search(
    step: Callable,
    carry,
    token,
    length: int,
    *,
    beam_size: int,
    eos_id: int | None = None,
    length_penalty: float = 0.0,
):
    """Keep the ``beam_size`` most likely sequences at every step.

    Each step extends every beam by every token, scores it by the sum of log
    probabilities, and keeps the best ``beam_size`` of the K * V candidates. A beam
    that has emitted ``eos_id`` is finished: it extends only by ``eos_id`` at no cost.
    At the end beams are ranked by score / n^length_penalty, n counting the tokens up
    to and including the first ``eos_id`` (0: the plain log probability).

    Args:
      step: ``step(carry, token (N,)) -> (carry, logits (N, V))``, called with
        N = B * beam_size rows: row b * beam_size + k is beam k of example b.
      carry: the state for the B examples; every leaf has B rows.
      token: (B,) first inputs.
      length: tokens per beam.
      beam_size: K.

    Returns:
      ``(tokens, scores)``: tokens (B, K, length) and their log probabilities (B, K),
      best first.
    """
    if not isinstance(beam_size, int) or beam_size <= 0:
        raise ValueError(f"beam_search: `beam_size` must be a positive int, got {beam_size!r}.")
    batch, k = token.shape[0], beam_size
    carry = jax.tree.map(lambda c: jnp.repeat(c, k, axis=0), carry)
    scores = jnp.tile(jnp.array([0.0] + [-jnp.inf] * (k - 1)), (batch, 1))
    history = jnp.zeros((batch, k, length), jnp.int32)
    finished = jnp.zeros((batch, k), bool)
    counts = jnp.zeros((batch, k), jnp.int32)

    def body(state, t):
        carry, tokens, scores, history, finished, counts = state
        carry, logits = step(carry, tokens.reshape(-1))
        logp = jax.nn.log_softmax(logits).reshape(batch, k, -1)
        vocab = logp.shape[-1]
        if eos_id is not None:
            only_eos = jnp.where(jnp.arange(vocab) == eos_id, 0.0, -jnp.inf)
            logp = jnp.where(finished[..., None], only_eos, logp)
        scores, flat = lax.top_k((scores[..., None] + logp).reshape(batch, -1), k)
        beam, tokens = flat // vocab, (flat % vocab).astype(jnp.int32)
        pick = lambda a: jnp.take_along_axis(a, beam.reshape(beam.shape + (1,) * (a.ndim - 2)), 1)  # noqa: E731
        history = pick(history).at[:, :, t].set(tokens)
        counts = pick(counts) + ~pick(finished)
        finished = pick(finished)
        if eos_id is not None:
            finished = finished | (tokens == eos_id)
        rows = (jnp.arange(batch)[:, None] * k + beam).reshape(-1)
        carry = jax.tree.map(lambda c: c[rows], carry)
        return (carry, tokens, scores, history, finished, counts), None

    start = jnp.repeat(token[:, None], k, axis=1)
    state = (carry, start, scores, history, finished, counts)
    (_, _, scores, history, _, counts), _ = lax.scan(body, state, jnp.arange(length))
    ranking = scores / jnp.maximum(counts, 1).astype(scores.dtype) ** length_penalty
    order = jnp.argsort(-ranking, axis=1)
    return (
        jnp.take_along_axis(history, order[..., None], 1),
        jnp.take_along_axis(scores, order, 1),
    )
