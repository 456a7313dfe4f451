"""Losses and metrics against NumPy, finite differences and extreme logits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxnets.train import (
    accuracy,
    binary_cross_entropy,
    mse,
    optimizer,
    perplexity,
    softmax_cross_entropy,
)


def np_cross_entropy(logits, labels):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]


def test_cross_entropy_matches_numpy_for_int_and_one_hot_labels(rng):
    logits = rng.normal(size=(5, 4)).astype(np.float32) * 3
    labels = rng.integers(0, 4, 5)
    expected = np_cross_entropy(logits, labels).mean()
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels), expected, rtol=1e-6)
    one_hot = jax.nn.one_hot(labels, 4)
    np.testing.assert_allclose(softmax_cross_entropy(logits, one_hot), expected, rtol=1e-6)
    np.testing.assert_allclose(perplexity(logits, labels), np.exp(expected), rtol=1e-6)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]])
    labels = jnp.array([1, 1])
    value = softmax_cross_entropy(logits, labels)
    grads = jax.grad(softmax_cross_entropy)(logits, labels)
    assert np.isfinite(value) and np.isfinite(grads).all()
    np.testing.assert_allclose(value, (2e4 + 0.0) / 2, rtol=1e-6)


def test_mask_averages_over_valid_steps_only(rng):
    logits = rng.normal(size=(2, 5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, (2, 5))
    mask = np.arange(5)[None] < np.array([[5], [2]])
    per_step = np_cross_entropy(logits, labels)
    np.testing.assert_allclose(
        softmax_cross_entropy(logits, labels, mask), per_step[mask].mean(), rtol=1e-6
    )
    hits = logits.argmax(-1) == labels
    np.testing.assert_allclose(accuracy(logits, labels, mask), hits[mask].mean(), rtol=1e-6)
    targets = rng.normal(size=(2, 5, 3)).astype(np.float32)
    squared = ((logits - targets) ** 2).mean(-1)
    np.testing.assert_allclose(mse(logits, targets, mask), squared[mask].mean(), rtol=1e-6)


def test_binary_cross_entropy_matches_numpy(rng):
    logits = rng.normal(size=6).astype(np.float32) * 4
    labels = rng.integers(0, 2, 6).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = -(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean()
    np.testing.assert_allclose(binary_cross_entropy(logits, labels), expected, rtol=1e-5)


def test_loss_gradients_match_finite_differences(rng):
    with jax.enable_x64(True):
        logits = jnp.asarray(rng.normal(size=(4, 3)))
        labels = jnp.asarray(rng.integers(0, 3, 4))
        check_grads(lambda z: softmax_cross_entropy(z, labels), (logits,), order=2)
        targets = jnp.asarray(rng.random((4, 3)) > 0.5, jnp.float64)
        check_grads(lambda z: binary_cross_entropy(z, targets), (logits,), order=2)


def test_optimizer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`name`"):
        optimizer("lbfgs")
    with pytest.raises(ValueError, match="`clip_norm`"):
        optimizer("adam", clip_norm=0.0)
    with pytest.raises(ValueError, match="`learning_rate`"):
        optimizer("sgd", -1.0)
