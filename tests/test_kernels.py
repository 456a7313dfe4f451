"""One suite for every whole-sequence fast path (``Cell.scan``, a hand-written backward
pass): ``unroll(impl="fast")`` against ``impl="reference"``, the plain ``lax.scan`` over
the cell's own ``step`` differentiated by JAX. Outputs, final carries and gradients (with
respect to params, inputs and the initial carry), forward and reverse, from one step to
several of the LSTM's 10-step blocks and a length that no block divides."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import CELLS, elman, gru, lstm
from jaxnets.rnn import unroll

VARIANTS = {
    **{name: (lambda make=make: make(8)) for name, make in CELLS.items()},
    "lstm_6": lambda: lstm(6),
    "elman_relu_output": lambda: elman(5, activation="relu", output_size=3),
    "elman_sigmoid": lambda: elman(4, activation="sigmoid"),
}
# Every registered cell (and option) with a fast path joins the suite by itself.
FAST = {name: make for name, make in VARIANTS.items() if make().scan is not None}


def test_the_suite_covers_the_fast_paths():
    assert {"lstm", "gru", "elman", "elman_relu_output", "elman_sigmoid"} <= set(FAST)


def _value_and_grads(cell, params, xs, carry, reverse, impl):
    def loss(params, xs, carry):
        final, ys = unroll(cell, params, xs, carry=carry, reverse=reverse, impl=impl)
        weights = jnp.linspace(0.5, 1.5, ys.shape[-1])[None, None]  # outputs count differently
        return jnp.sum(jnp.tanh(ys) * weights) + sum(jnp.sum(c**3) for c in jax.tree.leaves(final))

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(params, xs, carry)


@pytest.mark.parametrize("name", list(FAST))
@pytest.mark.parametrize("num_steps", [1, 10, 23])
@pytest.mark.parametrize("reverse", [False, True])
def test_every_fast_path_equals_autodiff_of_the_plain_scan(rng, name, num_steps, reverse):
    cell = FAST[name]()
    params = cell.init(jax.random.key(0), 3)
    params = jax.tree.map(
        lambda a: a + 0.1 * jnp.asarray(rng.normal(size=a.shape), a.dtype), params
    )
    xs = jnp.asarray(rng.normal(size=(4, num_steps, 3)).astype(np.float32))
    carry = jax.tree.map(
        lambda c: jnp.asarray(rng.normal(size=c.shape).astype(np.float32)),
        cell.initial_carry(params, (4,)),
    )
    got = _value_and_grads(cell, params, xs, carry, reverse, "fast")
    want = _value_and_grads(cell, params, xs, carry, reverse, "reference")
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


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
