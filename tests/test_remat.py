"""Rematerialization over time blocks: the same gradients, less memory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import clockwork, gru, lstm
from jaxnets.rnn import unroll


def _grads(cell, params, xs, **options):
    def loss(params):
        carry, ys = unroll(cell, params, xs, **options)
        return jnp.sum(ys**2) + sum(
            jnp.sum(c**2) for c in jax.tree.leaves(carry) if c.dtype != jnp.int32
        )

    return jax.jit(jax.grad(loss))(params)


@pytest.mark.parametrize("cell", [lstm(6), gru(5), clockwork(8, num_modules=2)], ids=str)
@pytest.mark.parametrize("remat", [1, 4, "sqrt", 50])
@pytest.mark.parametrize("reverse", [False, True])
def test_remat_gives_the_same_gradients(rng, cell, remat, reverse):
    params = cell.init(jax.random.key(0), 3)
    xs = jnp.asarray(rng.normal(size=(2, 23, 3)).astype(np.float32))
    lengths = jnp.array([23, 9])
    for lengths_or_none in (None, lengths):
        plain = _grads(cell, params, xs, reverse=reverse, lengths=lengths_or_none)
        blocked = _grads(cell, params, xs, reverse=reverse, lengths=lengths_or_none, remat=remat)
        for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(blocked)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_remat_keeps_less_for_the_backward_pass():
    cell = lstm(64)
    params = cell.init(jax.random.key(0), 16)
    xs = jnp.zeros((8, 400, 16))

    def temp_bytes(**options):
        step = jax.jit(jax.grad(lambda p: jnp.sum(unroll(cell, p, xs, **options)[1])))
        return step.lower(params).compile().memory_analysis().temp_size_in_bytes

    plain, blocked = temp_bytes(), temp_bytes(remat="sqrt")
    # 400 steps of saved gate activations against 20 block carries plus one block's.
    assert blocked < plain / 4, (plain, blocked)


def test_remat_is_checked():
    cell = gru(4)
    params = cell.init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match="`remat`"):
        unroll(cell, params, jnp.zeros((2, 5, 3)), remat=0)
    with pytest.raises(ValueError, match="`remat`"):
        unroll(cell, params, jnp.zeros((2, 5, 3)), remat=2, unroll="python")
