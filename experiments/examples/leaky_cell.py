"""A cell written outside jaxnets, swept by import path: a leaky Elman cell.

    h = (1 - a) * h + a * tanh(x w_x + h w_h + b),   a = sigmoid(leak), one per unit

A learned leak per unit lets some units integrate slowly (a small a keeps most of h), the
idea behind leaky-integrator echo-state networks. The sweep over it:

    jaxnets sweep experiments/configs/leaky_cell.yaml
"""

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform, orthogonal

from jaxnets.core import Cell


def leaky_rnn(hidden_size: int, *, leak: float = 0.5) -> Cell:
    """A leaky Elman cell of ``hidden_size`` units whose leaks start at ``leak`` in (0, 1)."""
    if not 0 < leak < 1:
        raise ValueError(f"leaky_rnn: `leak` must be in (0, 1), got {leak!r}.")

    def init(key, input_size):
        k_x, k_h = jax.random.split(key)
        return {
            "w_x": glorot_uniform()(k_x, (input_size, hidden_size)),
            "w_h": orthogonal()(k_h, (hidden_size, hidden_size)),
            "b": jnp.zeros(hidden_size),
            "leak": jnp.full(hidden_size, jnp.log(leak / (1 - leak))),  # sigmoid^-1
        }

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size))

    def step(params, h, x):
        a = jax.nn.sigmoid(params["leak"])
        h = (1 - a) * h + a * jnp.tanh(x @ params["w_x"] + h @ params["w_h"] + params["b"][None])
        return h, h

    return Cell(init, initial_carry, step)
