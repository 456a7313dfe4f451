"""One suite for every registered kernel (``jaxnets.kernels.KERNELS``): cell kernels by
``jaxnets.rnn.check_kernel`` against the plain scan over the cell's own step (outputs,
final carries and gradients, forward and reverse, with lengths and remat, T from one
step to a length no block divides); layer kernels against their ``lax`` reference.
Then dispatch: what ``impl="auto"`` picks, and the errors for kernels forced where they
do not apply."""

import contextlib
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import CELLS, elman, gru, lstm
from jaxnets.core import Cell, cell_tag, tag_cell
from jaxnets.kernels import (
    KERNELS,
    Kernel,
    choose,
    cudnn_reference_call,
    cudnn_weights,
    lstm_cudnn,
    onednn_available,
    register,
)
from jaxnets.layers import avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d
from jaxnets.rnn import check_kernel, recurrent, unroll

# Cells each cell kernel is checked on: its kind's registry cells, plus the options it covers.
KIND_CELLS = {"linear_recurrence": ["min_gru", "min_lstm", "lru", "diagonal_rnn"]}
OPTIONS = {
    "elman_fused": [{"activation": "relu", "output_size": 3}, {"activation": "sigmoid"}],
}
CELL_CASES = [
    (name, cell, options)
    for name, kernel in KERNELS.items()
    for cell in KIND_CELLS.get(kernel.kind, [kernel.kind])
    if cell in CELLS
    for options in [{}, *OPTIONS.get(name, [])]
]
LAYER_KINDS = {"pool", "conv"}


def test_every_registered_kernel_has_a_suite_case():
    covered = {name for name, _, _ in CELL_CASES}
    for name, kernel in KERNELS.items():
        assert name in covered or kernel.kind in LAYER_KINDS, f"no suite case for {name!r}"
    assert {
        "lstm_blocks",
        "gru_fused",
        "elman_fused",
        "pool_tiled",
        "conv_patches",
        "associative_scan",
    } <= set(KERNELS)


# Kernels for another backend run here through a stand-in with the same weight layout
# and semantics: the cuDNN LSTM wrapper over jax.experimental.rnn's pure-JAX lstm_ref.
STAND_INS = {"lstm_cudnn": functools.partial(lstm_cudnn, call=cudnn_reference_call)}


@contextlib.contextmanager
def runnable_here(name):
    """``name``, or its stand-in registered for this backend while the block runs.
    The oneDNN kernels have no stand-in: without their extension the case is skipped, except
    in CI, which installs it."""
    kernel = KERNELS[name]
    if name.endswith("_onednn") and onednn_available() is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} cannot run in CI: {onednn_available()}")
        pytest.skip(f"{name}: {onednn_available()}")
    if jax.default_backend() in kernel.backends:
        yield name
        return
    stand_in = register(
        kernel._replace(name=f"{name}_here", run=STAND_INS[name], backends=(jax.default_backend(),))
    )
    try:
        yield stand_in.name
    finally:
        del KERNELS[stand_in.name]


@pytest.mark.parametrize("name, cell, options", CELL_CASES, ids=lambda v: str(v))
def test_every_cell_kernel_equals_the_plain_scan(name, cell, options):
    with runnable_here(name) as here:
        # 3 lengths x 2 directions x with and without padding, plus remat both ways;
        # a kernel that leaves padded batches to others is checked without them.
        assert check_kernel(CELLS[cell](6, **options), here) == (14 if KERNELS[name].lengths else 8)


@pytest.mark.parametrize(
    "name, cell",
    sorted({(n, c) for n, c, _ in CELL_CASES if "float64" in KERNELS[n].dtypes}),
)
def test_cell_kernels_in_float64(name, cell):
    with jax.enable_x64(True), runnable_here(name) as here:
        check_kernel(CELLS[cell](5, dtype=jnp.float64), here, steps=(11,), rtol=1e-10, atol=1e-10)


