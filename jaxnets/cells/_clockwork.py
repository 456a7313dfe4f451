"""Clockwork RNN: modules of hidden units that tick at their own periods."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn.initializers import glorot_uniform, orthogonal

from jaxnets.core import Cell, check_shape, precision_policy, projected_cell

from ._common import activation_fn, check_carry, positive_int, project_input


class ClockworkCarry(NamedTuple):
    """h (B, H): the hidden state; t (B,) int32: the step counter."""

    h: jax.Array
    t: jax.Array


def clockwork(
    hidden_size: int,
    *,
    num_modules: int = 4,
    periods=None,
    activation="tanh",
    dtype=None,
    param_dtype=None,
    precision=None,
) -> Cell:
    """Clockwork RNN (Koutnik et al., 2014): g modules of k = H / g units.

    Module i has period T_i (default 2^i: 1, 2, 4, ...). At step t (counted from 0,
    so every module runs at the first step) module i updates only if t mod T_i == 0,
    otherwise it keeps its state:

      h_i' = f(x w_x[:, i] + b[i] + h[modules i..g-1] w_h[i])   if t mod T_i == 0
      h_i' = h_i                                                otherwise

    Module i reads the modules j >= i, i.e. itself and the slower ones: the recurrent
    matrix is block-triangular, slower modules feed faster ones and never the
    reverse. It is stored as its nonzero blocks only, k^2 g (g + 1) / 2 recurrent
    parameters, about half of an Elman RNN's H^2. ``x w_x + b`` of all steps is one
    matmul outside the time loop.

    Args:
      hidden_size: H, a multiple of the number of modules.
      num_modules: g, when ``periods`` is not given.
      periods: the periods T_i, non-decreasing (fast modules first); overrides
        ``num_modules``.
      activation: f.

    Returns:
      A Cell with carry ``ClockworkCarry(h, t)`` and output h' (B, H). Params:
      ``w_x`` (D, H), ``b`` (H,), ``w_h``: a tuple of g blocks, block i of shape
      ((g - i) k, k).
    """
    where = "clockwork"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    if periods is None:
        positive_int(where, "num_modules", num_modules)
        periods = tuple(2**i for i in range(num_modules))
    periods = tuple(periods)
    if not periods or not all(isinstance(p, int) and p > 0 for p in periods):
        raise ValueError(f"{where}: `periods` must be positive ints, got {periods!r}.")
    if list(periods) != sorted(periods):
        raise ValueError(
            f"{where}: `periods` must be non-decreasing (fast modules first), got {periods!r}."
        )
    g = len(periods)
    if hidden_size % g:
        raise ValueError(
            f"{where}: `hidden_size` must be a multiple of the {g} modules, got {hidden_size}."
        )
    k = hidden_size // g
    f = activation_fn(where, "activation", activation)
    unit_periods = np.repeat(np.array(periods, np.int32), k)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_x, *k_h = jax.random.split(key, g + 1)
        return {
            "w_x": glorot_uniform()(k_x, (input_size, hidden_size), policy.draw),
            "w_h": tuple(orthogonal()(k_h[i], ((g - i) * k, k), policy.draw) for i in range(g)),
            "b": jnp.zeros((hidden_size,), policy.draw),
        }

    def initial_carry(params, batch_shape):
        h = jnp.zeros((*batch_shape, hidden_size), params["w_x"].dtype)
        return ClockworkCarry(h, jnp.zeros(batch_shape, jnp.int32))

    def project(params, x):
        return project_input(f"{where}.step", params, x)

    def block_triangular(blocks):
        """The (H, H) recurrent matrix, zero where a faster module would feed a slower one.

        One (B, H) x (H, H) matmul does more multiplications than g small ones but runs
        faster; the matrix depends only on the params, so XLA builds it once, outside
        the time loop.
        """
        return jnp.concatenate(
            [jnp.pad(w, ((i * k, 0), (0, 0))) for i, w in enumerate(blocks)], axis=1
        )

    def forward(params, carry, z):
        h, t = carry
        check_carry(f"{where}.step", "carry.h", h, z, hidden_size)
        check_shape(f"{where}.step", "carry.t", t, z.shape[:-1])
        candidate = f(z + h @ block_triangular(params["w_h"]))
        ticks = (t[..., None] % unit_periods.reshape((1,) * t.ndim + (-1,))) == 0
        h = jnp.where(ticks, candidate, h)
        return ClockworkCarry(h, t + 1), h

    options = {"periods": periods, "activation": activation}
    return projected_cell(
        init, initial_carry, project, forward, policy=policy, kind="clockwork", options=options
    )
