"""The precision policy: every layer and cell in bfloat16, float16, float32 and float64,
mixed precision (float32 params, 16-bit compute), and the dtype errors."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.cells import CELLS, elman, gru, lstm
from jaxnets.layers import (
    activation,
    avg_pool1d,
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    conv_transpose2d,
    dense,
    dropout,
    embedding,
    flatten,
    layer_norm,
    max_pool1d,
    max_pool2d,
    parallel,
    residual,
    rms_norm,
    serial,
)
from jaxnets.rnn import bidirectional, recurrent, stacked_rnn, unroll
from jaxnets.train import TrainState, fit, loss_scaled, softmax_cross_entropy, train_step

B, T, D, H = 2, 5, 3, 4
DTYPES = ("bfloat16", "float16", "float32", "float64")
# How far a 16-bit run may be from the float32 run of the same params: a few ulps of
# bfloat16 (8 bits of mantissa) over a handful of steps.
TOLERANCE = {"bfloat16": 6e-2, "float16": 1e-2, "float32": 1e-6, "float64": 1e-6}

CELL_MAKERS = {
    **CELLS,
    "gru_reset_before": lambda h, **kw: gru(h, reset_after=False, **kw),
    "lstm_peephole_proj": lambda h, **kw: lstm(h, peephole=True, proj_size=3, **kw),
    "lstm_layer_norm": lambda h, **kw: lstm(h, layer_norm=True, **kw),
    "gru_layer_norm": lambda h, **kw: gru(h, layer_norm=True, **kw),
}

LAYER_MAKERS = {
    "dense": (lambda **kw: dense(5, **kw), (D,)),
    "conv1d": (lambda **kw: conv1d(4, 3, **kw), (7, D)),
    "conv2d": (lambda **kw: conv2d(4, 3, padding="same", **kw), (6, 6, 2)),
    "conv1d_grouped_causal": (lambda **kw: conv1d(4, 3, padding="causal", groups=2, **kw), (7, 2)),
    "conv_transpose2d": (lambda **kw: conv_transpose2d(4, 3, strides=2, **kw), (4, 4, 2)),
    "batch_norm": (lambda **kw: batch_norm(**kw), (6, D)),
    "layer_norm": (lambda **kw: layer_norm(**kw), (6, D)),
    "rms_norm": (lambda **kw: rms_norm(**kw), (6, D)),
    "residual": (lambda **kw: residual(dense(5, **kw), **kw), (D,)),
    "parallel": (lambda **kw: parallel(dense(2, **kw), conv1d(2, 1, **kw)), (4, D)),
    "recurrent": (lambda **kw: recurrent(lstm(H, **kw)), (T, D)),
    "bidirectional": (lambda **kw: bidirectional(gru(H, **kw), elman(H, **kw)), (T, D)),
    "stacked_rnn": (lambda **kw: stacked_rnn(CELLS["mgu"](H, **kw), 2), (T, D)),
}


def _x64(dtype):
    """float64 needs jax_enable_x64; the other dtypes run without it."""
    return jax.enable_x64(dtype == "float64")


def _floats(tree):
    return [leaf for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.floating)]


def _xs(shape, dtype="float32"):
    return jnp.asarray(np.random.default_rng(0).normal(size=shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CELL_MAKERS))
def test_every_cell_initializes_and_runs_in_each_dtype(name, dtype):
    make = CELL_MAKERS[name]
    with _x64(dtype):
        cell = make(H, dtype=dtype)
        params = cell.init(jax.random.key(0), D)
        assert {leaf.dtype.name for leaf in _floats(params)} == {dtype}
        carry, ys = jax.jit(lambda p, x: unroll(cell, p, x))(params, _xs((B, T, D), dtype))
        assert ys.dtype == jnp.dtype(dtype)
        assert all(leaf.dtype == jnp.dtype(dtype) for leaf in _floats(carry))
        reference = make(H)
        ref_params = jax.tree.map(lambda a: jnp.asarray(a, jnp.result_type(a, "float32")), params)
        if dtype != "float64":
            # The same draws as float32: a 16-bit init is the float32 init, rounded.
            chex.assert_trees_all_close(
                ref_params, reference.init(jax.random.key(0), D),
                atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype],
            )  # fmt: skip
    ref_params = jax.tree.map(lambda a: np.asarray(a, np.float32) if a.dtype != bool else a, params)
    _, ref_ys = unroll(reference, ref_params, _xs((B, T, D)))
    np.testing.assert_allclose(
        np.asarray(ys, np.float32), ref_ys, atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype]
    )


@pytest.mark.parametrize("name", ["lstm", "gru", "elman", "min_gru", "lru"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_cell_keeps_float32_params_and_gradients(name, dtype):
    cell = CELL_MAKERS[name](H, dtype=dtype, param_dtype="float32")
    params = cell.init(jax.random.key(0), D)
    assert {leaf.dtype.name for leaf in _floats(params)} == {"float32"}
    xs = _xs((B, T, D))  # float32 data, cast to the compute dtype by the cell

    def loss(p):
        _, ys = unroll(cell, p, xs)
        assert ys.dtype == jnp.dtype(dtype)
        return jnp.sum(ys.astype(jnp.float32) ** 2)

    grads = jax.grad(loss)(params)
    assert {leaf.dtype.name for leaf in _floats(grads)} == {"float32"}
    full = CELL_MAKERS[name](H)
    ref = jax.grad(lambda p: jnp.sum(unroll(full, p, xs)[1] ** 2))(params)
    # The 16-bit forward pass gives the float32 gradient to within its rounding.
    for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref)):
        np.testing.assert_allclose(g, r, atol=0.1 * float(jnp.abs(r).max()) + 1e-3)


def test_a_kernel_follows_the_cells_policy():
    """float32 compute from bfloat16 params: the CPU kernel casts as the step does."""
    cell = lstm(H, dtype="float32", param_dtype="bfloat16")
    params = cell.init(jax.random.key(0), D)
    xs = _xs((B, T, D))
    for impl in ("lstm_blocks", "reference"):
        _, ys = unroll(cell, params, xs, impl=impl)
        assert ys.dtype == jnp.float32
    np.testing.assert_allclose(
        unroll(cell, params, xs, impl="lstm_blocks")[1],
        unroll(cell, params, xs, impl="reference")[1],
        atol=1e-6,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LAYER_MAKERS))
def test_every_layer_initializes_and_applies_in_each_dtype(name, dtype):
    make, shape = LAYER_MAKERS[name]
    with _x64(dtype):
        layer = make(dtype=dtype)
        out_shape, params, state = layer.init(jax.random.key(0), shape)
        assert {leaf.dtype.name for leaf in _floats((params, state))} == {dtype}
        x = _xs((B, *shape), dtype)
        for train in (True, False):
            y, new_state = layer.apply(params, state, x, train=train)
            assert y.dtype == jnp.dtype(dtype) and y.shape == (B, *out_shape)
            chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
    # The float32 layer on the same params, rounded to float32.
    ref_params, ref_state = jax.tree.map(lambda a: np.asarray(a, np.float32), (params, state))
    ref_y, _ = make().apply(ref_params, ref_state, _xs((B, *shape)), train=True)
    with _x64(dtype):
        y, _ = layer.apply(params, state, x, train=True)
        np.testing.assert_allclose(
            np.asarray(y, np.float32), ref_y, atol=TOLERANCE[dtype] * 4, rtol=TOLERANCE[dtype]
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_pooling_and_dropout_in_each_dtype(dtype):
    with _x64(dtype):
        table = embedding(7, 3, dtype=dtype)
        _, params, _ = table.init(jax.random.key(0), (4,))
        assert params["table"].dtype == jnp.dtype(dtype)
        y, _ = table.apply(params, {}, jnp.array([[0, 6, 2, 1]]))
        assert y.dtype == jnp.dtype(dtype)
        images = _xs((B, 4, 4, 2), dtype)
        model = serial(max_pool2d(2), avg_pool2d(2), dropout(0.5), activation(jnp.tanh), flatten())
        _, p, s = model.init(jax.random.key(0), (4, 4, 2))
        y, _ = model.apply(p, s, images, key=jax.random.key(1), train=True)
        assert y.dtype == jnp.dtype(dtype)
        model = serial(max_pool1d(2), avg_pool1d(2))
        _, p, s = model.init(jax.random.key(0), (4, 2))
        assert model.apply(p, s, images[:, 0])[0].dtype == jnp.dtype(dtype)


def test_mixed_precision_layers_keep_float32_params_and_state():
    model = serial(conv2d(4, 3, dtype="bfloat16", param_dtype="float32"), batch_norm(
        dtype="bfloat16", param_dtype="float32"
    ))  # fmt: skip
    _, params, state = model.init(jax.random.key(0), (6, 6, 2))
    assert {leaf.dtype.name for leaf in _floats((params, state))} == {"float32"}
    y, new_state = model.apply(params, state, _xs((B, 6, 6, 2)), train=True)
    assert y.dtype == jnp.bfloat16
    chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
    # Batch statistics are taken in float32: the running mean moves by exactly
    # (1 - momentum) * the float32 batch mean of the bfloat16 activations.
    conv_y, _ = model.children[0][1].apply(params["conv2d"], {}, _xs((B, 6, 6, 2)))
    mean = np.asarray(conv_y, np.float32).mean((0, 1, 2))
    np.testing.assert_allclose(new_state["batch_norm"]["mean"], 0.1 * mean, rtol=1e-5, atol=1e-7)


def test_a_model_computes_in_the_dtype_its_params_arrive_in():
    """With no compute dtype, casting float32 params to bfloat16 runs the model in it:
    the rule ``fit``'s mixed precision builds on."""
    model = serial(dense(5), dense(2))
    _, params, state = model.init(jax.random.key(0), (D,))
    half = jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)
    y, _ = model.apply(half, state, _xs((B, D)))
    assert y.dtype == jnp.bfloat16


