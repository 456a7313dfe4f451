"""The Linear Recurrent Unit (Orvieto et al. 2023) and a plain diagonal linear RNN."""

import math

import jax
import jax.numpy as jnp

from jaxnets.core import Cell, along_last_axis, check_shape, precision_policy

from ._common import positive_int
from ._linear import linear_recurrence


def lru(
    hidden_size: int,
    *,
    r_min: float = 0.0,
    r_max: float = 1.0,
    max_phase: float = 2 * math.pi,
    dtype=None,
    param_dtype=None,
    precision=None,
) -> Cell:
    """Linear Recurrent Unit (Orvieto et al. 2023): a complex diagonal recurrence.

      lambda = exp(-exp(nu_log) + i exp(theta_log))       (|lambda| < 1 for any params)
      h'     = lambda * h + exp(gamma_log) * (x (b_re + i b_im))
      y      = Re(h' (c_re + i c_im)) + d * x

    The exponential parametrization keeps every eigenvalue inside the unit circle. Ring
    initialization draws |lambda| uniformly on the ring r_min <= |lambda| <= r_max (by
    area) and its phase in [0, max_phase]; gamma = sqrt(1 - |lambda|^2) normalizes the
    input so that the state's scale does not grow as |lambda| nears 1. B ~ N(0, 1/(2D)),
    C ~ N(0, 1/H) (real and imaginary parts), d ~ N(0, 1). The output has the input's
    size D, as the paper's block has. Linear in h: ``unroll="associative"`` runs it as
    a parallel scan.

    Args:
      hidden_size: H, the number of complex state units.
      r_min: the ring's inner radius: the smallest initial eigenvalue magnitude.
      r_max: its outer radius, 0 <= r_min < r_max <= 1.
      max_phase: the largest initial eigenvalue phase.

    Returns:
      A Cell with a complex carry h (B, H) and output y (B, D). Params: ``nu_log``,
      ``theta_log``, ``gamma_log`` (H,), ``b_re``, ``b_im`` (D, H), ``c_re``, ``c_im``
      (H, D), ``d`` (D,).

    References:
      Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu, De. Resurrecting recurrent
      neural networks for long sequences. ICML 2023.
    """
    where = "lru"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    if not 0.0 <= r_min < r_max <= 1.0:
        raise ValueError(f"{where}: need 0 <= `r_min` < `r_max` <= 1, got {r_min}, {r_max}.")

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_u1, k_u2, k_b, k_c, k_d = jax.random.split(key, 5)
        shape = (hidden_size,)
        # Drawn in float32 (uniform draws near 1 need the precision), then cast to
        # `param_dtype` by the policy.
        u1 = jax.random.uniform(k_u1, shape)
        u2 = jax.random.uniform(k_u2, shape)
        nu_log = jnp.log(-0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2))
        theta_log = jnp.log(max_phase * u2)
        gamma_log = 0.5 * jnp.log1p(-jnp.exp(-2 * jnp.exp(nu_log)))  # log sqrt(1 - |l|^2)
        b = jax.random.normal(k_b, (2, input_size, hidden_size)) / math.sqrt(2 * input_size)
        c = jax.random.normal(k_c, (2, hidden_size, input_size)) / math.sqrt(hidden_size)
        params = {
            "nu_log": nu_log, "theta_log": theta_log, "gamma_log": gamma_log,
            "b_re": b[0], "b_im": b[1], "c_re": c[0], "c_im": c[1],
            "d": jax.random.normal(k_d, (input_size,)),
        }  # fmt: skip
        return params

    def initial_carry(params, batch_shape):
        complex_dtype = jnp.result_type(params["nu_log"].dtype, jnp.complex64)
        return jnp.zeros((*batch_shape, hidden_size), complex_dtype)

    def coefficients(params, x):
        check_shape(f"{where}.step", "x", x, (..., params["b_re"].shape[0]))
        lam = eigenvalues(params)
        bx = x @ params["b_re"] + 1j * (x @ params["b_im"])
        b = along_last_axis(jnp.exp(params["gamma_log"]), x.ndim) * bx
        return jnp.broadcast_to(along_last_axis(lam, x.ndim), b.shape), b

    def output(params, h, x):
        y = h.real @ params["c_re"] - h.imag @ params["c_im"]
        return (y + along_last_axis(params["d"], x.ndim) * x).astype(x.dtype)

    return linear_recurrence(init, initial_carry, coefficients, output, name=where, policy=policy)


def eigenvalues(params):
    """The LRU's diagonal recurrence, exp(-exp(nu_log) + i exp(theta_log)): (H,) complex."""
    return jnp.exp(-jnp.exp(params["nu_log"]) + 1j * jnp.exp(params["theta_log"]))


def diagonal_rnn(hidden_size: int, *, dtype=None, param_dtype=None, precision=None) -> Cell:
    """A plain diagonal linear RNN: each unit decays by its own factor.

      h' = a * h + x w_x + b,  y = h'

    ``a`` (H,) is a free parameter, initialized uniformly in [0.5, 1): the recurrence
    is stable while |a| < 1, which nothing enforces (the LRU's parametrization does).
    Linear in h: ``unroll="associative"`` runs it as a parallel scan.

    Returns:
      A Cell with carry h (B, H) and output h' (B, H). Params: ``a`` (H,), ``w_x``
      (D, H), ``b`` (H,).
    """
    where = "diagonal_rnn"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)

    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        k_a, k_x = jax.random.split(key)
        return {
            "a": jax.random.uniform(k_a, (hidden_size,), policy.draw, 0.5, 1.0),
            "w_x": jax.nn.initializers.glorot_uniform()(
                k_x, (input_size, hidden_size), policy.draw
            ),
            "b": jnp.zeros((hidden_size,), policy.draw),
        }

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_x"].dtype)

    def coefficients(params, x):
        check_shape(f"{where}.step", "x", x, (..., params["w_x"].shape[0]))
        b = x @ params["w_x"] + along_last_axis(params["b"], x.ndim)
        return jnp.broadcast_to(along_last_axis(params["a"], x.ndim), b.shape), b

    def output(params, h, x):
        return h

    return linear_recurrence(init, initial_carry, coefficients, output, name=where, policy=policy)
