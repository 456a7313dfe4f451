"""jaxnets against PyTorch and flax linen: RNN and convnet train and inference steps.

    python benchmarks/peers.py [--sizes big,small] [--models elman,gru,lstm,convnet]
        [--runs 10] [--rounds 3] [--devices 1,2] [--before GIT_REV]

Train step: forward, backward and an Adam update; inference: the forward pass alone.
jaxnets runs in worker processes, one per count in ``--devices`` (JAX CPU devices, set
before JAX starts; "jaxnets, 1 device" is what a researcher gets by calling ``unroll``
in their own ``jit``, "jaxnets, 2 devices" what ``train_step``'s data parallelism adds),
so that its oneDNN kernel's OpenMP runtime never shares a process with torch's.
"jaxnets, reference" is the same RNN run by ``impl="reference"``: JAX differentiates
the plain ``lax.scan`` over the cell's step instead of running the registered kernel.
"jaxnets, lengths" feeds a padded batch (lengths drawn from [T/2, T], fixed seed) to the
same train step, with the kernel (which masks padded steps itself) and, as
"jaxnets, lengths, reference", without. ``--before REV`` also times jaxnets as it was
at git revision REV (its package extracted to a temporary directory and run in a worker
process, on the first device count), round by round with the others: "jaxnets @REV".
RNNs read (B, T, D) and the loss is the mean squared output of every step; the Keras
MNIST convnet reads a batch of 64 28x28x1 images with softmax cross-entropy. Sizes:
big = B 32, T 200, D 128, H 256; small = B 16, T 100, D 32, H 64. Each contender is
timed in its own blocks (median of ``--runs`` calls after warm-up calls), contender
after contender, ``--rounds`` times over; a row shows the median of its blocks. PyTorch
runs with the faster of 1 and 2 intra-op threads. Also prints the machine's float32 matmul
GFLOP/s (2048 x 2048, XLA) and the GFLOP/s each RNN step achieves, as a fraction of it.
"""

import argparse
import json
import os
import statistics
import sys
import time

from _torch_models import keras_convnet as keras_convnet_torch

SIZES = {"big": (32, 200, 128, 256), "small": (16, 100, 32, 64)}
GATES = {"elman": 1, "gru": 3, "lstm": 4}


def timed(fn, runs):
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _in_rounds(contenders, runs, rounds):
    """{name: (train s, inference s)}: each contender's train and inference calls timed
    in a block of ``runs`` calls, contender after contender, ``rounds`` times over; the
    median of its blocks. The machine's speed drifts by tens of percent within minutes,
    so rounds compare contenders under the same conditions. A contender given as a
    callable returning (train s, inference s) times itself (the ``--before`` worker)."""
    blocks = {name: ([], []) for name in contenders}
    for _ in range(rounds):
        for name, contender in contenders.items():
            if callable(contender):
                train_s, infer_s = contender()
                blocks[name][0].append(train_s)
                blocks[name][1].append(infer_s)
                continue
            train, infer, before = contender
            before()
            blocks[name][0].append(timed(train, runs))
            blocks[name][1].append(timed(infer, runs))
    return {name: tuple(map(statistics.median, times)) for name, times in blocks.items()}


def _no_setup():
    pass


