"""The adding problem (Hochreiter & Schmidhuber, 1997): a long-range memory task."""

import numpy as np


def adding_problem(n: int, length: int, *, seed: int = 0):
    """Sequences of (value, marker) pairs whose target is the sum of the two marked values.

    Values are uniform in [0, 1]; exactly one marker is set in the first half of the
    sequence and one in the second half. Predicting the mean (1) scores an MSE of
    Var(U1 + U2) = 1/6, about 0.167, so anything below needs memory across up to
    ``length`` steps.

    Returns:
      ``(x, y)``: x (n, length, 2) float32, y (n, 1) float32.
    """
    if not isinstance(length, int) or length < 2:
        raise ValueError(f"adding_problem: `length` must be an int >= 2, got {length!r}.")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"adding_problem: `n` must be a positive int, got {n!r}.")
    rng = np.random.default_rng(seed)
    values = rng.random((n, length))
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    markers = np.zeros((n, length))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[np.arange(n), first] + values[np.arange(n), second])[:, None].astype(np.float32)
    return x, y
