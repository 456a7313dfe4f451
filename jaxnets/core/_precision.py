"""The precision policy of every layer and cell: which dtype params are stored in, which
dtype they compute in, and how precise their matmuls are.

The rule, in one place: params are drawn in float32 (float64 for float64 params) and
stored in ``param_dtype``; at apply (or step) time, params and floating inputs are cast
to the compute ``dtype``, so outputs and carries have the compute dtype. With no compute
``dtype`` a layer computes in the dtype its params arrive in: casting a model's float32
params to bfloat16 runs the whole model in bfloat16, which is how ``fit``'s mixed
precision works. Integer inputs (token ids) are never cast.
"""

import contextlib
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._shapes import float_dtype
from ._types import Cell, Layer

FLOAT_DTYPES = ("bfloat16", "float16", "float32", "float64")
MATMUL_PRECISIONS = ("default", "high", "highest")


def check_float_dtype(where: str, name: str, value, *, optional: bool = False):
    """``value`` as a NumPy dtype if it names a floating dtype, else a ``ValueError``
    naming the argument and the accepted values (``None`` passes when ``optional``)."""
    if value is None and optional:
        return None
    try:
        dtype = jnp.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in FLOAT_DTYPES:
        accepted = ", ".join(FLOAT_DTYPES) + (" or None" if optional else "")
        raise ValueError(f"{where}: `{name}` must be a floating dtype ({accepted}), got {value!r}.")
    return dtype


def check_precision(where: str, value):
    """A matmul precision: ``None`` (JAX's default), a name or a ``lax.Precision``."""
    if value is None or isinstance(value, lax.Precision):
        return value
    if isinstance(value, str) and value in MATMUL_PRECISIONS:
        return value
    raise ValueError(
        f"{where}: `precision` must be None, a jax.lax.Precision or one of "
        f"{list(MATMUL_PRECISIONS)}, got {value!r}."
    )


def cast_floats(tree, dtype):
    """Every real floating leaf of ``tree`` cast to ``dtype``; other leaves unchanged.
    A tree with nothing to cast is returned as it is (its dicts keep their key order)."""
    dtype = jnp.dtype(dtype)
    floats = [
        jnp.result_type(leaf)
        for leaf in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)
    ]
    if all(leaf_dtype == dtype for leaf_dtype in floats):
        return tree

    def cast(leaf):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.asarray(leaf).astype(dtype)
        return leaf

    return jax.tree.map(cast, tree)


class Precision(NamedTuple):
    """A layer's or cell's precision policy (see the module docstring).

    ``dtype``: the compute dtype, or ``None`` for the dtype of the params it is given.
    ``param_dtype``: the dtype ``init`` stores params in. ``precision``: the matmul
    precision of ``jax.default_matmul_precision`` while it computes; ``None`` keeps
    JAX's default (exact float32 on CPU; TF32 passes for float32 on recent NVIDIA GPUs;
    bfloat16 passes on TPUs).
    """

    dtype: Any
    param_dtype: Any
    precision: Any

    @property
    def draw(self):
        """The dtype initializers draw in: bfloat16 and float16 lack the QR that the
        orthogonal initializer needs, so 16-bit params are drawn in float32 and cast."""
        return jnp.float64 if self.param_dtype == np.dtype("float64") else jnp.float32

    def compute(self, params):
        return self.dtype if self.dtype is not None else float_dtype(params)

    def matmuls(self):
        if self.precision is None:
            return contextlib.nullcontext()
        return jax.default_matmul_precision(
            self.precision if isinstance(self.precision, str) else self.precision.name.lower()
        )


def precision_policy(where: str, *, dtype=None, param_dtype=None, precision=None) -> Precision:
    """The checked policy of a constructor's ``dtype``, ``param_dtype`` and ``precision``.

    ``param_dtype`` defaults to ``dtype``, and to float32 when neither is given.
    """
    dtype = check_float_dtype(where, "dtype", dtype, optional=True)
    param_dtype = check_float_dtype(where, "param_dtype", param_dtype, optional=True)
    precision = check_precision(where, precision)
    param_dtype = param_dtype or dtype or np.dtype("float32")
    return Precision(dtype, param_dtype, precision)


def _check_carry(where: str, carry, dtype) -> None:
    for leaf in jax.tree.leaves(carry):
        leaf_dtype = jnp.result_type(leaf)
        if jnp.issubdtype(leaf_dtype, jnp.floating) and leaf_dtype != dtype:
            raise ValueError(
                f"{where}: the carry has dtype {leaf_dtype} but the cell computes in "
                f"{jnp.dtype(dtype)} (its `dtype`, or its params' dtype); pass a carry "
                f"from cell.initial_carry, or cast it with .astype({jnp.dtype(dtype).name})."
            )


def policy_cell(cell: Cell, policy: Precision, *, name: str) -> Cell:
    """``cell`` under ``policy``: init stores params in ``param_dtype``; initial_carry,
    step and the projection hook cast params and inputs to the compute dtype and run
    under the policy's matmul precision. Tag the returned cell, not ``cell``."""

    def init(key, input_size):
        return cast_floats(cell.init(key, input_size), policy.param_dtype)

    def initial_carry(params, batch_shape):
        return cell.initial_carry(cast_floats(params, policy.compute(params)), batch_shape)

    def step(params, carry, x):
        dtype = policy.compute(params)
        _check_carry(f"{name}.step", carry, dtype)
        with policy.matmuls():
            return cell.step(cast_floats(params, dtype), carry, cast_floats(x, dtype))

    if cell.project is None:
        return Cell(init, initial_carry, step)

    def project(params, x):
        dtype = policy.compute(params)
        with policy.matmuls():
            return cell.project(cast_floats(params, dtype), cast_floats(x, dtype))

    def recur(params, carry, z):
        dtype = policy.compute(params)
        _check_carry(f"{name}.step", carry, dtype)
        with policy.matmuls():
            return cell.recur(cast_floats(params, dtype), carry, z)

    return Cell(init, initial_carry, step, project, recur)


def policy_layer(layer: Layer, policy: Precision) -> Layer:
    """``layer`` under ``policy``: init stores params and state in ``param_dtype``;
    apply casts params, state and floating inputs to the compute dtype, runs under the
    policy's matmul precision, and returns the new state in the dtypes it came in."""

    def init(key, input_shape):
        shape, params, state = layer.init(key, input_shape)
        return (
            shape,
            cast_floats(params, policy.param_dtype),
            cast_floats(state, policy.param_dtype),
        )

    @functools.wraps(layer.apply)  # its signature: the keywords it takes stay visible
    def apply(params, state, x, **kwargs):
        dtype = policy.compute(params)
        with policy.matmuls():
            y, new_state = layer.apply(
                cast_floats(params, dtype), cast_floats(state, dtype), cast_floats(x, dtype),
                **kwargs,
            )  # fmt: skip
        new_state = jax.tree.map(
            lambda new, old: new.astype(jnp.result_type(old)), new_state, state
        )
        return y, new_state

    return Layer(init, apply, layer.name, layer.children)
