"""The hand-written backward passes (Cell.scan) equal jax.grad of the plain scan."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import elman, gru, lstm
from jaxnets.cells._lstm_sequence import BLOCK
from jaxnets.rnn import unroll


def _value_and_grads(cell, params, xs, carry, reverse):
    def loss(params, xs, carry):
        final, ys = unroll(cell, params, xs, carry=carry, reverse=reverse)
        weights = jnp.linspace(0.5, 1.5, ys.shape[-1])[None, None]  # outputs count differently
        return jnp.sum(jnp.tanh(ys) * weights) + sum(jnp.sum(c**3) for c in jax.tree.leaves(final))

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(params, xs, carry)


CELLS = {
    "lstm": lambda: lstm(6),
    "gru": lambda: gru(5),
    "elman_tanh": lambda: elman(5),
    "elman_relu_output": lambda: elman(5, activation="relu", output_size=3),
    "elman_sigmoid": lambda: elman(4, activation="sigmoid"),
}


def _check_against_plain_scan(rng, fast, num_steps, reverse):
    plain = fast._replace(scan=None)  # the same cell, differentiated by jax through lax.scan
    assert fast.scan is not None
    params = fast.init(jax.random.key(0), 3)
    params = jax.tree.map(
        lambda a: a + 0.1 * jnp.asarray(rng.normal(size=a.shape), a.dtype), params
    )
    xs = jnp.asarray(rng.normal(size=(4, num_steps, 3)).astype(np.float32))
    carry = jax.tree.map(
        lambda c: jnp.asarray(rng.normal(size=c.shape).astype(np.float32)),
        fast.initial_carry(params, (4,)),
    )
    got = _value_and_grads(fast, params, xs, carry, reverse)
    want = _value_and_grads(plain, params, xs, carry, reverse)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", list(CELLS.values()), ids=list(CELLS))
@pytest.mark.parametrize("reverse", [False, True])
def test_hand_written_backward_equals_autodiff_of_the_plain_scan(rng, make, reverse):
    _check_against_plain_scan(rng, make(), 9, reverse)


@pytest.mark.parametrize("num_steps", [BLOCK, 2 * BLOCK, 2 * BLOCK + 3])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_in_blocks_of_steps_equals_autodiff(rng, num_steps, reverse):
    """One whole block, several, and several plus a shorter rest (9 steps: a rest alone)."""
    _check_against_plain_scan(rng, lstm(6), num_steps, reverse)


def test_fast_path_under_vmap_and_with_several_batch_axes(rng):
    cell = lstm(4)
    params = cell.init(jax.random.key(1), 3)
    xs = jnp.asarray(rng.normal(size=(2, 3, 7, 3)).astype(np.float32))  # batch (2, 3)
    _, ys = unroll(cell, params, xs)
    _, ys_plain = unroll(cell._replace(scan=None), params, xs)
    np.testing.assert_allclose(ys, ys_plain, rtol=1e-6, atol=1e-6)
    _, ys_vmapped = jax.vmap(lambda x: unroll(cell, params, x))(xs.reshape(6, 7, 3))
    np.testing.assert_allclose(ys_vmapped.reshape(ys.shape), ys, rtol=1e-6, atol=1e-6)


def test_impl_chooses_the_fast_path_or_the_reference_loop(rng):
    cell = lstm(4)
    params = cell.init(jax.random.key(1), 3)
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)).astype(np.float32))
    # The reference is the loop over step: the same program as a cell without scan.
    reference = jax.make_jaxpr(lambda p, x: unroll(cell, p, x, impl="reference"))(params, xs)
    plain = jax.make_jaxpr(lambda p, x: unroll(cell._replace(scan=None), p, x))(params, xs)
    fast = jax.make_jaxpr(lambda p, x: unroll(cell, p, x, impl="fast"))(params, xs)
    assert str(reference) == str(plain) != str(fast)
    assert str(jax.make_jaxpr(lambda p, x: unroll(cell, p, x))(params, xs)) == str(fast)
    np.testing.assert_allclose(
        unroll(cell, params, xs, impl="fast")[1], unroll(cell, params, xs, impl="reference")[1],
        rtol=1e-6, atol=1e-6,
    )  # fmt: skip
    lengths = np.array([7, 3])
    with pytest.raises(ValueError, match="impl='fast' cannot run: it does not take `lengths`"):
        unroll(cell, params, xs, lengths=lengths, impl="fast")
    with pytest.raises(ValueError, match="impl='fast' cannot run: the cell has no whole-seq"):
        unroll(lstm(4, peephole=True), params, xs, impl="fast")
    with pytest.raises(ValueError, match=r"`impl` must be one of \('auto', 'reference', 'fast'\)"):
        unroll(cell, params, xs, impl="cudnn")


def test_peephole_and_projection_lstm_and_cho_gru_use_the_generic_loop():
    assert lstm(4, peephole=True).scan is None
    assert lstm(4, proj_size=2).scan is None
    assert gru(4, reset_after=False).scan is None
    assert elman(4, activation=jnp.sin).scan is None
