"""Convolution: torch with copied weights, the textbook's worked example, sizes, grads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxnets.layers import (
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    global_avg_pool,
    global_max_pool,
)


def _init(layer, input_shape, seed=0):
    return layer.init(jax.random.key(seed), input_shape)


def _torch_conv2d(x, w, b, stride, padding, dilation):
    y = F.conv2d(
        torch.tensor(np.asarray(x)).permute(0, 3, 1, 2),
        torch.tensor(np.asarray(w)).permute(3, 2, 0, 1),
        torch.tensor(np.asarray(b)),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    return y.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("impl", ["reference", "conv_patches"])
@pytest.mark.parametrize(
    "kernel, stride, padding, dilation",
    [(3, 1, 0, 1), (3, 2, 1, 1), ((3, 2), (2, 1), (1, 0), 1), (3, 1, 2, 2), (5, 2, 2, 1)],
)
def test_conv2d_matches_torch(rng, kernel, stride, padding, dilation, impl):
    layer = conv2d(4, kernel, strides=stride, padding=padding, dilation=dilation, impl=impl)
    out_shape, params, _ = _init(layer, (9, 8, 3))
    params = {**params, "b": jnp.asarray(rng.normal(size=4), jnp.float32)}
    x = rng.normal(size=(2, 9, 8, 3)).astype(np.float32)
    y, _ = layer.apply(params, {}, x)
    expected = _torch_conv2d(x, params["w"], params["b"], stride, padding, dilation)
    assert y.shape == (2, *out_shape)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", ["reference", "conv_patches"])
@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 1)])
def test_conv1d_matches_torch(rng, stride, padding, dilation, impl):
    layer = conv1d(5, 3, strides=stride, padding=padding, dilation=dilation, impl=impl)
    out_shape, params, _ = _init(layer, (11, 6))  # patches of 18 values
    x = rng.normal(size=(2, 11, 6)).astype(np.float32)
    y, _ = layer.apply(params, {}, x)
    expected = F.conv1d(
        torch.from_numpy(x).permute(0, 2, 1),
        torch.tensor(np.asarray(params["w"])).permute(2, 1, 0),
        torch.tensor(np.asarray(params["b"])),
        stride=stride,
        padding=padding,
        dilation=dilation,
    ).permute(0, 2, 1)
    assert y.shape == (2, *out_shape)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_same_padding_keeps_size_at_stride_1_and_halves_at_stride_2(rng):
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    for stride, expected in ((1, (7, 6)), (2, (4, 3))):
        layer = conv2d(2, 3, strides=stride, padding="same")
        _, params, _ = _init(layer, (7, 6, 3))
        y, _ = layer.apply(params, {}, x)
        assert y.shape == (2, *expected, 2)
    # At stride 1 'same' is symmetric padding 1 for a 3x3 kernel.
    layer = conv2d(2, 3, padding="same")
    _, params, _ = _init(layer, (7, 6, 3))
    y, _ = layer.apply(params, {}, x)
    np.testing.assert_allclose(
        y, _torch_conv2d(x, params["w"], params["b"], 1, 1, 1), rtol=1e-5, atol=1e-5
    )


# The textbook's worked example: a 5x5 binary image and a 3x3 "X" filter, bias 0.
IMAGE = np.array(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
    np.float32,
)
FILTER = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)


@pytest.mark.parametrize(
    "stride, expected",
    [(1, [[4, 3, 4], [2, 4, 3], [2, 3, 4]]), (2, [[4, 4], [2, 4]])],
)
def test_textbook_feature_map(stride, expected):
    layer = conv2d(1, 3, strides=stride, use_bias=False)
    params = {"w": jnp.asarray(FILTER)[:, :, None, None]}
    y, _ = layer.apply(params, {}, jnp.asarray(IMAGE)[None, :, :, None])
    np.testing.assert_array_equal(y[0, :, :, 0], np.array(expected, np.float32))


def test_textbook_feature_map_with_padding_1():
    # Hand-computed from the definition a_ij = sum_mn w_mn x_(i+m)(j+n) on the padded image.
    padded = np.pad(IMAGE, 1)
    expected = np.array(
        [[np.sum(padded[i : i + 3, j : j + 3] * FILTER) for j in range(5)] for i in range(5)]
    )
    layer = conv2d(1, 3, padding=1, use_bias=False)
    y, _ = layer.apply({"w": jnp.asarray(FILTER)[:, :, None, None]}, {}, IMAGE[None, :, :, None])
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 12),
    k=st.integers(1, 5),
    p=st.integers(0, 3),
    s=st.integers(1, 4),
)
def test_output_size_formula(h, k, p, s):
    assume(k <= h + 2 * p)
    layer = conv2d(2, k, strides=s, padding=p)
    out_shape, _, _ = layer.init(jax.random.key(0), (h, h + 1, 1))
    assert out_shape == ((h + 2 * p - k) // s + 1, (h + 1 + 2 * p - k) // s + 1, 2)


@pytest.mark.parametrize("impl", ["reference", "conv_patches"])
def test_conv_gradients_match_finite_differences(rng, impl):
    with jax.enable_x64(True):
        layer = conv2d(
            2,
            3,
            strides=2,
            padding=1,
            dilation=(1, 2),
            activation=jnp.tanh,
            dtype=jnp.float64,
            impl=impl,
        )
        _, params, _ = _init(layer, (5, 4, 3))
        x = jnp.asarray(rng.normal(size=(2, 5, 4, 3)))

        def f(params, x):
            return layer.apply(params, {}, x)[0]

        check_grads(f, (params, x), order=1, modes=("rev",))


def test_conv_rejects_wrong_channels():
    layer = conv2d(4, 3)
    _, params, _ = _init(layer, (28, 28, 1))
    with pytest.raises(
        ValueError, match=r"`x` must have shape \(\?, \?, \?, 1\), got \(2, 28, 28, 3\)"
    ):
        layer.apply(params, {}, jnp.zeros((2, 28, 28, 3)))


def test_conv_rejects_kernel_larger_than_padded_input():
    with pytest.raises(
        ValueError, match=r"larger than spatial axis 0 of `x` after padding: 3 \+ 1"
    ):
        conv2d(4, 6, padding=1).init(jax.random.key(0), (3, 8, 1))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"strides": -1}, "strides"),
        ({"strides": 0}, "strides"),
        ({"dilation": (1, 2, 3)}, "dilation"),
        ({"padding": -1}, "padding"),
        ({"padding": "full"}, "padding"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"filters": 0}, "filters"),
        ({"impl": "cudnn"}, "impl"),
    ],
)
def test_conv_rejects_bad_arguments(kwargs, argument):
    args = {"filters": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=f"`{argument}`"):
        conv2d(args.pop("filters"), args.pop("kernel_size"), **args)


def test_conv_rejects_wrong_input_rank():
    with pytest.raises(ValueError, match=r"`input_shape` must have 3 axes"):
        conv2d(4, 3).init(jax.random.key(0), (28, 28))


@pytest.mark.parametrize("groups, filters", [(2, 4), (4, 4), (4, 8)])  # (4, *): depthwise
def test_grouped_and_depthwise_conv_match_torch(rng, groups, filters):
    for ndim, make, functional in ((1, conv1d, F.conv1d), (2, conv2d, F.conv2d)):
        layer = make(filters, 3, strides=2, padding=1, groups=groups)
        spatial = (9, 8)[:ndim]
        out_shape, params, _ = _init(layer, (*spatial, 4))
        assert params["w"].shape == (*(3,) * ndim, 4 // groups, filters)
        x = rng.normal(size=(2, *spatial, 4)).astype(np.float32)
        y, _ = layer.apply(params, {}, x)
        to_torch = (0, ndim + 1, *range(1, ndim + 1))  # NWC / NHWC -> NCW / NCHW
        expected = functional(
            torch.from_numpy(x).permute(*to_torch),
            torch.tensor(np.asarray(params["w"])).permute(ndim + 1, ndim, *range(ndim)),
            torch.tensor(np.asarray(params["b"])),
            stride=2,
            padding=1,
            groups=groups,
        )
        back = (0, *range(2, ndim + 2), 1)
        assert y.shape == (2, *out_shape)
        np.testing.assert_allclose(y, expected.permute(*back).numpy(), rtol=1e-5, atol=1e-5)


def test_causal_conv1d_is_torch_with_left_padding_and_reads_no_future(rng):
    layer = conv1d(3, 3, dilation=2, padding="causal")
    out_shape, params, _ = _init(layer, (10, 2))
    assert out_shape == (10, 3)
    x = rng.normal(size=(2, 10, 2)).astype(np.float32)
    y, _ = layer.apply(params, {}, x)
    expected = F.conv1d(
        F.pad(torch.from_numpy(x).permute(0, 2, 1), (4, 0)),  # d * (k - 1) = 4, before only
        torch.tensor(np.asarray(params["w"])).permute(2, 1, 0),
        torch.tensor(np.asarray(params["b"])),
        dilation=2,
    ).permute(0, 2, 1)
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-5, atol=1e-5)
    # Changing step 6 leaves outputs 0..5 unchanged and changes output 6.
    changed, _ = layer.apply(params, {}, x.copy() + (np.arange(10) == 6)[None, :, None])
    np.testing.assert_array_equal(changed[:, :6], y[:, :6])
    assert not np.allclose(changed[:, 6], y[:, 6])
    with pytest.raises(ValueError, match="'causal' is for conv1d only"):
        conv2d(3, 3, padding="causal")


def _torch_transposed_weight(w, groups):
    """Our (*k, C / G, F) weight as torch's ConvTranspose (C, F / G, *k), per group."""
    w = torch.tensor(np.asarray(w))
    ndim = w.dim() - 2
    blocks = w.chunk(groups, dim=-1)  # group g: (*k, C / G, F / G)
    return torch.cat([b.permute(ndim, ndim + 1, *range(ndim)) for b in blocks], dim=0)


