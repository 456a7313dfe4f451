"""Losses and metrics on logits, built on optax."""

import jax.numpy as jnp
import optax


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of logits (B, K) against int labels (B,) or one-hot (B, K)."""
    if labels.ndim == logits.ndim:
        return optax.softmax_cross_entropy(logits, labels).mean()
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def accuracy(logits, labels):
    """Fraction of rows whose argmax equals the int label (or the one-hot's argmax)."""
    if labels.ndim == logits.ndim:
        labels = labels.argmax(-1)
    return jnp.mean(logits.argmax(-1) == labels)