def jaxnets_steps(model, size, *, impl=None, lengths=False):
    """(train call, inference call, setup). The train step is
    ``jaxnets.train.train_step`` and inference ``jaxnets.train.predictor``, both data
    parallel over the visible devices. ``impl`` goes to ``recurrent`` (``None``: its
    default, so that older jaxnets without the argument run too); ``lengths``: a padded
    batch."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from jaxnets.cells import CELLS
    from jaxnets.models import keras_convnet
    from jaxnets.rnn import recurrent
    from jaxnets.train import TrainState, predictor, softmax_cross_entropy, train_step

    opt = optax.adam(1e-3)
    if model == "convnet":
        net, x = keras_convnet(), jax.random.normal(jax.random.key(1), (64, 28, 28, 1))
        y, loss = jnp.arange(64) % 10, softmax_cross_entropy
    else:
        b, t, d, h = SIZES[size]
        cell = CELLS[model](h)
        net = recurrent(cell) if impl is None else recurrent(cell, impl=impl)
        x, y = jax.random.normal(jax.random.key(1), (b, t, d)), jnp.zeros((b,))
        padded = np.random.default_rng(0).integers(t // 2, t + 1, size=b) if lengths else None

        def loss(ys, _, mask=None):  # padded steps output zeros
            return jnp.mean(ys**2)

    _, params, state = net.init(jax.random.key(0), x.shape[1:])
    train = jax.jit(train_step(net.apply, loss, opt))
    infer = jax.jit(lambda p, x: predictor(net.apply)(p, state, x))
    current = {"state": TrainState(params, state, opt.init(params))}

    def train_call():
        if lengths:
            current["state"], _ = jax.block_until_ready(
                train(current["state"], x, y, None, lengths=padded)
            )
        else:
            current["state"], _ = jax.block_until_ready(train(current["state"], x, y, None))

    return train_call, lambda: jax.block_until_ready(infer(params, x)), _no_setup


class Worker:
    """jaxnets timed in a worker process with its own number of JAX CPU devices (set
    before JAX starts), and optionally jaxnets as it was at git revision ``rev``. jaxnets
    runs only in workers: its oneDNN kernel loads a second OpenMP runtime, which slows
    torch's own oneDNN LSTM in a shared process (measured: ~2x)."""

    def __init__(self, devices, runs, rev=None):
        import subprocess
        import tempfile

        env = dict(os.environ)
        self.where = None
        if rev:
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            self.where = tempfile.mkdtemp(prefix="jaxnets-before-")
            archive = subprocess.run(
                ["git", "-C", root, "archive", rev, "jaxnets"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", self.where], input=archive, check=True)
            env["PYTHONPATH"] = self.where
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--runs",
                   str(runs), "--devices", str(devices)]  # fmt: skip
        self.worker = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        where = self.worker.stdout.readline().strip()
        assert self.where is None or where.startswith(self.where), (
            f"the worker imported jaxnets from {where}"
        )

    def contender(self, model, size, impl=None, lengths=False):
        """A contender for ``_in_rounds``: a call that returns (train s, inference s)."""

        def time():
            self.worker.stdin.write(json.dumps([model, size, impl, lengths]) + "\n")
            self.worker.stdin.flush()
            return tuple(json.loads(self.worker.stdout.readline()))

        return time


def worker(runs):
    """Serve timing requests (model, size, impl, lengths) on stdin: jaxnets as this
    process imports it."""
    import jaxnets

    print(os.path.dirname(jaxnets.__file__), flush=True)
    built = {}
    for line in sys.stdin:
        model, size, impl, lengths = json.loads(line)
        key = (model, size, impl, lengths)
        if key not in built:
            built[key] = jaxnets_steps(model, size, impl=impl, lengths=lengths)
        train, infer, _ = built[key]
        print(json.dumps([timed(train, runs), timed(infer, runs)]), flush=True)


def flax_steps(model, size):
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax.adam(1e-3)
    if model == "convnet":

        class ConvNet(nn.Module):
            @nn.compact
            def __call__(self, x):
                for features in (32, 64):
                    x = nn.max_pool(
                        nn.relu(nn.Conv(features, (3, 3), padding="VALID")(x)), (2, 2), (2, 2)
                    )
                x = nn.relu(nn.Conv(64, (3, 3), padding="VALID")(x)).reshape(x.shape[0], -1)
                return nn.Dense(10)(nn.relu(nn.Dense(64)(x)))

        net, x = ConvNet(), jax.random.normal(jax.random.key(1), (64, 28, 28, 1))
        y = jnp.arange(64) % 10

        def loss(params, x):
            return optax.softmax_cross_entropy_with_integer_labels(net.apply(params, x), y).mean()
    else:
        b, t, d, h = SIZES[size]
        cell = {"elman": nn.SimpleCell, "gru": nn.GRUCell, "lstm": nn.OptimizedLSTMCell}[model]
        net, x = nn.RNN(cell(h)), jax.random.normal(jax.random.key(1), (b, t, d))

        def loss(params, x):
            return jnp.mean(net.apply(params, x) ** 2)

    params = net.init(jax.random.key(0), x)

    @jax.jit
    def train(params, opt_state, x):
        grads = jax.grad(loss)(params, x)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    infer = jax.jit(net.apply)
    state = {"params": params, "opt": opt.init(params)}

    def train_call():
        state["params"], state["opt"] = jax.block_until_ready(
            train(state["params"], state["opt"], x)
        )

    return train_call, lambda: jax.block_until_ready(infer(params, x)), _no_setup


def torch_threads(model, size, runs):
    """The faster of 1 and 2 intra-op threads for this model's train step."""
    import torch

    timings = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        timings[threads] = timed(torch_steps(model, size, threads)[0], runs)
    return min(timings, key=timings.get)


def torch_steps(model, size, threads):
    """(train call, inference call, setup: sets ``threads``)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    if model == "convnet":
        net = keras_convnet_torch()
        x, y = torch.randn(64, 1, 28, 28), torch.arange(64) % 10

        def forward(x):
            return net(x)

        def loss_of(x):
            return nn.functional.cross_entropy(net(x), y)
    else:
        b, t, d, h = SIZES[size]
        net = {"elman": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[model](d, h, batch_first=True)
        x = torch.randn(b, t, d)

        def forward(x):
            return net(x)[0]

        def loss_of(x):
            return forward(x).pow(2).mean()

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def train_call():
        opt.zero_grad(set_to_none=True)
        loss_of(x).backward()
        opt.step()

    def infer_call():
        with torch.no_grad():
            forward(x)

    return train_call, infer_call, lambda: torch.set_num_threads(threads)


def matmul_gflops():
    import jax

    a = jax.random.normal(jax.random.key(0), (2048, 2048))
    f = jax.jit(lambda a: a @ a)
    seconds = timed(lambda: jax.block_until_ready(f(a)), 10)
    return 2 * 2048**3 / seconds / 1e9


def rnn_flops(model, size, train):
    """Matmul FLOPs of one step: input and recurrent projections (x3 with the backward)."""
    b, t, d, h = SIZES[size]
    forward = 2 * b * (d + h) * GATES[model] * h * t
    return 3 * forward if train else forward


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="big,small")
    parser.add_argument("--models", default="elman,gru,lstm,convnet")
    parser.add_argument("--runs", type=int, default=10, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per contender")
    parser.add_argument(
        "--devices", default="1,2", help="JAX CPU device counts, each in its own worker"
    )
    parser.add_argument("--before", help="also time jaxnets at this git revision")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if int(args.devices) > 1:  # must happen before JAX starts
            os.environ["XLA_FLAGS"] = (
                os.environ.get("XLA_FLAGS", "")
                + f" --xla_force_host_platform_device_count={args.devices}"
            )
        return worker(args.runs)
    import jax
    import torch

    devices = [int(n) for n in args.devices.split(",")]
    workers = {n: Worker(n, args.runs) for n in devices}
    before = Worker(devices[0], args.runs, args.before) if args.before else None
    peak = matmul_gflops()
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform} ({device.device_kind}), "
          f"torch {torch.__version__}; float32 matmul 2048^2: {peak:.0f} GFLOP/s; "
          f"jaxnets on {' and '.join(map(str, devices))} JAX CPU device(s)")  # fmt: skip
    print("| model | size | impl | train ms | x fastest | inference ms | x fastest | "
          "train GFLOP/s (of peak) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for size in ["-"] if model == "convnet" else args.sizes.split(","):
            threads = torch_threads(model, size, args.runs)
            rnn = model in GATES
            first = f"{devices[0]} device{'s' if devices[0] > 1 else ''}"
            contenders = {}
            for n, w in workers.items():
                contenders[f"jaxnets, {n} device{'s' if n > 1 else ''}"] = w.contender(model, size)
            if before:
                contenders[f"jaxnets @{args.before}, {first}"] = before.contender(model, size)
            if rnn:
                one = workers[devices[0]]
                contenders[f"jaxnets, reference, {first}"] = one.contender(model, size, "reference")
                contenders[f"jaxnets, lengths, {first}"] = one.contender(model, size, None, True)
                contenders[f"jaxnets, lengths, reference, {first}"] = one.contender(
                    model, size, "reference", True
                )
            contenders[f"torch ({threads} thr)"] = torch_steps(model, size, threads)
            contenders["flax linen"] = flax_steps(model, size)
            timings = _in_rounds(contenders, args.runs, args.rounds)
            fastest_train = min(t[0] for t in timings.values())
            fastest_infer = min(t[1] for t in timings.values())
            for label, (train_s, infer_s) in timings.items():
                achieved = "-"
                if model in GATES:
                    gflops = rnn_flops(model, size, True) / train_s / 1e9
                    achieved = f"{gflops:.0f} ({gflops / peak:.0%})"
                print(f"| {model} | {size} | {label} | {train_s * 1e3:.2f} | "
                      f"{train_s / fastest_train:.2f} | {infer_s * 1e3:.2f} | "
                      f"{infer_s / fastest_infer:.2f} | {achieved} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
