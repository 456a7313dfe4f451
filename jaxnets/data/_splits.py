"""Index splits for honest evaluation: hold-out, k-fold and bootstrap, seeded."""

import numpy as np


def _n_and_labels(where, n_or_labels, stratify):
    if isinstance(n_or_labels, bool | float | str):
        raise TypeError(
            f"{where}: `n_or_labels` must be an int or an array of labels, got "
            f"{type(n_or_labels).__name__} {n_or_labels!r}."
        )
    if isinstance(n_or_labels, int | np.integer):
        if n_or_labels < 2:
            raise ValueError(
                f"{where}: `n_or_labels` must be at least 2 rows to split, got {n_or_labels}."
            )
        if stratify:
            raise ValueError(f"{where}: stratified splits need labels, got only n={n_or_labels}.")
        return int(n_or_labels), None
    labels = np.asarray(n_or_labels)
    if labels.ndim != 1 or len(labels) < 2:
        raise ValueError(
            f"{where}: `n_or_labels` as labels must be 1-d with at least 2 rows, got shape "
            f"{labels.shape}."
        )
    return len(labels), labels if stratify else None


def holdout(n_or_labels, *, test_fraction: float = 0.3, stratify: bool = True, seed: int = 0):
    """Train and test indices, 7:3 by default.

    Args:
      n_or_labels: the number of rows, or the labels (N,) to stratify on: each class
        is split in the same proportion.
      stratify: split each class separately (needs labels).

    Returns:
      ``(train_idx, test_idx)``, sorted int arrays.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"holdout: `test_fraction` must be in (0, 1), got {test_fraction!r}.")
    stratify = stratify and not isinstance(n_or_labels, int | np.integer)
    n, labels = _n_and_labels("holdout", n_or_labels, stratify)
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    test = []
    for group in groups:
        shuffled = rng.permutation(group)
        test.append(shuffled[: max(1, round(len(group) * test_fraction))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(n), test)
    if not len(train):
        raise ValueError(
            f"holdout: every class is too small to leave a training row at test_fraction="
            f"{test_fraction} ({n} rows); pass more rows or stratify=False."
        )
    return train, test


def kfold(n_or_labels, *, k: int = 10, stratify: bool = False, seed: int = 0):
    """k (train_idx, val_idx) pairs; the validation folds are disjoint and cover the data.

    With labels and ``stratify``, each class is dealt round-robin over the folds.
    """
    n, labels = _n_and_labels("kfold", n_or_labels, stratify)
    if not isinstance(k, int) or not 2 <= k <= n:
        raise ValueError(f"kfold: `k` must be an int in [2, n] = [2, {n}], got {k!r}.")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, np.int64)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    offset = 0
    for group in groups:
        shuffled = rng.permutation(group)
        fold_of[shuffled] = (np.arange(len(group)) + offset) % k
        offset += len(group)
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def bootstrap(n: int, *, draws: int = 100, seed: int = 0):
    """``draws`` (sample_idx, out_of_bag_idx) pairs: n rows drawn with replacement, and
    the rows never drawn (about 1/e = 36.8% of them for large n)."""
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"bootstrap: `n` must be an int >= 2, got {n!r}.")
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"bootstrap: `draws` must be a positive int, got {draws!r}.")
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(draws):
        sample = rng.integers(0, n, size=n)
        pairs.append((sample, np.setdiff1d(np.arange(n), sample)))
    return pairs


def train_test_split(*arrays, test_fraction: float = 0.3, seed: int = 0) -> list[np.ndarray]:
    """Rows of ``arrays`` split by ``holdout`` (unstratified), seeded.

    Returns:
      ``[a_train, a_test, b_train, b_test, ...]`` in the order of ``arrays``.
    """
    if not arrays:
        raise ValueError("train_test_split: needs at least one array, got none.")
    n = len(arrays[0])
    for i, a in enumerate(arrays):
        if len(a) != n:
            raise ValueError(
                f"train_test_split: `arrays[{i}]` has {len(a)} rows, expected {n} like arrays[0]."
            )
    train, test = holdout(n, test_fraction=test_fraction, stratify=False, seed=seed)
    return [part for a in arrays for part in (np.asarray(a)[train], np.asarray(a)[test])]