SIXTEEN_BIT = ("bfloat16", "float16")


def _upcast(tree):
    return jax.tree.map(lambda a: a.astype(jnp.float32) if _floating(a) else a, tree)


def _floating(a):
    return jnp.issubdtype(a.dtype, jnp.floating)


def _errors(got, want):
    """The largest difference of each leaf, in float32."""
    return [float(jnp.max(jnp.abs(_upcast(a) - b))) for a, b in zip(got, want)]


@pytest.mark.parametrize("dtype", SIXTEEN_BIT)
@pytest.mark.parametrize(
    "name, cell, options",
    [c for c in CELL_CASES if set(SIXTEEN_BIT) <= set(KERNELS[c[0]].dtypes)],
    ids=lambda v: str(v),
)
def test_cell_kernels_in_16_bit_are_as_exact_as_the_plain_scan(rng, name, cell, options, dtype):
    with runnable_here(name) as here:
        _check_16_bit(rng, here, cell, options, dtype)


def test_the_16_bit_check_fails_a_kernel_that_is_not_the_cell(rng):
    def wrong(params, carry, xs, *, options, **run):
        scaled = {**params, "w_h": params["w_h"] * 1.03}  # 3%: a few bfloat16 roundings
        return KERNELS["elman_fused"].run(scaled, carry, xs, options=options, **run)

    register(Kernel("test_wrong", "elman", wrong, ("cpu",), SIXTEEN_BIT, lengths=True))
    try:
        with pytest.raises(AssertionError, match="test_wrong in bfloat16"):
            _check_16_bit(rng, "test_wrong", "elman", {}, "bfloat16")
    finally:
        del KERNELS["test_wrong"]


def _check_16_bit(rng, name, cell, options, dtype):
    """In a 16-bit dtype a kernel rounds differently from the plain scan, so the two are
    compared with the float32 plain scan on the same (16-bit) values: the kernel's
    outputs, carries and gradients are at most twice as far from it as the plain
    scan's in the same dtype, plus one rounding of the largest value."""
    low, high = CELLS[cell](6, dtype=dtype, **options), CELLS[cell](6, **options)
    params = low.init(jax.random.key(0), 3)
    params = jax.tree.map(
        lambda a: (a + 0.1 * rng.normal(size=a.shape)).astype(dtype) if _floating(a) else a,
        params,
    )
    xs = jnp.asarray(rng.normal(size=(4, 11, 3)), dtype)
    lengths = np.array([11, 1, 6, 8])

    def value_and_grads(cell, params, xs, impl, reverse):
        def loss(params, xs):
            final, ys = unroll(cell, params, xs, impl=impl, lengths=lengths, reverse=reverse)
            carries = [  # lru's carry is complex
                jnp.sum(jnp.abs(c.astype(jnp.promote_types(c.dtype, jnp.float32))) ** 2)
                for c in jax.tree.leaves(final)
            ]
            return jnp.sum(jnp.tanh(ys.astype(jnp.float32))) + sum(carries), (final, ys)

        (value, outputs), grads = jax.jit(jax.value_and_grad(loss, (0, 1), has_aux=True))(
            params, xs
        )
        return jax.tree.leaves((value, outputs, grads))

    for reverse in (False, True):
        truth = value_and_grads(high, _upcast(params), _upcast(xs), "reference", reverse)
        plain = _errors(value_and_grads(low, params, xs, "reference", reverse), truth)
        kernel = _errors(value_and_grads(low, params, xs, name, reverse), truth)
        eps = float(jnp.finfo(dtype).eps)
        for leaf, (k, p, t) in enumerate(zip(kernel, plain, truth)):
            bound = 2 * p + eps * float(jnp.max(jnp.abs(t)))
            assert k <= bound, f"{name} in {dtype}, leaf {leaf}, reverse={reverse}: {k} > {bound}"


