"""serial, parallel, residual: shape inference, keys, params layout; jit / vmap / grad."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.layers import (
    activation,
    batch_norm,
    conv2d,
    dense,
    dropout,
    flatten,
    max_pool2d,
    parallel,
    residual,
    serial,
)


def _small_convnet():
    return serial(
        conv2d(4, 3, padding="same", activation=jax.nn.relu),
        batch_norm(),
        max_pool2d(2),
        flatten(),
        dropout(0.3),
        dense(3),
    )


def test_serial_inferred_shapes_equal_real_shapes(rng):
    model = _small_convnet()
    out_shape, params, state = model.init(jax.random.key(0), (6, 5, 2))
    y, new_state = model.apply(params, state, rng.normal(size=(7, 6, 5, 2)).astype(np.float32))
    assert out_shape == (3,) and y.shape == (7, 3)
    assert list(params) == ["conv2d", "batch_norm", "max_pool2d", "flatten", "dropout", "dense"]
    assert params["dense"]["w"].shape == (4 * 3 * 2, 3)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)


def test_serial_equals_the_layers_applied_by_hand(rng):
    first, second = dense(4, activation=jnp.tanh), dense(2)
    model = serial(first, second)
    _, params, state = model.init(jax.random.key(0), (3,))
    x = rng.normal(size=(5, 3)).astype(np.float32)
    h, _ = first.apply(params["dense"], {}, x)
    expected, _ = second.apply(params["dense_1"], {}, h)
    np.testing.assert_array_equal(model.apply(params, state, x)[0], expected)


def test_serial_gives_each_dropout_its_own_key():
    model = serial(dropout(0.5), dropout(0.5))
    _, params, state = model.init(jax.random.key(0), (1000,))
    x = jnp.ones((1, 1000))
    y, _ = model.apply(params, state, x, key=jax.random.key(3), train=True)
    kept = float((y != 0).mean())
    # Independent masks keep 1/4; one shared mask would keep 1/2.
    assert abs(kept - 0.25) < 0.06


def test_jit_vmap_grad_agree_with_the_plain_call(rng):
    model = _small_convnet()
    _, params, state = model.init(jax.random.key(0), (6, 5, 2))
    x = rng.normal(size=(4, 6, 5, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=4)

    def loss(params, x, key):
        logits, _ = model.apply(params, state, x, key=key, train=True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    key = jax.random.key(1)
    np.testing.assert_allclose(jax.jit(loss)(params, x, key), loss(params, x, key), rtol=1e-5)
    grads = jax.grad(loss)(params, x, key)
    jit_grads = jax.jit(jax.grad(loss))(params, x, key)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), grads, jit_grads
    )
    assert float(optax.tree.norm(grads)) > 0

    # vmap over three independently initialised models (seeds) with the batch intact.
    keys = jax.random.split(jax.random.key(2), 3)
    stacked = jax.vmap(lambda k: model.init(k, (6, 5, 2))[1])(keys)
    batched = jax.vmap(lambda p: model.apply(p, state, x)[0])(stacked)
    for i in range(3):
        single = model.apply(jax.tree.map(lambda leaf, i=i: leaf[i], stacked), state, x)[0]
        np.testing.assert_allclose(batched[i], single, rtol=1e-5, atol=1e-6)


def test_an_optax_step_lowers_the_loss(rng):
    model = serial(dense(8, activation=jnp.tanh), dense(1))
    _, params, state = model.init(jax.random.key(0), (2,))
    x = rng.normal(size=(32, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:]).astype(np.float32)
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(params)

    def loss(params):
        return jnp.mean((model.apply(params, state, x)[0] - y) ** 2)

    before = loss(params)
    for _ in range(50):
        grads = jax.grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert loss(params) < 0.7 * before


def test_parallel_concat_add_and_tuple(rng):
    a, b = dense(3), dense(2)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    concat = parallel(a, b)
    out_shape, params, state = concat.init(jax.random.key(0), (5,))
    y, _ = concat.apply(params, state, x)
    ya, _ = a.apply(params["dense"], {}, x)
    yb, _ = b.apply(params["dense_1"], {}, x)
    assert out_shape == (5,)
    np.testing.assert_allclose(y, np.concatenate([ya, yb], -1), rtol=1e-6)

    added = parallel(dense(3), dense(3), merge="add")
    out_shape, params, state = added.init(jax.random.key(0), (5,))
    y, _ = added.apply(params, state, x)
    parts = [dense(3).apply(params[k], {}, x)[0] for k in ("dense", "dense_1")]
    assert out_shape == (3,)
    np.testing.assert_allclose(y, parts[0] + parts[1], rtol=1e-6)

    both = parallel(dense(3), dense(2), merge=None)
    out_shape, params, state = both.init(jax.random.key(0), (5,))
    ys, _ = both.apply(params, state, x)
    assert out_shape == ((3,), (2,)) and [y.shape for y in ys] == [(4, 3), (4, 2)]

    with pytest.raises(ValueError, match="cannot be merged by 'add'"):
        parallel(dense(3), dense(2), merge="add").init(jax.random.key(0), (5,))
    with pytest.raises(ValueError, match="`merge`"):
        parallel(dense(3), merge="max")


def test_residual_identity_and_projection(rng):
    x = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    same = residual(conv2d(3, 3, padding="same"))
    out_shape, params, state = same.init(jax.random.key(0), (6, 6, 3))
    y, _ = same.apply(params, state, x)
    block_y, _ = conv2d(3, 3, padding="same").apply(params["block"], {}, x)
    assert out_shape == (6, 6, 3) and "projection" not in params
    np.testing.assert_allclose(y, x + block_y, rtol=1e-6)

    strided = residual(conv2d(5, 3, strides=2, padding="same"))
    out_shape, params, state = strided.init(jax.random.key(0), (6, 6, 3))
    y, _ = strided.apply(params, state, x)
    block_y, _ = conv2d(5, 3, strides=2, padding="same").apply(params["block"], {}, x)
    projected = x[:, ::2, ::2, :] @ np.asarray(params["projection"]["w"])
    assert out_shape == (3, 3, 5) and y.shape == (2, 3, 3, 5)
    np.testing.assert_allclose(y, projected + block_y, rtol=1e-5, atol=1e-6)

    with pytest.raises(ValueError, match="no strided 1x1 projection maps spatial size 6 to 4"):
        residual(conv2d(5, 3)).init(jax.random.key(0), (6, 6, 3))
    with pytest.raises(ValueError, match="a different number of axes"):
        residual(flatten()).init(jax.random.key(0), (6, 6, 3))


def test_combinators_reject_bad_input():
    with pytest.raises(TypeError, match="wrap functions in activation"):
        serial(dense(3), jax.nn.relu)
    with pytest.raises(ValueError, match="at least one layer"):
        serial()
    model = serial(dense(3), activation(jnp.tanh))
    _, params, state = model.init(jax.random.key(0), (2,))
    with pytest.raises(ValueError, match=r"`params` must be a dict with keys \['dense', 'tanh'\]"):
        model.apply({"dense": params["dense"]}, state, jnp.zeros((1, 2)))
