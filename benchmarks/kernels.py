"""Every registered kernel against its reference, on this machine: the figures the
kernels' docstrings cite.

    python benchmarks/kernels.py [--runs 10] [--rounds 3] [--only NAME,NAME]

Cell kernels: a train step's gradient (``jax.grad`` of the mean squared outputs through
``unroll``) and the forward pass, at big = B 32, T 200, D 128, H 256 and small = B 16,
T 100, D 32, H 64, with and without a padded batch (lengths drawn from [T/2, T]).
Layer kernels: forward and backward of the Keras MNIST convnet's pooling and
convolution shapes, batch 64. ``impl=NAME`` against ``impl="reference"``, each timed in
blocks of ``--runs`` calls, alternated ``--rounds`` times; the median block.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.cells import CELLS
from jaxnets.kernels import KERNELS
from jaxnets.layers import avg_pool2d, conv2d, max_pool2d
from jaxnets.rnn import unroll

SIZES = {"big": (32, 200, 128, 256), "small": (16, 100, 32, 64)}


def _timed(fn, runs):
    for _ in range(2):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cell_cases(name, kind):
    for size, (b, t, d, h) in SIZES.items():
        cell = CELLS[kind](h)
        params = cell.init(jax.random.key(0), d)
        xs = jax.random.normal(jax.random.key(1), (b, t, d))
        lengths = np.random.default_rng(0).integers(t // 2, t + 1, size=b)
        for padded in (False, True):
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


LAYERS = {
    "pool": {
        "max_pool2d(2) 26x26x32": (lambda impl: max_pool2d(2, impl=impl), (64, 26, 26, 32)),
        "avg_pool2d(2) 26x26x32": (lambda impl: avg_pool2d(2, impl=impl), (64, 26, 26, 32)),
    },
    "conv": {
        "conv2d 3x3 1->32 28x28": (lambda impl: conv2d(32, 3, impl=impl), (64, 28, 28, 1)),
        "conv2d 3x3 32->64 13x13": (lambda impl: conv2d(64, 3, impl=impl), (64, 13, 13, 32)),
    },
}


def layer_cases(name, kind):
    for label, (make, shape) in LAYERS[kind].items():
        x = jax.random.normal(jax.random.key(1), shape)

        def calls(impl, make=make, x=x):
            layer = make(impl)
            _, params, state = layer.init(jax.random.key(0), x.shape[1:])

            def loss(p, x):
                return jnp.sum(layer.apply(p, state, x)[0] ** 2)

            grad = jax.jit(jax.grad(loss, (0, 1)))
            forward = jax.jit(lambda p, x: layer.apply(p, state, x)[0])
            return (
                lambda: jax.block_until_ready(grad(params, x)),
                lambda: jax.block_until_ready(forward(params, x)),
            )

        yield label, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(KERNELS))
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform} ({device.device_kind})")
    print("| kernel | case | train ms, reference | train ms, kernel | x | "
          "forward ms, reference | forward ms, kernel | x |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only.split(","):
        kind = KERNELS[name].kind
        cases = layer_cases(name, kind) if kind in LAYERS else cell_cases(name, kind)
        for label, calls in cases:
            contenders = {impl: calls(impl) for impl in ("reference", name)}
            blocks = {impl: ([], []) for impl in contenders}
            for _ in range(args.rounds):
                for impl, (train, forward) in contenders.items():
                    blocks[impl][0].append(_timed(train, args.runs))
                    blocks[impl][1].append(_timed(forward, args.runs))
            (rt, rf), (kt, kf) = (tuple(map(statistics.median, blocks[i])) for i in contenders)
            print(f"| {name} | {label} | {rt * 1e3:.2f} | {kt * 1e3:.2f} | {rt / kt:.2f} | "
                  f"{rf * 1e3:.2f} | {kf * 1e3:.2f} | {rf / kf:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
