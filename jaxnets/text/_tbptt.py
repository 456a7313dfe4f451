"""Training a language model on one long token stream: truncated BPTT, perplexity."""

import functools
import math

import jax
import numpy as np
import optax
from jax import lax

from jaxnets.models import initial_carry
from jaxnets.train import FitResult, fit, perplexity, softmax_cross_entropy


def tbptt_batches(ids, batch_size: int, seq_len: int):
    """Cut a token stream into ``batch_size`` parallel streams and chunks of ``seq_len``.

    Stream b is the b-th contiguous 1/B of the text, so chunk i + 1 of a stream
    continues chunk i of the same stream, and carrying the state from one chunk to
    the next (truncated backpropagation through time) sees the text in order.

    Returns:
      ``(inputs, targets)``, each (num_chunks, B, seq_len) int32: targets are the
      inputs shifted one token ahead.
    """
    ids = np.asarray(ids)
    for arg, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"tbptt_batches: `{arg}` must be a positive int, got {value!r}.")
    per_stream = (ids.size - 1) // batch_size
    chunks = per_stream // seq_len
    if ids.ndim != 1 or chunks == 0:
        raise ValueError(
            f"tbptt_batches: `ids` must be a 1-D stream of at least batch_size * seq_len + 1 "
            f"= {batch_size * seq_len + 1} tokens, got shape {ids.shape}."
        )
    used = chunks * seq_len

    def cut(stream):
        streams = stream[: batch_size * per_stream].reshape(batch_size, per_stream)[:, :used]
        return streams.reshape(batch_size, chunks, seq_len).transpose(1, 0, 2).astype(np.int32)

    return cut(ids[:-1]), cut(ids[1:])


def _token_losses(model, params, carry, x, y, key, train):
    (logits, carry), _ = model.apply(
        params, {}, x, key=key, train=train, carry=carry, return_carry=True
    )
    return optax.softmax_cross_entropy_with_integer_labels(logits, y), carry


def fit_lm(
    model,
    params,
    optimizer: optax.GradientTransformation,
    ids,
    *,
    epochs: int,
    batch_size: int,
    seq_len: int,
    key,
    validation_ids=None,
    **options,
) -> FitResult:
    """Train a language model on a token stream with truncated BPTT: ``fit`` with
    ``tbptt=seq_len`` on the stream cut into ``batch_size`` parallel streams.

    Stream b is the b-th contiguous 1/B of the text (see ``tbptt_batches``); each
    epoch runs it as consecutive chunks of ``seq_len`` tokens, one update per chunk,
    the final carry of a chunk (gradient stopped) starting the next, so the model
    sees context beyond ``seq_len`` while gradients flow back at most ``seq_len``
    steps. The loss is the mean softmax cross-entropy per token.

    Args:
      model: a ``language_model`` / ``text_lm``.
      params: its params.
      optimizer: an optax GradientTransformation.
      ids: the training stream (N,) of token ids.
      epochs: passes over the stream.
      batch_size: B parallel streams.
      seq_len: steps per chunk, the truncation length.
      key: dropout keys.
      validation_ids: a held-out stream; ``history.val_metric`` is its perplexity
        per epoch, the state carried through the whole stream (``lm_perplexity``).
      options: more of ``fit``'s options (``early_stopping``, ``checkpoint``,
        ``progress``, ``l2``, ...).

    Returns:
      ``fit``'s ``FitResult``.
    """
    inputs, targets = tbptt_batches(ids, batch_size, seq_len)
    streams = lambda chunks: chunks.transpose(1, 0, 2).reshape(batch_size, -1)  # noqa: E731
    validation = None
    if validation_ids is not None:
        held_out = np.asarray(validation_ids, np.int32)
        validation = (held_out[None, :-1], held_out[None, 1:])
    return fit(
        model, params, {}, optimizer, softmax_cross_entropy, streams(inputs), streams(targets),
        epochs=epochs, batch_size=batch_size, key=key, tbptt=seq_len, validation=validation,
        metric=perplexity, **options,
    )  # fmt: skip


def _loss_sum(model, params, inputs, targets):
    def body(carry, batch):
        losses, carry = _token_losses(model, params, carry, *batch, None, False)
        return carry, losses.sum()

    carry = initial_carry(model, params, inputs.shape[1])
    _, sums = lax.scan(body, carry, (inputs, targets))
    return sums.sum()


def lm_perplexity(model, params, ids, *, seq_len: int = 100) -> float:
    """exp(mean cross-entropy per token) of predicting each token of ``ids`` from all
    the tokens before it, the state carried through the whole stream.
    """
    ids = np.asarray(ids)
    usable = (ids.size - 1) // seq_len * seq_len
    inputs, targets = tbptt_batches(ids[: usable + 1], 1, seq_len)
    total = jax.jit(functools.partial(_loss_sum, model))(params, inputs, targets)
    return math.exp(float(total) / usable)


def unigram_perplexity(train_ids, eval_ids, vocab_size: int) -> float:
    """The baseline: perplexity of ``eval_ids`` under the training stream's token
    frequencies (add-one smoothed), a model that ignores all context."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return math.exp(-log_p[np.asarray(eval_ids)].mean())
