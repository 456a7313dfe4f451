"""Losses and metrics, built on optax; masks select the valid steps of padded sequences."""

import jax.numpy as jnp
import optax


def _masked_mean(values, mask):
    if mask is None:
        return values.mean()
    mask = mask.astype(values.dtype)
    return (values * mask).sum() / jnp.maximum(mask.sum(), 1)


def softmax_cross_entropy(logits, labels, mask=None):
    """Mean of -log softmax(logits)[label] over examples (and steps).

    Args:
      logits: (..., K). Stable for any magnitude (optax works in log space).
      labels: int labels (...,) or one-hot / probabilities (..., K).
      mask: optional (...,) bool or 0/1: only these positions count, e.g. the valid
        steps of padded sequences; the mean is over them.
    """
    if labels.ndim == logits.ndim:
        values = optax.softmax_cross_entropy(logits, labels)
    else:
        values = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return _masked_mean(values, mask)


def binary_cross_entropy(logits, labels, mask=None):
    """Mean binary cross-entropy of sigmoid(logits) against labels in {0, 1} (or [0, 1])."""
    return _masked_mean(optax.sigmoid_binary_cross_entropy(logits, labels), mask)


def mse(predictions, targets, mask=None):
    """Mean squared error; with ``mask`` (the leading axes of targets), over those only."""
    values = (predictions - targets) ** 2
    if mask is not None:
        values = values.reshape(*mask.shape, -1).mean(-1)
    return _masked_mean(values, mask)


def accuracy(logits, labels, mask=None):
    """Fraction of positions whose argmax equals the int label (or the one-hot's argmax)."""
    if labels.ndim == logits.ndim:
        labels = labels.argmax(-1)
    return _masked_mean((logits.argmax(-1) == labels).astype(jnp.float32), mask)


def perplexity(logits, labels, mask=None):
    """exp of the mean cross-entropy per token: the effective branching factor."""
    return jnp.exp(softmax_cross_entropy(logits, labels, mask))