@pytest.mark.parametrize("dtype", SIXTEEN_BIT)
def test_layer_kernels_in_16_bit(rng, dtype):
    """Max pooling picks values, so its kernel equals lax's in any dtype; the patches
    convolution is as close to the float32 convolution as lax's in the same dtype."""
    x = jnp.asarray(rng.normal(size=(2, 10, 9, 8)), dtype)
    pooled = [max_pool2d(2, impl=impl).apply({}, {}, x)[0] for impl in ("pool_tiled", "reference")]
    np.testing.assert_array_equal(*(np.asarray(p, np.float32) for p in pooled))
    grads = [
        jax.grad(lambda x, i=impl: jnp.sum(max_pool2d(2, impl=i).apply({}, {}, x)[0]))(x)
        for impl in ("pool_tiled", "reference")
    ]
    np.testing.assert_array_equal(*(np.asarray(g, np.float32) for g in grads))

    def conv(impl, dtype, x):
        layer = conv2d(16, 3, padding=1, impl=impl, dtype=dtype)
        _, params, state = layer.init(jax.random.key(0), x.shape[1:])
        params = jax.tree.map(lambda a: a.astype(dtype), params)

        def loss(params, x):
            return jnp.sum(jnp.tanh(layer.apply(params, state, x)[0].astype(jnp.float32)))

        return jax.tree.leaves(jax.jit(jax.value_and_grad(loss, (0, 1)))(params, x))

    truth = conv("reference", jnp.float32, _upcast(x))
    plain = _errors(conv("reference", dtype, x), truth)
    kernel = _errors(conv("conv_patches", dtype, x), truth)
    for k, p, t in zip(kernel, plain, truth):
        assert k <= 2 * p + float(jnp.finfo(dtype).eps) * float(jnp.max(jnp.abs(t)))