def test_inputs_are_cast_to_the_compute_dtype():
    """float64 inputs to a float32 cell: the documented rule is a cast, never JAX's
    scan carry-type error."""
    with jax.enable_x64(True):
        cell = lstm(H)
        params = cell.init(jax.random.key(0), D)
        assert params["w_x"].dtype == jnp.float32
        _, ys = unroll(cell, params, _xs((B, T, D), "float64"))
        assert ys.dtype == jnp.float32
        np.testing.assert_allclose(ys, unroll(cell, params, _xs((B, T, D)))[1], atol=1e-6)
        layer = dense(2)
        _, p, _ = layer.init(jax.random.key(0), (D,))
        assert layer.apply(p, {}, _xs((B, D), "float64"))[0].dtype == jnp.float32


def test_float64_trains_end_to_end():
    with jax.enable_x64(True):
        cell = gru(H, dtype="float64")
        params = cell.init(jax.random.key(0), D)
        grads = jax.grad(lambda p: jnp.sum(unroll(cell, p, _xs((B, T, D), "float64"))[1]))(params)
        assert {leaf.dtype.name for leaf in jax.tree.leaves(grads)} == {"float64"}


def test_matmul_precision_is_applied_to_the_step():
    """The suite pins "highest" (conftest); a cell asks for "high" and gets it."""
    cell = lstm(H, precision="high")
    params = cell.init(jax.random.key(0), D)
    carry = cell.initial_carry(params, (B,))
    jaxpr = str(jax.make_jaxpr(cell.step)(params, carry, _xs((B, D))))
    assert "Precision.HIGH," in jaxpr and "Precision.HIGHEST" not in jaxpr
    plain = str(jax.make_jaxpr(lstm(H).step)(params, carry, _xs((B, D))))
    assert "Precision.HIGH," not in plain


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 10)).astype(np.float32)
    y = (x @ rng.normal(size=(10, 3))).argmax(1)
    model = serial(dense(32, activation=jax.nn.relu), batch_norm(), dense(3))
    _, params, state = model.init(jax.random.key(0), (10,))
    return model, params, state, x, y


