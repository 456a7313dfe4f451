"""minGRU and minLSTM (Feng et al. 2024): gates that read the input alone, so the state
update is linear in the state and the recurrence can run as a parallel scan."""

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform

from jaxnets.core import Cell, along_last_axis, check_shape, precision_policy

from ._common import positive_int
from ._linear import linear_recurrence


def _log_g(v):
    """log g(v) for g(v) = v + 1/2 (v >= 0), sigmoid(v) (v < 0): positive, continuous."""
    return jnp.where(v >= 0, jnp.log(jax.nn.relu(v) + 0.5), -jax.nn.softplus(-v))


def _dense_init(where, hidden_size, parts, dtype):
    def init(key, input_size):
        positive_int(f"{where}.init", "input_size", input_size)
        return {
            "w_x": glorot_uniform()(key, (input_size, parts * hidden_size), dtype),
            "b": jnp.zeros((parts * hidden_size,), dtype),
        }

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size), params["w_x"].dtype)

    return init, initial_carry


def _projected(where, params, x, parts):
    check_shape(f"{where}.step", "x", x, (..., params["w_x"].shape[0]))
    return jnp.split(x @ params["w_x"] + along_last_axis(params["b"], x.ndim), parts, axis=-1)


def _state(params, h, x):
    return h


def min_gru(hidden_size: int, *, dtype=None, param_dtype=None, precision=None) -> Cell:
    """minGRU (Feng et al. 2024): the GRU with gates that read only x_t.

      z  = sigmoid(x w_x[:, z] + b[z])
      h~ = g(x w_x[:, h] + b[h]),  g(v) = v + 1/2 for v >= 0, sigmoid(v) for v < 0
      h' = (1 - z) * h + z * h~

    Linear in h, so ``unroll(..., unroll="associative")`` runs it as a parallel scan,
    in log space as the paper does (log(1 - z) = -softplus(k), log z = -softplus(-k),
    log h~ = log g): long products of gates neither under- nor overflow.

    Returns:
      A Cell with carry h (B, H) and output h' (B, H). Params: ``w_x`` (D, 2H),
      ``b`` (2H,), in the order (z, h~).

    References:
      Feng, Tung, Ahmed, Bengio, Hajimirsadeghi. Were RNNs all we needed? 2024.
    """
    where = "min_gru"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    init, initial_carry = _dense_init(where, hidden_size, 2, policy.draw)

    def log_coefficients(params, x):
        k, v = _projected(where, params, x, 2)
        return -jax.nn.softplus(k), -jax.nn.softplus(-k) + _log_g(v)

    return linear_recurrence(
        init, initial_carry, log_coefficients, _state, name=where, log_space=True, policy=policy
    )


def min_lstm(hidden_size: int, *, dtype=None, param_dtype=None, precision=None) -> Cell:
    """minLSTM (Feng et al. 2024): the LSTM with gates that read only x_t, normalized.

      f  = sigmoid(x w_x[:, f] + b[f]),  i = sigmoid(x w_x[:, i] + b[i])
      f' = f / (f + i),  i' = i / (f + i)
      h~ = g(x w_x[:, h] + b[h])   (g as in ``min_gru``)
      h' = f' * h + i' * h~

    The normalization makes the update time-independent in scale, as the paper's
    parallel mode has it. Linear in h: ``unroll="associative"`` runs it in log space
    (log f' = -softplus(d), log i' = -softplus(-d), d = softplus(-k_f) - softplus(-k_i)).

    Returns:
      A Cell with carry h (B, H) and output h' (B, H). Params: ``w_x`` (D, 3H),
      ``b`` (3H,), in the order (f, i, h~).

    References:
      Feng, Tung, Ahmed, Bengio, Hajimirsadeghi. Were RNNs all we needed? 2024.
    """
    where = "min_lstm"
    policy = precision_policy(where, dtype=dtype, param_dtype=param_dtype, precision=precision)
    positive_int(where, "hidden_size", hidden_size)
    init, initial_carry = _dense_init(where, hidden_size, 3, policy.draw)

    def log_coefficients(params, x):
        k_f, k_i, v = _projected(where, params, x, 3)
        d = jax.nn.softplus(-k_f) - jax.nn.softplus(-k_i)
        return -jax.nn.softplus(d), -jax.nn.softplus(-d) + _log_g(v)

    return linear_recurrence(
        init, initial_carry, log_coefficients, _state, name=where, log_space=True, policy=policy
    )