def test_cudnn_weights_are_torch_lstm_layout():
    """cuDNN's (and torch.nn.LSTM's) weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0."""
    torch = pytest.importorskip("torch")
    from jaxnets.interop import from_torch

    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4)
    params = from_torch(module.state_dict(), "lstm")["layer_0"]
    flat = np.concatenate(
        [module.state_dict()[k].numpy().ravel() for k in
         ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    )  # fmt: skip
    weights = np.asarray(cudnn_weights(params))
    n = 4 * 4 * (3 + 4)
    np.testing.assert_allclose(weights[:n], flat[:n], rtol=1e-6)
    # One bias carries both of torch's: their sum, and zeros for the second.
    np.testing.assert_allclose(weights[n : n + 16], flat[n : n + 16] + flat[n + 16 :], rtol=1e-6)
    np.testing.assert_array_equal(weights[n + 16 :], 0.0)


def test_the_suite_fails_a_kernel_that_is_not_the_cell():
    def wrong(params, carry, xs, *, options, **run):
        # The Elman kernel with the recurrent weight off by 1%: close, and wrong.
        scaled = {**params, "w_h": params["w_h"] * 1.01}
        return KERNELS["elman_fused"].run(scaled, carry, xs, options=options, **run)

    kernel = register(Kernel("test_wrong", "elman", wrong, ("cpu",), ("float32",), lengths=True))
    try:
        with pytest.raises(AssertionError, match="kernel 'test_wrong' differs from the reference"):
            check_kernel(elman(4), "test_wrong", steps=(5,))
        assert choose("unroll", "elman", cell_tag(elman(4)).options, dtype=jnp.float32) is not (
            kernel
        )  # fmt: skip
    finally:
        del KERNELS["test_wrong"]


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda impl: max_pool2d(2, impl=impl), (2, 9, 7, 3)),
        (lambda impl: max_pool2d((3, 2), impl=impl), (2, 9, 7, 3)),
        (lambda impl: max_pool1d(3, impl=impl), (2, 10, 3)),
        (lambda impl: conv2d(4, 3, strides=2, padding=1, dilation=1, impl=impl), (2, 9, 7, 3)),
        (lambda impl: conv2d(4, (3, 2), padding="same", dilation=2, impl=impl), (2, 9, 7, 3)),
        (lambda impl: conv1d(5, 6, strides=2, padding="valid", impl=impl), (2, 11, 3)),
    ],
)
def test_every_layer_kernel_equals_its_lax_reference(rng, make, shape):
    # Small integers give tied maxima: both route the gradient to the first one.
    x = jnp.asarray(rng.integers(0, 3, size=shape).astype(np.float32))
    reference, fast = make("reference"), make("auto")
    _, params, state = reference.init(jax.random.key(0), shape[1:])
    g = rng.normal(size=reference.apply(params, state, x)[0].shape).astype(np.float32)

    def loss(layer, params, x):
        return jnp.sum(layer.apply(params, state, x)[0] * g)

    want = jax.jit(jax.value_and_grad(lambda p, x: loss(reference, p, x), (0, 1)))(params, x)
    got = jax.jit(jax.value_and_grad(lambda p, x: loss(fast, p, x), (0, 1)))(params, x)
    assert str(jax.make_jaxpr(lambda x: fast.apply(params, state, x))(x)) != str(
        jax.make_jaxpr(lambda x: reference.apply(params, state, x))(x)
    ), "impl='auto' did not run a kernel here"
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_layers_keep_the_reference_where_no_kernel_was_measured_to_win():
    def program(layer, shape):
        _, params, state = layer.init(jax.random.key(0), shape[1:])
        return str(jax.make_jaxpr(lambda x: layer.apply(params, state, x))(jnp.ones(shape)))

    for make, shape in [
        (lambda impl: avg_pool2d(2, impl=impl), (2, 8, 6, 3)),  # reduce_window's sum won
        (lambda impl: avg_pool1d(2, impl=impl), (2, 8, 3)),
        (lambda impl: max_pool2d(2, strides=1, impl=impl), (2, 8, 6, 3)),  # overlapping
        (lambda impl: conv2d(4, 3, impl=impl), (2, 9, 7, 1)),  # patches of 9 values
        (lambda impl: conv1d(4, 3, impl=impl), (2, 9, 3)),
    ]:
        assert program(make("auto"), shape) == program(make("reference"), shape)
    with pytest.raises(ValueError, match=r"'conv_patches' does not apply: its patches hold 9"):
        conv2d(4, 3, impl="conv_patches").init(jax.random.key(0), (9, 7, 1))


def _programs(cell, xs, impls=("auto", "reference", "lstm_blocks"), **run):
    params = cell.init(jax.random.key(1), xs.shape[-1])
    return {
        impl: str(jax.make_jaxpr(lambda p, x, impl=impl: unroll(cell, p, x, impl=impl, **run))(
            params, xs
        ))
        for impl in impls
    }  # fmt: skip


def test_auto_picks_the_registered_cpu_kernel_and_reference_the_plain_scan(rng):
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)).astype(np.float32))
    first = "lstm_onednn" if onednn_available() is None else "lstm_blocks"
    programs = _programs(lstm(4), xs, ["auto", first, "reference"])
    assert programs["auto"] == programs[first] != programs["reference"]
    assert "custom_vjp" in programs["auto"] and "custom_vjp" not in programs["reference"]
    # Padded batches keep the kernel: it masks inside.
    padded = _programs(lstm(4), xs, lengths=np.array([7, 3]))
    assert padded["auto"] == padded["lstm_blocks"] != padded["reference"]


