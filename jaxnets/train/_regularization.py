"""L1 / L2 penalties on weights and the weight mask for optax's decoupled weight decay."""

import jax
import jax.numpy as jnp


def weights_mask(params, *, include_biases: bool = False):
    """True for the leaves a penalty applies to: arrays of rank >= 2 (weight matrices and
    kernels), plus vectors (biases, batch-norm scales, peepholes) if ``include_biases``.

    Pass it as ``mask`` to ``optax.add_decayed_weights`` for decoupled weight decay.
    """
    return jax.tree.map(lambda p: include_biases or p.ndim >= 2, params)


def l1_penalty(params, *, include_biases: bool = False):
    """sum |w| over the leaves ``weights_mask`` selects."""
    mask = weights_mask(params, include_biases=include_biases)
    leaves = [jnp.abs(p).sum() for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask)) if m]
    return sum(leaves, jnp.zeros(()))


def l2_penalty(params, *, include_biases: bool = False):
    """sum w^2 over the leaves ``weights_mask`` selects (no factor 1/2)."""
    mask = weights_mask(params, include_biases=include_biases)
    leaves = [
        jnp.square(p).sum() for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask)) if m
    ]
    return sum(leaves, jnp.zeros(()))
