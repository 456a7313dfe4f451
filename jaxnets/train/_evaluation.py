"""Evaluation protocols around a train-and-score function: k-fold and bootstrap."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from jaxnets.data import bootstrap, kfold


class Estimate(NamedTuple):
    """A metric over repeated train/evaluate runs: mean, std, a percentile interval
    (``low``, ``high``; bootstrap only, else NaN) and every run's value."""

    mean: float
    std: float
    low: float
    high: float
    values: np.ndarray


def cross_validate(
    score: Callable, n_or_labels, *, k: int = 10, stratify: bool = False, seed: int = 0
) -> Estimate:
    """k-fold cross-validation: ``score(train_idx, val_idx) -> float`` once per fold.

    ``score`` trains a fresh model on the training rows and returns its metric on
    the held-out fold. Returns the mean and sample std (n - 1) over the k folds.
    """
    values = np.array(
        [score(tr, va) for tr, va in kfold(n_or_labels, k=k, stratify=stratify, seed=seed)]
    )
    return Estimate(float(values.mean()), float(values.std(ddof=1)), np.nan, np.nan, values)


def bootstrap_evaluate(
    score: Callable, n: int, *, draws: int = 100, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """Bootstrap: train on n rows drawn with replacement, score on the out-of-bag rows.

    Returns the mean, sample std and the percentile interval covering ``confidence``
    of the ``draws`` values.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_evaluate: `confidence` must be in (0, 1), got {confidence!r}.")
    values = np.array([score(s, oob) for s, oob in bootstrap(n, draws=draws, seed=seed)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return Estimate(float(values.mean()), std, float(low), float(high), values)
