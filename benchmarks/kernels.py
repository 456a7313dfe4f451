"""Every registered kernel against its reference, on this machine: the figures the
kernels' docstrings cite.

    python benchmarks/kernels.py [--runs 10] [--rounds 3] [--only NAME,NAME] [--dtype D]
        [--dtype float32]

Cell kernels: a train step's gradient (``jax.grad`` of the mean squared outputs through
``unroll``) and the forward pass, at big = B 32, T 200, D 128, H 256 and small = B 16,
T 100, D 32, H 64, with and without a padded batch (lengths drawn from [T/2, T]).
Layer kernels: forward and backward (gradients of the summed squares) of the kernel's
own function against ``lax.reduce_window`` / ``lax.conv_general_dilated``, batch 64,
at the Keras MNIST convnet's and LeNet-5's shapes. Kernel against reference, each timed
in blocks of ``--runs`` calls, alternated ``--rounds`` times; the median block.
``--dtype``: params and inputs in float32, bfloat16 or float16 (what the kernels'
registered dtypes rest on).
"""

import argparse
import statistics

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from peers import SIZES, timed

from jaxnets.cells import CELLS
from jaxnets.kernels import KERNELS, onednn_available
from jaxnets.layers import max_pool2d
from jaxnets.rnn import unroll


def cell_cases(name, kind, dtype):
    for size, (b, t, d, h) in SIZES.items():
        cell = CELLS[kind](h, dtype=dtype)
        params = cell.init(jax.random.key(0), d)
        xs = jax.random.normal(jax.random.key(1), (b, t, d), dtype)
        lengths = np.random.default_rng(0).integers(t // 2, t + 1, size=b)
        for padded in (False, True) if KERNELS[name].lengths else (False,):
            run = {"lengths": lengths} if padded else {}

            def calls(impl, run=run, cell=cell, params=params, xs=xs):
                def loss(p):
                    return jnp.mean(unroll(cell, p, xs, impl=impl, **run)[1] ** 2)

                grad = jax.jit(jax.grad(loss))
                forward = jax.jit(lambda p: unroll(cell, p, xs, impl=impl, **run)[1])
                return (
                    lambda: jax.block_until_ready(grad(params)),
                    lambda: jax.block_until_ready(forward(params)),
                )

            yield f"{size}{', lengths' if padded else ''}", calls


def _conv_case(c_in, c_out, size, k):
    """A stride-1 unpadded convolution (B 64): lax's and the kernel's, as f(w, x)."""
    shape = (64, size, size, c_in)
    w = jax.random.normal(jax.random.key(0), (k, k, c_in, c_out)) / (k * k * c_in) ** 0.5
    one = ((1, 1), ((0, 0), (0, 0)), (1, 1))

    def reference(w, x):
        layout = ("NHWC", "HWIO", "NHWC")
        return lax.conv_general_dilated(x, w, one[0], one[1], dimension_numbers=layout)

    def kernel(w, x):
        return KERNELS["conv_patches"].run(x, w, strides=one[0], pads=one[1], dilation=one[2])

    return shape, w, {"reference": reference, "conv_patches": kernel}


def _max_pool_case(size, channels):
    shape = (64, size, size, channels)
    reference = max_pool2d(2, impl="reference")

    def kernel(w, x):
        return KERNELS["pool_tiled"].run(x, window=(2, 2), op="max")

    return shape, jnp.zeros(()), {
        "reference": lambda w, x: reference.apply({}, {}, x)[0], "pool_tiled": kernel,
    }  # fmt: skip


# Each called with the kernel itself (``run``), so that sizes it is not registered for,
# because it lost there, can be measured too.
LAYERS = {
    "pool_tiled": {"max_pool2d(2) 26x26x32": _max_pool_case(26, 32)},
    "conv_patches": {
        "3x3, 1->32, 28x28 (patch 9)": _conv_case(1, 32, 28, 3),
        "3x3, 3->32, 28x28 (patch 27)": _conv_case(3, 32, 28, 3),
        "5x5, 1->6, 32x32 (patch 25)": _conv_case(1, 6, 32, 5),
        "3x3, 16->32, 28x28 (patch 144)": _conv_case(16, 32, 28, 3),
        "3x3, 32->64, 13x13 (patch 288)": _conv_case(32, 64, 13, 3),
    },
}


def layer_cases(name, dtype):
    for label, (shape, w, functions) in LAYERS[name].items():
        x, w = jax.random.normal(jax.random.key(1), shape, dtype), w.astype(dtype)

        def calls(impl, f=functions, w=w, x=x):
            grad = jax.jit(jax.grad(lambda w, x: jnp.sum(f[impl](w, x) ** 2), (0, 1)))
            forward = jax.jit(f[impl])
            return (
                lambda: jax.block_until_ready(grad(w, x)),
                lambda: jax.block_until_ready(forward(w, x)),
            )

        yield label, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="kernel names (default: those that run here)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    args = parser.parse_args()
    dtype = jnp.dtype(args.dtype)
    if args.only is None:
        # What runs here: this backend and dtype, the oneDNN kernels where installed.
        args.only = ",".join(
            name
            for name, kernel in KERNELS.items()
            if jax.default_backend() in kernel.backends
            and args.dtype in kernel.dtypes
            and not (name.endswith("_onednn") and onednn_available())
        )
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform} ({device.device_kind}), {args.dtype}")
    print("| kernel | case | train ms, reference | train ms, kernel | x | "
          "forward ms, reference | forward ms, kernel | x |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only.split(","):
        kind = KERNELS[name].kind
        cases = layer_cases(name, dtype) if name in LAYERS else cell_cases(name, kind, dtype)
        for label, calls in cases:
            contenders = {impl: calls(impl) for impl in ("reference", name)}
            blocks = {impl: ([], []) for impl in contenders}
            for _ in range(args.rounds):
                for impl, (train, forward) in contenders.items():
                    blocks[impl][0].append(timed(train, args.runs))
                    blocks[impl][1].append(timed(forward, args.runs))
            (rt, rf), (kt, kf) = (tuple(map(statistics.median, blocks[i])) for i in contenders)
            print(f"| {name} | {label} | {rt * 1e3:.2f} | {kt * 1e3:.2f} | {rt / kt:.2f} | "
                  f"{rf * 1e3:.2f} | {kf * 1e3:.2f} | {rf / kf:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