@pytest.mark.parametrize("compute_dtype", ["bfloat16", "float16"])
def test_mixed_precision_fit_trains_to_the_float32_loss(compute_dtype):
    model, params, state, x, y = _problem()
    opt = optax.adam(1e-2)
    run = functools.partial(
        fit, model, params, state, loss=softmax_cross_entropy, x=x, y=y, epochs=4,
        key=jax.random.key(1), batch_size=32,
    )  # fmt: skip
    full = run(optimizer=opt)
    mixed = run(
        optimizer=loss_scaled(opt) if compute_dtype == "float16" else opt,
        compute_dtype=compute_dtype,
    )
    # float32 masters: params, state and optimizer state keep their dtype.
    for tree in (mixed.params, mixed.state, mixed.opt_state):
        assert {leaf.dtype.name for leaf in _floats(tree)} <= {"float32"}
    assert full.history.loss[-1] < 0.5 * full.history.loss[0]  # it learns
    np.testing.assert_allclose(mixed.history.loss, full.history.loss, rtol=0.03)


def test_dynamic_loss_scaling_skips_overflow_and_adapts():
    opt = loss_scaled(optax.sgd(1.0), scale=8.0, period=2)
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    # A scaled gradient that overflowed: nothing moves, the scale halves.
    updates, state = opt.update({"w": jnp.array([jnp.inf, 1.0])}, state, params)
    np.testing.assert_array_equal(updates["w"], [0.0, 0.0])
    assert float(state.scale) == 4.0
    # Finite steps: gradients are unscaled; after `period` of them the scale doubles.
    updates, state = opt.update({"w": jnp.array([4.0, 8.0])}, state, params)
    np.testing.assert_allclose(updates["w"], [-1.0, -2.0])
    assert float(state.scale) == 4.0
    _, state = opt.update({"w": jnp.array([4.0, 8.0])}, state, params)
    assert float(state.scale) == 8.0 and int(state.good_steps) == 0


