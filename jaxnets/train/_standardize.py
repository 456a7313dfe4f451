"""Feature scaling fitted on training data only: z-score and min-max, invertible."""

from typing import NamedTuple

import jax.numpy as jnp

from jaxnets.core import along_last_axis


class Scaler(NamedTuple):
    """x_scaled = (x - shift) / scale, per feature (the last axis)."""

    shift: jnp.ndarray
    scale: jnp.ndarray


def _fit(where, x):
    x = jnp.asarray(x)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"{where}: `x` must have shape (N >= 2, ..., F), got {x.shape}.")
    return x, tuple(range(x.ndim - 1))


def fit_zscore(x) -> Scaler:
    """Scaler for (x - mean) / std with the sample std (n - 1), from training rows x.

    A constant feature gets scale 1, so it maps to 0 instead of NaN.
    """
    x, axes = _fit("fit_zscore", x)
    std = x.std(axis=axes, ddof=1)
    return Scaler(x.mean(axis=axes), jnp.where(std > 0, std, 1.0))


def fit_minmax(x) -> Scaler:
    """Scaler for (x - min) / (max - min) into [0, 1], from training rows x.

    A constant feature gets scale 1, so it maps to 0.
    """
    x, axes = _fit("fit_minmax", x)
    low, high = x.min(axis=axes), x.max(axis=axes)
    return Scaler(low, jnp.where(high > low, high - low, 1.0))


def transform(scaler: Scaler, x):
    """Apply a fitted scaler to any split."""
    x = jnp.asarray(x)
    return (x - along_last_axis(scaler.shift, x.ndim)) / along_last_axis(scaler.scale, x.ndim)


def inverse_transform(scaler: Scaler, x_scaled):
    """Undo ``transform``."""
    x_scaled = jnp.asarray(x_scaled)
    ndim = x_scaled.ndim
    return x_scaled * along_last_axis(scaler.scale, ndim) + along_last_axis(scaler.shift, ndim)
