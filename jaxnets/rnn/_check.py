"""The one suite that proves a cell kernel equal to the plain scan over the cell's step."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.core import Cell, float_dtype
from jaxnets.kernels import KERNELS

from ._unroll import unroll


def check_kernel(
    cell: Cell,
    impl: str,
    *,
    input_size: int = 3,
    batch_size: int = 4,
    steps=(1, 10, 23),
    remat: int = 3,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> int:
    """Check kernel ``impl`` against ``unroll(cell, ..., impl="reference")``.

    The reference is ``lax.scan`` over the cell's own ``step`` (with its projection
    hook), differentiated by JAX. Compared: outputs, final carries and the gradients of
    a loss of both with respect to params, inputs and the initial carry; at every T in
    ``steps`` (use one that no block size of the kernel divides), forward and reverse,
    without and with ``lengths`` (T, 1 and values between), and with ``remat`` blocks
    at the largest T. Params are the cell's init plus noise, so that every term of the
    equations matters; inputs and the initial carry are random.

    A kernel registered without ``lengths`` (one that leaves padded batches to others) is
    checked without them, and must refuse them with a ``ValueError``.

    Returns the number of cases checked; raises ``AssertionError`` naming the first case
    and value that differ beyond ``rtol``/``atol``, and ``ValueError`` (from ``unroll``)
    when the kernel does not apply to the cell.
    """
    padding = (False, True) if impl not in KERNELS or KERNELS[impl].lengths else (False,)
    rng = np.random.default_rng(seed)
    params = cell.init(jax.random.key(seed), input_size)
    dtype = float_dtype(params)
    params = jax.tree.map(lambda a: a + _noise(rng, a.shape, a.dtype, 0.1), params)
    longest = max(steps)
    cases = [
        (num_steps, reverse, padded, None)
        for num_steps in steps
        for reverse in (False, True)
        for padded in padding
    ] + [(longest, reverse, padding[-1], remat) for reverse in (False, True)]
    for num_steps, reverse, padded, blocks in cases:
        xs = _noise(rng, (batch_size, num_steps, input_size), dtype, 1.0)
        carry = jax.tree.map(
            lambda c: _noise(rng, c.shape, c.dtype, 0.5) if _floating(c) else c,
            cell.initial_carry(params, (batch_size,)),
        )
        lengths = _lengths(num_steps, batch_size) if padded else None
        run = {"lengths": lengths, "reverse": reverse, "remat": blocks}
        got = _value_and_grads(cell, params, xs, carry, run, impl)
        want = _value_and_grads(cell, params, xs, carry, run, "reference")
        paths = jax.tree_util.tree_flatten_with_path(want)[0]
        for (path, b), a in zip(paths, jax.tree.leaves(got)):
            case = f"T={num_steps}, reverse={reverse}, lengths={lengths}, remat={blocks}"
            np.testing.assert_allclose(
                a, b, rtol=rtol, atol=atol,
                err_msg=f"check_kernel: kernel {impl!r} differs from the reference at {case}: "
                f"{'(value, (d params, d xs, d carry))'}{jax.tree_util.keystr(path)}",
            )  # fmt: skip
    if padding == (False,):
        xs = _noise(rng, (batch_size, longest, input_size), dtype, 1.0)
        try:
            unroll(cell, params, xs, lengths=_lengths(longest, batch_size), impl=impl)
        except ValueError:
            pass
        else:
            raise AssertionError(f"check_kernel: kernel {impl!r} took lengths it is not for")
    return len(cases)


def _floating(a) -> bool:
    return jnp.issubdtype(jnp.result_type(a), jnp.floating)


def _noise(rng, shape, dtype, scale):
    return jnp.asarray(scale * rng.normal(size=shape), dtype)


def _lengths(num_steps, batch_size):
    """Lengths in [1, T]: T, 1, then values between, repeated over the batch."""
    choices = [num_steps, 1, max(1, (num_steps + 1) // 2), max(1, num_steps - 3)]
    return np.array([choices[i % len(choices)] for i in range(batch_size)])


def _value_and_grads(cell, params, xs, carry, run, impl):
    def loss(params, xs, carry):
        final, ys = unroll(cell, params, xs, carry=carry, impl=impl, **run)
        # Outputs and carries weigh differently, so a swapped or mis-scaled term shows.
        weights = jnp.linspace(0.5, 1.5, ys.shape[-1], dtype=ys.dtype)
        weights = weights.reshape((1,) * (ys.ndim - 1) + (-1,))
        carries = sum(jnp.sum(c**3) for c in jax.tree.leaves(final) if _floating(c))
        return jnp.sum(jnp.tanh(ys) * weights) + carries

    argnums = (0, 1, 2) if any(_floating(c) for c in jax.tree.leaves(carry)) else (0, 1)
    return jax.jit(jax.value_and_grad(loss, argnums=argnums))(params, xs, carry)