@pytest.mark.parametrize(
    "kernel, stride, padding, output_padding, dilation, groups",
    [
        (3, 2, 1, 1, 1, 1),
        (4, 2, 1, 0, 1, 1),
        (3, 1, 0, 0, 2, 1),
        (3, 3, 2, 2, 1, 2),
        (2, 2, 0, 0, 1, 4),
    ],
)
def test_transposed_convolutions_match_torch_with_gradients(
    rng, kernel, stride, padding, output_padding, dilation, groups
):
    for ndim, make, module in (
        (1, conv_transpose1d, torch.nn.ConvTranspose1d),
        (2, conv_transpose2d, torch.nn.ConvTranspose2d),
    ):
        options = {"strides": stride, "padding": padding, "dilation": dilation, "groups": groups}
        layer = make(8, kernel, output_padding=output_padding, **options)
        spatial = (5, 4)[:ndim]
        out_shape, params, _ = _init(layer, (*spatial, 4))
        params = {**params, "b": jnp.asarray(rng.normal(size=8), jnp.float32)}
        theirs = module(4, 8, kernel, stride, padding, output_padding, groups, True, dilation)
        with torch.no_grad():
            theirs.weight.copy_(_torch_transposed_weight(params["w"], groups))
            theirs.bias.copy_(torch.tensor(np.asarray(params["b"])))
        x = rng.normal(size=(2, *spatial, 4)).astype(np.float32)
        g = rng.normal(size=(2, *out_shape)).astype(np.float32)
        y, _ = layer.apply(params, {}, x)
        to_torch, back = (0, ndim + 1, *range(1, ndim + 1)), (0, *range(2, ndim + 2), 1)
        x_t = torch.from_numpy(x).permute(*to_torch).requires_grad_(True)
        y_t = theirs(x_t).permute(*back)
        assert y.shape == (2, *out_shape) == tuple(y_t.shape)
        np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-5, atol=1e-5)
        (y_t * torch.from_numpy(g)).sum().backward()

        def loss(p, x, layer=layer, g=g):
            return jnp.sum(layer.apply(p, {}, x)[0] * g)

        d_params, d_x = jax.grad(loss, (0, 1))(params, jnp.asarray(x))
        np.testing.assert_allclose(d_x, x_t.grad.permute(*back).numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(
            _torch_transposed_weight(d_params["w"], groups),
            theirs.weight.grad,
            rtol=1e-4,
            atol=1e-5,
        )


def test_a_stride_s_transposed_convolution_undoes_the_convolutions_shape():
    for n in (7, 8):
        down = conv2d(3, 3, strides=2, padding=1)
        shape, _, _ = down.init(jax.random.key(0), (n, n, 2))
        up = conv_transpose2d(2, 3, strides=2, padding=1, output_padding=(n + 1) % 2)
        assert up.init(jax.random.key(0), shape)[0] == (n, n, 2)


def test_transposed_convolution_rejects_bad_arguments():
    with pytest.raises(
        ValueError, match=r"`padding` must be at most dilation \* \(kernel_size - 1\) = 2"
    ):
        conv_transpose1d(2, 3, padding=3)
    with pytest.raises(ValueError, match=r"`output_padding` must be smaller than the stride"):
        conv_transpose2d(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"got 'same'"):
        conv_transpose1d(2, 3, padding="same")
    with pytest.raises(ValueError, match=r"`filters` must be a multiple of `groups`, got 3 and 2"):
        conv_transpose1d(3, 3, groups=2)
    with pytest.raises(
        ValueError, match=r"input channels must be a multiple of `groups` = 2, got 3"
    ):
        conv2d(4, 3, groups=2).init(jax.random.key(0), (5, 5, 3))
    with pytest.raises(ValueError, match=r"leaves no output"):
        layer = conv_transpose1d(2, 3, padding=2)
        layer.init(jax.random.key(0), (1, 2))


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_global_pooling_matches_torch_adaptive_pooling(rng, kind):
    x = rng.normal(size=(3, 5, 4, 6)).astype(np.float32)
    layer = {"avg": global_avg_pool, "max": global_max_pool}[kind]()
    assert layer.init(jax.random.key(0), (5, 4, 6))[0] == (6,)
    pool = {"avg": F.adaptive_avg_pool2d, "max": F.adaptive_max_pool2d}[kind]
    x_t = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_(True)
    y_t = pool(x_t, 1).flatten(1)
    y, _ = layer.apply({}, {}, x)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-6, atol=1e-6)
    y_t.sum().backward()
    d_x = jax.grad(lambda x: layer.apply({}, {}, x)[0].sum())(jnp.asarray(x))
    np.testing.assert_allclose(d_x, x_t.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-6, atol=1e-7)
    # Any spatial size, one or two axes.
    assert layer.apply({}, {}, x[:, :2])[0].shape == (3, 6)
    assert layer.apply({}, {}, x[:, 0])[0].shape == (3, 6)
    with pytest.raises(ValueError, match=r"at least one spatial axis, got shape \(3, 6\)"):
        layer.apply({}, {}, x[:, 0, 0])
