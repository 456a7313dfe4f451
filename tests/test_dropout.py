"""Dropout: identity at evaluation, inverted scaling in training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.layers import dropout


def test_dropout_is_identity_at_evaluation(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    y, _ = dropout(0.5).apply({}, {}, x, key=jax.random.key(0))
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("drop_rate", [0.2, 0.5, 0.8])
def test_dropout_keeps_the_expected_fraction_and_mean(drop_rate):
    n = 200_000
    x = jnp.ones((1, n))
    y, _ = dropout(drop_rate).apply({}, {}, x, key=jax.random.key(1), train=True)
    kept = np.asarray(y != 0)
    p = 1 - drop_rate
    sd = np.sqrt(p * (1 - p) / n)
    # Five standard errors: fails by chance about once in 3.5 million runs.
    assert abs(kept.mean() - p) < 5 * sd
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / p, rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 5 * sd / p


def test_dropout_masks_depend_on_the_key():
    x = jnp.ones((1, 1000))
    layer = dropout(0.5)
    a, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
    b, _ = layer.apply({}, {}, x, key=jax.random.key(1), train=True)
    c, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_dropout_in_training_needs_a_key():
    with pytest.raises(ValueError, match="`key` is required when train=True"):
        dropout(0.5).apply({}, {}, jnp.ones((2, 3)), train=True)


@pytest.mark.parametrize("drop_rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_rate(drop_rate):
    with pytest.raises(ValueError, match="`drop_rate` must be in \\[0, 1\\)"):
        dropout(drop_rate)
