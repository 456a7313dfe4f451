"""bfloat16 against float32: train steps of the LSTM, the GRU and the Keras convnet.

    python benchmarks/precision.py [--sizes big,small] [--models lstm,gru,convnet]
        [--dtypes float32,mixed-bfloat16,bfloat16] [--runs 10] [--rounds 3]

Train step: forward, backward and an Adam update (``jaxnets.train.train_step``), jitted.
"float32": params and compute in float32. "mixed-bfloat16": float32 params and Adam
state, the passes in bfloat16 (``train_step(compute_dtype=jnp.bfloat16)``, what ``fit``
does). "bfloat16": params, optimizer state and compute in bfloat16. "mixed-float16"
adds ``loss_scaled``. RNNs read (B, T, D) with the mean squared output of every step as
the loss, sizes as in ``peers.py`` (big = B 32, T 200, D 128, H 256; small = B 16,
T 100, D 32, H 64); the convnet a batch of 64 28x28x1 images (32 with ``small``).
Each contender is timed in blocks of ``--runs`` calls, contender after contender,
``--rounds`` times over; a row is the median of its blocks. Compile time is apart.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from peers import timed

from jaxnets.cells import gru, lstm
from jaxnets.models import keras_convnet
from jaxnets.rnn import recurrent
from jaxnets.train import TrainState, loss_scaled, softmax_cross_entropy, train_step

SIZES = {"big": (32, 200, 128, 256), "small": (16, 100, 32, 64), "tiny": (2, 6, 3, 4)}
IMAGES = {"big": 64, "small": 32, "tiny": 2}


def problem(model, size):
    """(layer, x, y, loss) for one model at one size."""
    rng = np.random.default_rng(0)
    if model == "convnet":
        b = IMAGES[size]
        x = rng.normal(size=(b, 28, 28, 1)).astype(np.float32)
        return keras_convnet(), x, np.arange(b) % 10, softmax_cross_entropy
    b, t, d, h = SIZES[size]
    layer = recurrent({"lstm": lstm, "gru": gru}[model](h))
    x = rng.normal(size=(b, t, d)).astype(np.float32)
    return layer, x, np.zeros((b,), np.int32), lambda ys, _: jnp.mean(ys.astype(jnp.float32) ** 2)


def contender(model, size, dtype):
    """A jitted train step and its start, for one precision; returns (compile s, call)."""
    layer, x, y, loss = problem(model, size)
    _, params, state = layer.init(jax.random.key(0), x.shape[1:])
    opt, compute = optax.adam(1e-3), None
    if dtype == "bfloat16":
        params = jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)
        state = jax.tree.map(lambda a: a.astype(jnp.bfloat16), state)
    elif dtype.startswith("mixed-"):
        compute = jnp.dtype(dtype.removeprefix("mixed-"))
        opt = loss_scaled(opt) if compute == jnp.float16 else opt
    step = jax.jit(train_step(layer.apply, loss, opt, compute_dtype=compute))
    train_state = TrainState(params, state, opt.init(params))
    x, y = jnp.asarray(x), jnp.asarray(y)
    started = time.perf_counter()
    compiled = step.lower(train_state, x, y, None).compile()
    compile_s = time.perf_counter() - started

    def call():
        _, metrics = compiled(train_state, x, y, None)
        metrics["loss"].block_until_ready()

    return compile_s, call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="big,small")
    parser.add_argument("--models", default="lstm,gru,convnet")
    parser.add_argument("--dtypes", default="float32,mixed-bfloat16,bfloat16")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform} ({device.device_kind})")
    dtypes = args.dtypes.split(",")
    print(f"| model | size | {' | '.join(f'{d} ms' for d in dtypes)} | "
          f"{' | '.join(f'{d} / float32' for d in dtypes[1:])} | compile s |")  # fmt: skip
    print("|" + "---|" * (2 + 2 * len(dtypes)))
    for size in args.sizes.split(","):
        for model in args.models.split(","):
            built = {d: contender(model, size, d) for d in dtypes}
            blocks = {d: [] for d in dtypes}
            for _ in range(args.rounds):
                for d, (_, call) in built.items():
                    blocks[d].append(timed(call, args.runs))
            ms = {d: 1e3 * statistics.median(b) for d, b in blocks.items()}
            ratios = [f"{ms[d] / ms[dtypes[0]]:.2f}x" for d in dtypes[1:]]
            compile_s = "/".join(f"{c:.1f}" for c, _ in built.values())
            print(f"| {model} | {size} | {' | '.join(f'{ms[d]:.2f}' for d in dtypes)} | "
                  f"{' | '.join(ratios)} | {compile_s} |")  # fmt: skip


if __name__ == "__main__":
    main()
