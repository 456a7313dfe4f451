"""Training a language model on one long token stream: truncated BPTT, perplexity."""

import functools
import math
import time
from typing import NamedTuple

import jax
import numpy as np
import optax
from jax import lax

from jaxnets.models import initial_carry


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


class LMResult(NamedTuple):
    """Params and optimizer state after training; ``history`` per epoch: ``loss`` (mean
    cross-entropy per token, nats), ``seconds`` and, with validation, ``val_perplexity``."""

    params: dict
    opt_state: optax.OptState
    history: dict


@functools.lru_cache(maxsize=8)
def _compiled_epoch(model, optimizer):
    def chunk_step(state, batch):
        params, opt_state, carry = state
        x, y, key = batch

        def objective(params):
            losses, new_carry = _token_losses(model, params, carry, x, y, key, True)
            # Summed over time, averaged over the batch: each chunk's gradient is the
            # gradient of its sequences' log-likelihood.
            return losses.sum(axis=1).mean(), (losses.mean(), new_carry)

        (_, (mean_loss, new_carry)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, lax.stop_gradient(new_carry)), mean_loss

    def epoch(params, opt_state, inputs, targets, key):
        carry = initial_carry(model, params, inputs.shape[1])
        keys = jax.random.split(key, inputs.shape[0])
        (params, opt_state, _), losses = lax.scan(
            chunk_step, (params, opt_state, carry), (inputs, targets, keys)
        )
        return params, opt_state, losses

    return jax.jit(epoch)


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
) -> LMResult:
    """Train a language model on a token stream with truncated BPTT.

    Each epoch cuts ``ids`` with ``tbptt_batches`` and runs the chunks in order as
    one compiled program. The loss of a chunk is the softmax cross-entropy summed
    over its ``seq_len`` steps and averaged over the ``batch_size`` streams; the
    final carry of a chunk (gradient stopped) starts the next, so the model sees
    context beyond ``seq_len`` while gradients flow back at most ``seq_len`` steps.

    Args:
      model: a ``language_model`` / ``text_lm``.
      params: its params.
      optimizer: an optax GradientTransformation.
      ids: the training stream (N,) of token ids.
      epochs: passes over the stream.
      batch_size: B parallel streams.
      seq_len: steps per chunk, the truncation length.
      key: dropout keys (``fold_in(key, epoch)``).
      validation_ids: a held-out stream; its perplexity is recorded per epoch.

    Raises:
      FloatingPointError: the loss became NaN or infinite (names the epoch and chunk).
    """
    inputs, targets = tbptt_batches(ids, batch_size, seq_len)
    epoch_fn = _compiled_epoch(model, optimizer)
    opt_state = optimizer.init(params)
    history = {"loss": [], "seconds": []}
    if validation_ids is not None:
        history.val_perplexity = []
    for epoch in range(epochs):
        started = time.perf_counter()
        params, opt_state, losses = epoch_fn(
            params, opt_state, inputs, targets, jax.random.fold_in(key, epoch)
        )
        losses = np.asarray(losses)
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            raise FloatingPointError(
                f"fit_lm: the loss is {losses[bad[0]]} at epoch {epoch}, chunk {bad[0]}; "
                "training stopped."
            )
        history.loss.append(float(losses.mean()))
        history.seconds.append(time.perf_counter() - started)
        if validation_ids is not None:
            history.val_perplexity.append(lm_perplexity(model, params, validation_ids))
    return LMResult(params, opt_state, history)


@functools.lru_cache(maxsize=8)
def _compiled_loss_sum(model):
    def total(params, inputs, targets):
        def body(carry, batch):
            losses, carry = _token_losses(model, params, carry, *batch, None, False)
            return carry, losses.sum()

        carry = initial_carry(model, params, inputs.shape[1])
        _, sums = lax.scan(body, carry, (inputs, targets))
        return sums.sum()

    return jax.jit(total)


def lm_perplexity(model, params, ids, *, seq_len: int = 100) -> float:
    """exp(mean cross-entropy per token) of predicting each token of ``ids`` from all
    the tokens before it, the state carried through the whole stream.
    """
    ids = np.asarray(ids)
    usable = (ids.size - 1) // seq_len * seq_len
    inputs, targets = tbptt_batches(ids[: usable + 1], 1, seq_len)
    return math.exp(float(_compiled_loss_sum(model)(params, inputs, targets)) / usable)


def unigram_perplexity(train_ids, eval_ids, vocab_size: int) -> float:
    """The baseline: perplexity of ``eval_ids`` under the training stream's token
    frequencies (add-one smoothed), a model that ignores all context."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return math.exp(-log_p[np.asarray(eval_ids)].mean())