def test_train_step_multiplies_the_loss_by_the_scale():
    model, params, state, x, y = _problem()
    plain = optax.sgd(0.1)
    runs = []
    for opt in (plain, loss_scaled(plain, scale=1024.0)):
        step = jax.jit(train_step(model.apply, softmax_cross_entropy, opt))
        new, metrics = step(TrainState(params, state, opt.init(params)), x[:32], y[:32], None)
        runs.append((new.params, metrics))
    # Scaled by a power of two and unscaled: the same update, the same metrics.
    chex.assert_trees_all_close(runs[0], runs[1], rtol=1e-6)


def test_bad_compute_dtype_names_the_argument():
    model, params, state, x, y = _problem()
    with pytest.raises(ValueError, match="`compute_dtype` must be a floating dtype"):
        fit(model, params, state, optax.sgd(0.1), softmax_cross_entropy, x, y, epochs=1,
            key=jax.random.key(0), batch_size=32, compute_dtype="int8")  # fmt: skip
    with pytest.raises(ValueError, match="`period` must be a positive int"):
        loss_scaled(optax.sgd(0.1), period=0)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: lstm(H, dtype=jnp.int32), "`dtype` must be a floating dtype"),
        (lambda: gru(H, param_dtype="complex64"), "`param_dtype` must be a floating dtype"),
        (lambda: dense(3, dtype="float8"), "`dtype` must be a floating dtype"),
        (lambda: conv2d(3, 3, precision="fast"), "`precision` must be None"),
        (lambda: batch_norm(param_dtype=np.int8), "`param_dtype`"),
        (lambda: embedding(4, 2, dtype=bool), "`dtype`"),
    ],
)
def test_bad_dtypes_name_the_argument_and_the_accepted_values(make, match):
    with pytest.raises(ValueError, match=match) as info:
        make()
    assert "bfloat16, float16, float32, float64" in str(info.value) or "precision" in match


def test_a_carry_of_another_dtype_names_both():
    cell = lstm(H, dtype="bfloat16")
    params = cell.init(jax.random.key(0), D)
    carry = lstm(H).initial_carry(lstm(H).init(jax.random.key(0), D), (B,))
    with pytest.raises(
        ValueError, match="carry has dtype float32 but the cell computes in bfloat16"
    ):
        unroll(cell, params, _xs((B, T, D)), carry=carry)


def test_a_kernel_forced_on_a_dtype_it_was_not_registered_for_names_it():
    from jaxnets.kernels import KERNELS, register

    register(KERNELS["lstm_blocks"]._replace(name="test_lstm_f32", dtypes=("float32",)))
    cell = lstm(H, dtype="bfloat16")
    params = cell.init(jax.random.key(0), D)
    try:
        with pytest.raises(ValueError, match="'test_lstm_f32' does not apply: the dtype is bf"):
            unroll(cell, params, _xs((B, T, D)), impl="test_lstm_f32")
    finally:
        del KERNELS["test_lstm_f32"]


def test_the_cudnn_kernel_forced_on_cpu_names_the_backend():
    cell = lstm(H)
    params = cell.init(jax.random.key(0), D)
    with pytest.raises(ValueError, match="'lstm_cudnn' does not apply: the backend is 'cpu'"):
        unroll(cell, params, _xs((B, T, D)), impl="lstm_cudnn")


def test_the_accelerator_check_runs_here():
    """benchmarks/accelerator.sh --quick: the script itself, at tiny sizes, on CPU."""
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run(
        ["bash", "benchmarks/accelerator.sh", "--quick"], cwd=root, capture_output=True,
        text=True, env={**__import__("os").environ, "PYTHON": sys.executable},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"device: {jax.default_backend()}")
    rows = [line for line in lines if line.startswith(("| lstm |", "| gru |", "| convnet |"))]
    assert len(rows) == 3 and all("x |" in row for row in rows)


def test_a_sweep_can_name_the_compute_dtype(tmp_path):
    from jaxnets.experiments import Store, sweep

    store = Store(tmp_path / "results.sqlite")
    outcome = sweep(
        task="mnist1d", task_options={"num_samples": 200}, cell=gru, store=store,
        space={"cell.hidden_size": 8, "fit.compute_dtype": ["float32", "bfloat16"]},
        budget={"epochs": 1, "batch_size": 32},
    )  # fmt: skip
    assert outcome.ran == 2 and outcome.failed == 0
    rows = store.rows("sweep")
    losses = {row["config"]["point"]["fit.compute_dtype"]: row["epochs"][0][0] for row in rows}
    assert set(losses) == {"float32", "bfloat16"}
    # Two different computations, both finite, from the same init and data.
    assert losses["float32"] != losses["bfloat16"]
    np.testing.assert_allclose(losses["bfloat16"], losses["float32"], rtol=0.05)
