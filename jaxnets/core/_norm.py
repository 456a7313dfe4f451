"""Normalization over trailing axes: the one copy that layers and cells both read."""

import jax.numpy as jnp
from jax import lax


def normalize(x, *, num_axes: int = 1, eps: float = 1e-5, center: bool = True):
    """x standardized over its last ``num_axes`` axes, in x's dtype.

      center=True:   (x - mean(x)) / sqrt(var(x) + eps)     (layer normalization)
      center=False:  x / sqrt(mean(x^2) + eps)              (RMS normalization)

    var is the biased variance (/ n), as in ``torch.nn.LayerNorm``. The statistics are
    taken in at least float32: a bfloat16 mean of many values drifts.
    """
    axes = tuple(range(x.ndim - num_axes, x.ndim))
    stats = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    if center:
        stats = stats - stats.mean(axes, keepdims=True)
    y = stats * lax.rsqrt(jnp.mean(jnp.square(stats), axes, keepdims=True) + eps)
    return y.astype(x.dtype)
