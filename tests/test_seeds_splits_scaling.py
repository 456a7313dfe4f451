"""Many seeds in one program; hold-out, k-fold and bootstrap; standardization."""

import jax
import numpy as np
import pytest

from jaxnets.data import bootstrap, holdout, kfold
from jaxnets.layers import dense, dropout, serial
from jaxnets.train import (
    accuracy,
    bootstrap_evaluate,
    cross_validate,
    fit,
    fit_minmax,
    fit_seeds,
    fit_zscore,
    init_and_fit_key,
    inverse_transform,
    optimizer,
    softmax_cross_entropy,
    transform,
)


def test_vmapped_seeds_equal_the_same_seeds_one_by_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = serial(dense(8, activation=jax.nn.relu), dropout(0.2), dense(2))
    opt = optimizer("adam", 1e-2)
    keys = jax.random.split(jax.random.key(0), 3)
    validation = (x[:20], y[:20])
    result = fit_seeds(
        model, opt, softmax_cross_entropy, x, y, keys=keys, epochs=3, batch_size=16,
        validation=validation, metric=accuracy,
    )  # fmt: skip
    params, history = result.params, result.history
    assert history.loss.shape == history.val_metric.shape == (3, 3)
    for i, key in enumerate(keys):
        k_init, k_fit = init_and_fit_key(key)
        _, p, s = model.init(k_init, (5,))
        alone = fit(
            model, p, s, opt, softmax_cross_entropy, x, y, epochs=3, batch_size=16, key=k_fit,
            validation=validation, metric=accuracy,
        )  # fmt: skip
        mine = jax.tree.map(lambda a, i=i: a[i], params)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), mine, alone.params
        )
        np.testing.assert_allclose(history.loss[i], alone.history.loss, rtol=1e-5)
        np.testing.assert_allclose(history.val_metric[i], alone.history.val_metric)
    assert not np.allclose(history.loss[0], history.loss[1])  # the seeds differ


def test_holdout_sizes_and_stratification():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train, test = holdout(labels, seed=3)
    assert len(test) == 15 + 9 + 6 and len(train) == 70
    assert np.intersect1d(train, test).size == 0
    assert [int((labels[test] == c).sum()) for c in range(3)] == [15, 9, 6]
    again = holdout(labels, seed=3)
    np.testing.assert_array_equal(again[1], test)
    train, test = holdout(10, test_fraction=0.2, stratify=False, seed=0)
    assert (len(train), len(test)) == (8, 2)


def test_kfold_folds_are_disjoint_and_cover_the_data():
    folds = kfold(23, k=5, seed=1)
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals) == list(range(23))
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0 and len(train) + len(val) == 23
        assert len(val) in (4, 5)
    labels = np.repeat([0, 1], [20, 10])
    for _, val in kfold(labels, k=10, stratify=True, seed=0):
        assert list(np.bincount(labels[val], minlength=2)) == [2, 1]
    with pytest.raises(ValueError, match=r"`k` must be an int in \[2, n\] = \[2, 23\], got 1"):
        kfold(23, k=1)
    with pytest.raises(ValueError, match="`k`"):
        kfold(5, k=6)


def test_bootstrap_out_of_bag_fraction_is_near_one_over_e():
    pairs = bootstrap(5000, draws=20, seed=0)
    fractions = [len(oob) / 5000 for _, oob in pairs]
    assert abs(np.mean(fractions) - np.exp(-1)) < 0.005
    for sample, oob in pairs[:3]:
        assert np.intersect1d(sample, oob).size == 0
        assert len(sample) == 5000 and len(np.unique(sample)) + len(oob) == 5000


def test_cross_validate_and_bootstrap_evaluate_summarize_scores():
    estimate = cross_validate(lambda train, val: float(len(val)), 20, k=4)
    assert estimate.mean == 5.0 and estimate.std == 0.0 and len(estimate.values) == 4
    boot = bootstrap_evaluate(lambda sample, oob: len(oob) / 200, 200, draws=200, seed=1)
    assert boot.low < np.exp(-1) < boot.high and boot.low < boot.mean < boot.high
    np.testing.assert_allclose(boot.low, np.percentile(boot.values, 2.5))


def test_standardization_uses_training_statistics_only(rng):
    train = rng.normal(loc=5.0, scale=2.0, size=(200, 3)).astype(np.float32)
    train[:, 2] = 7.0  # a constant feature
    test = train + 100.0  # a shifted test split
    scaler = fit_zscore(train)
    np.testing.assert_allclose(scaler.shift[:2], train[:, :2].mean(0), rtol=1e-5)
    np.testing.assert_allclose(scaler.scale[:2], train[:, :2].std(0, ddof=1), rtol=1e-5)
    z_train, z_test = transform(scaler, train), transform(scaler, test)
    np.testing.assert_allclose(z_train[:, :2].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z_train[:, :2].std(0, ddof=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(z_train[:, 2], 0.0)
    assert (np.asarray(z_test[:, :2]).mean(0) > 40).all()  # not re-centred on the test split
    np.testing.assert_allclose(inverse_transform(scaler, z_test), test, rtol=1e-5)
    minmax = fit_minmax(train)
    m = transform(minmax, train)
    np.testing.assert_allclose(m[:, :2].min(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(m[:, :2].max(0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(m[:, 2], 0.0)
    np.testing.assert_allclose(inverse_transform(minmax, m), train, rtol=1e-5)
    with pytest.raises(ValueError, match="`x` must have shape"):
        fit_zscore(train[:1])