def test_a_researchers_own_cell_and_changed_equations_get_the_reference():
    plain = lstm(4)
    # The same functions under a new step: untagged, so no kernel matches.
    mine = plain._replace(step=lambda p, c, x: plain.step(p, c, x))
    assert cell_tag(mine) is None and cell_tag(plain).kind == "lstm"
    xs = jnp.ones((2, 5, 3))
    programs = {
        "mine": _programs(mine, xs, ["auto"])["auto"],
        "peephole": _programs(lstm(4, peephole=True), xs, ["auto"])["auto"],
        "layer_norm": _programs(lstm(4, layer_norm=True), xs, ["auto"])["auto"],
        "reference": _programs(plain, xs)["reference"],
    }
    assert "custom_vjp" not in programs["mine"] + programs["peephole"] + programs["layer_norm"]
    for cell, kernel in (
        (lstm(4, layer_norm=True), "lstm_blocks"),
        (gru(4, layer_norm=True), "gru_fused"),
    ):
        with pytest.raises(ValueError, match=rf"'{kernel}' does not apply: layer_norm change"):
            unroll(cell, cell.init(jax.random.key(0), 3), xs, impl=kernel)
    assert programs["mine"] == programs["reference"]


def test_kernels_run_in_the_layers_and_under_vmap(rng):
    cell = gru(4)
    params = cell.init(jax.random.key(1), 3)
    xs = jnp.asarray(rng.normal(size=(2, 3, 7, 3)).astype(np.float32))  # batch (2, 3)
    _, ys = unroll(cell, params, xs)
    _, ys_plain = unroll(cell, params, xs, impl="reference")
    np.testing.assert_allclose(ys, ys_plain, rtol=1e-6, atol=1e-6)
    _, ys_vmapped = jax.vmap(lambda x: unroll(cell, params, x))(xs.reshape(6, 7, 3))
    np.testing.assert_allclose(ys_vmapped.reshape(ys.shape), ys, rtol=1e-6, atol=1e-6)
    layer = recurrent(cell, impl="gru_fused")
    np.testing.assert_allclose(layer.apply(params, {}, xs[0])[0], ys[0], rtol=1e-6, atol=1e-6)


def test_bad_impl_names_the_kernel_and_what_it_supports(rng):
    params = lstm(4).init(jax.random.key(1), 3)
    xs = jnp.asarray(rng.normal(size=(2, 7, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"`impl` must be 'auto', 'reference' or a registered"):
        unroll(lstm(4), params, xs, impl="cudnn")
    with pytest.raises(ValueError, match=r"kernel 'lstm_blocks' does not apply: peephole change"):
        unroll(lstm(4, peephole=True), lstm(4, peephole=True).init(jax.random.key(0), 3), xs,
               impl="lstm_blocks")  # fmt: skip
    with pytest.raises(ValueError, match=r"computes 'gru', not 'lstm'.*It supports gru"):
        unroll(lstm(4), params, xs, impl="gru_fused")
    mine = Cell(*lstm(4)[:2], lambda p, c, x: lstm(4).step(p, c, x))
    with pytest.raises(ValueError, match=r"computes 'lstm', not an untagged cell"):
        unroll(mine, params, xs, impl="lstm_blocks")
    with (
        runnable_here("lstm_cudnn") as here,
        pytest.raises(ValueError, match=r"the dtype is bfloat16. It supports lstm .*float32"),
    ):
        unroll(lstm(4), jax.tree.map(lambda a: a.astype(jnp.bfloat16), params),
               xs.astype(jnp.bfloat16), impl=here)  # fmt: skip
    with pytest.raises(ValueError, match=r"unroll='python' asks for the Python loop"):
        unroll(lstm(4), params, xs, unroll="python", impl="lstm_blocks")
    with pytest.raises(ValueError, match=r"kernel 'pool_tiled' does not apply: it is padded"):
        max_pool2d(2, padding=1, impl="pool_tiled").apply({}, {}, jnp.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"max_pool2d: `impl` must be"):
        max_pool2d(2, impl="tiles")
    with pytest.raises(ValueError, match=r"rnn: `impl` must be"):
        recurrent(lstm(4), impl="fast")
    with pytest.raises(ValueError, match="register: kernel name 'lstm_blocks' is taken"):
        register(KERNELS["lstm_blocks"])
    with pytest.raises(TypeError, match="tag_cell: `kind` must be a non-empty str"):
        tag_cell(lstm(4), "")
