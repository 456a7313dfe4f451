"""Offline data sets and the seeded split."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from jaxnets.data import digits, mnist1d, train_test_split


def test_digits_shapes_range_and_labels():
    x, y = digits()
    raw, labels = load_digits(return_X_y=True)
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x.reshape(1797, 64), raw / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_digits_resized_keeps_the_picture():
    small, _ = digits()
    big, _ = digits(size=32)
    assert big.shape == (1797, 32, 32, 1)
    assert big.min() >= 0.0 and big.max() <= 1.0
    # Averaging each 4x4 tile of the 32x32 image gives back a blurred 8x8 one.
    pooled = big.reshape(1797, 8, 4, 8, 4).mean((2, 4))
    assert np.corrcoef(pooled.ravel(), small.ravel())[0, 1] > 0.95
    with pytest.raises(ValueError, match="`size`"):
        digits(size=4)


def test_split_is_seeded_disjoint_and_complete():
    x = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    _, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.3, seed=1)
    again = train_test_split(x, y, test_fraction=0.3, seed=1)
    other = train_test_split(x, y, test_fraction=0.3, seed=2)
    assert len(y_test) == 15 and len(y_train) == 35
    np.testing.assert_array_equal(x_test[:, 0] // 2, y_test)
    assert sorted(np.concatenate([y_train, y_test])) == list(range(50))
    np.testing.assert_array_equal(again[3], y_test)
    assert not np.array_equal(other[3], y_test)
    with pytest.raises(ValueError, match=r"`arrays\[1\]` has 3 rows"):
        train_test_split(x, y[:3])
    with pytest.raises(ValueError, match="`test_fraction`"):
        train_test_split(x, test_fraction=1.0)


def test_mnist1d_is_generated_offline_and_deterministic():
    state = np.random.get_state()[1].copy()
    data = mnist1d(num_samples=200)
    assert data["x"].shape == (160, 40) and data["x_test"].shape == (40, 40)
    assert set(np.unique(data["y"])) <= set(range(10))
    np.testing.assert_array_equal(mnist1d(num_samples=200)["x"], data["x"])
    np.testing.assert_array_equal(np.random.get_state()[1], state)
