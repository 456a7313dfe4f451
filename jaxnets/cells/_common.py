"""What every cell does the same way: argument checks, the input projection, weights."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform, orthogonal

from jaxnets.core import along_last_axis, check_shape, gate_columns, normalize
from jaxnets.core import project_gates as core_project_gates

ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda v: v,
}


def positive_int(where: str, name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: `{name}` must be a positive int, got {value!r}.")
    return value


def activation_fn(where: str, name: str, value) -> Callable:
    """A named activation ('tanh', 'relu', 'sigmoid', 'identity') or any callable."""
    if callable(value):
        return value
    if value not in ACTIVATIONS:
        raise ValueError(
            f"{where}: `{name}` must be one of {sorted(ACTIVATIONS)} or a callable, got {value!r}."
        )
    return ACTIVATIONS[value]


def init_weights(key, input_size: int, recurrent_size: int, width: int, dtype) -> dict:
    """Params ``w_x`` (D, width) Glorot uniform, ``w_h`` (R, width) orthogonal, ``b`` zeros."""
    k_x, k_h = jax.random.split(key)
    return {
        "w_x": glorot_uniform()(k_x, (input_size, width), dtype),
        "w_h": orthogonal()(k_h, (recurrent_size, width), dtype),
        "b": jnp.zeros((width,), dtype),
    }


def project_input(where: str, params: dict, x):
    """z = x @ w_x + b for x (..., D): every step's input part in one matmul."""
    check_shape(where, "x", x, (..., params["w_x"].shape[0]))
    return x @ params["w_x"] + along_last_axis(params["b"], x.ndim)


def normalized_gates(where: str, params: dict, x, num_gates: int) -> tuple:
    """Per gate g, z_g = LN(x @ w_x)[:, g] * ln_x_scale[g] + b[g]: the input projection
    of layer-normalized cells (Ba et al. 2016), normalized over all gates together."""
    check_shape(where, "x", x, (..., params["w_x"].shape[0]))
    z = scaled_norm(x @ params["w_x"], params["ln_x_scale"]) + along_last_axis(params["b"], x.ndim)
    return gate_columns(z, num_gates)


def scaled_norm(v, scale, bias=None):
    """Layer normalization of v (..., N) over its last axis, times ``scale`` (N,), plus
    ``bias``: the gains (and the cell's bias) of Ba et al.'s layer-normalized RNNs."""
    y = normalize(v, eps=LN_EPS) * along_last_axis(scale, v.ndim)
    return y if bias is None else y + along_last_axis(bias, v.ndim)


# torch.nn.LayerNorm's default.
LN_EPS = 1e-5


def check_carry(where: str, name: str, value, z, size: int) -> None:
    """The carry part must be (*batch, size) with the batch shape of the input."""
    check_shape(where, name, value, (*z.shape[:-1], size))


def project_gates(where: str, params: dict, x, num_gates: int) -> tuple:
    """Per gate g, z_g = x @ w_x[:, g] + b[g] for x (..., D), after checking x's last axis."""
    check_shape(where, "x", x, (..., params["w_x"].shape[0]))
    return core_project_gates(params, x, num_gates)
