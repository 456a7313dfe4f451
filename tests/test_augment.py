"""Batch augmentation: flips and shifts against NumPy, and fit's augment hook."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.data import chain, random_flip, random_shift
from jaxnets.layers import dense, flatten, serial
from jaxnets.train import fit, optimizer, softmax_cross_entropy


def _images(n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 6, 5, 2)).astype(np.float32)


def _shifted(image, dy, dx):
    """NumPy reference: content moves by (dy, dx), zeros fill what moves in."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_flip_mirrors_each_example_or_leaves_it_and_follows_p():
    x = _images(400)
    assert np.array_equal(random_flip(2, p=1.0)(jax.random.key(0), x), x[:, :, ::-1])
    assert np.array_equal(random_flip(2, p=0.0)(jax.random.key(0), x), x)
    y = np.asarray(random_flip(-2)(jax.random.key(1), x))
    mirrored = np.all(y == x[:, :, ::-1], axis=(1, 2, 3))
    unchanged = np.all(y == x, axis=(1, 2, 3))
    assert np.all(mirrored | unchanged)
    assert 0.4 < mirrored.mean() < 0.6  # 400 fair coins
    other = np.asarray(random_flip(2)(jax.random.key(2), x))
    assert not np.array_equal(y, other)  # a new key, new draws


def test_shift_matches_numpy_for_the_drawn_offsets():
    x = _images(200)
    y = np.asarray(random_shift(2)(jax.random.key(0), x))
    seen = set()
    for image, out in zip(x, y):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(out, _shifted(image, dy, dx))
        ]
        assert matches, "an output is not a shift of its input by at most 2"
        seen.update(matches)
    assert len(seen) == 25  # every offset is drawn
    assert np.array_equal(random_shift(0)(jax.random.key(0), x), x)


def test_shift_along_chosen_axes_only_and_under_jit():
    x = _images(50)
    y = np.asarray(jax.jit(random_shift(1, axes=(2,)))(jax.random.key(3), x))
    for image, out in zip(x, y):
        assert any(np.array_equal(out, _shifted(image, 0, dx)) for dx in (-1, 0, 1))


def test_chain_applies_each_in_order():
    x = _images(8)
    both = chain(random_flip(2, p=1.0), random_shift(0))(jax.random.key(0), x)
    assert np.array_equal(both, x[:, :, ::-1])


def test_bad_arguments_name_what_is_wrong():
    x = _images(4)
    with pytest.raises(ValueError, match="axis 0 is the example axis"):
        random_flip(0)(jax.random.key(0), x)
    with pytest.raises(ValueError, match="axis 4 is not an axis of a batch with 4 dims"):
        random_shift(1, axes=(1, 4))(jax.random.key(0), x)
    with pytest.raises(ValueError, match="`p` must lie in"):
        random_flip(2, p=1.5)
    with pytest.raises(ValueError, match="`max_shift` must be an int >= 0, got -1"):
        random_shift(-1)
    with pytest.raises(ValueError, match="at least one data axis"):
        random_flip(1)(jax.random.key(0), jnp.ones(3))
    with pytest.raises(TypeError, match="must be callable"):
        chain(random_flip(2), "flip")


def _fit_linear(augment):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64).astype(np.int32)
    x = (rng.normal(size=(64, 3, 2, 1)) + y[:, None, None, None]).astype(np.float32)
    model = serial(flatten(), dense(2))
    _, params, state = model.init(jax.random.key(0), x.shape[1:])
    result = fit(
        model, params, state, optimizer("sgd", 0.1), softmax_cross_entropy, x, y,
        epochs=3, batch_size=16, key=jax.random.key(1), augment=augment,
    )  # fmt: skip
    return params, result


def test_fit_trains_on_augmented_batches():
    # Blanking every training batch leaves no input gradient for the weights: only
    # the bias may move. Without augmentation the weights learn.
    before, blanked = _fit_linear(lambda key, x: jnp.zeros_like(x))
    w = before["dense"]["w"]
    np.testing.assert_array_equal(blanked.params["dense"]["w"], w)
    assert not np.array_equal(blanked.params["dense"]["b"], before["dense"]["b"])
    _, plain = _fit_linear(None)
    assert np.abs(np.asarray(plain.params["dense"]["w"]) - np.asarray(w)).max() > 1e-3
    with pytest.raises(TypeError, match="`augment` must be callable"):
        _fit_linear("flip")


def test_fit_seeds_checks_augment_too():
    from jaxnets.train import fit_seeds

    x = np.zeros((8, 2), np.float32)
    y = np.zeros(8, np.int32)
    with pytest.raises(TypeError, match="`augment` must be callable"):
        fit_seeds(
            serial(dense(2)), optimizer("sgd", 0.1), softmax_cross_entropy, x, y,
            keys=jax.random.split(jax.random.key(0), 2), epochs=1, batch_size=4, augment=3,
        )  # fmt: skip
