"""Keras MNIST convnet train step (forward, backward, Adam update): jaxnets, torch, flax.

    python benchmarks/convnet_step.py [--batch 64] [--repeats 50] [--rounds 3]

Two tables. "One process": all contenders in this process, each timed in its own
block after untimed warm-up calls (interleaving torch and JAX call by call slows JAX:
torch's worker threads keep spinning), the blocks repeated ``--rounds`` times in
turn. "Own process": each contender alone in a fresh Python process, which is what a
user gets. They differ because glibc returns large freed blocks to the system until
a process has freed a large one: JAX's buffers raise that threshold for torch in a
shared process, sparing it the page faults it pays on its own.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _torch_models import keras_convnet as keras_convnet_torch

from jaxnets.models import keras_convnet
from jaxnets.train import TrainState, softmax_cross_entropy, train_step


def jaxnets_step(x, y):
    model = keras_convnet()
    _, params, state = model.init(jax.random.key(0), x.shape[1:])
    optimizer = optax.adam(1e-3)
    step = jax.jit(train_step(model.apply, softmax_cross_entropy, optimizer), donate_argnums=0)
    train_state = [TrainState(params, state, optimizer.init(params))]
    x, y, key = jnp.asarray(x), jnp.asarray(y), jax.random.key(1)

    def run():
        train_state[0], metrics = step(train_state[0], x, y, key)
        metrics["loss"].block_until_ready()

    return run


def flax_step(x, y):
    import flax.linen as nn

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.max_pool(nn.relu(nn.Conv(32, (3, 3), padding="VALID")(x)), (2, 2), (2, 2))
            x = nn.max_pool(nn.relu(nn.Conv(64, (3, 3), padding="VALID")(x)), (2, 2), (2, 2))
            x = nn.relu(nn.Conv(64, (3, 3), padding="VALID")(x)).reshape(x.shape[0], -1)
            return nn.Dense(10)(nn.relu(nn.Dense(64)(x)))

    net = Net()
    params = net.init(jax.random.key(0), jnp.asarray(x))
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss(p):
            return optax.softmax_cross_entropy_with_integer_labels(net.apply(p, x), y).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    holder = [params, optimizer.init(params)]
    x, y = jnp.asarray(x), jnp.asarray(y)

    def run():
        holder[0], holder[1], loss = step(holder[0], holder[1], x, y)
        loss.block_until_ready()

    return run


def torch_step(x, y):
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = keras_convnet_torch()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(y, dtype=torch.long)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()

    return run


def time_block(run, repeats, warmup=5):
    # Let the previous contender's worker threads stop spinning first.
    time.sleep(0.5)
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def measure(names, x, y, repeats, rounds):
    """Median ms per contender, timing blocks of ``repeats`` calls ``rounds`` times."""
    runs = {name: CONTENDERS[name](x, y) for name in names}
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name] += time_block(run, repeats)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def print_table(title, medians, batch):
    fastest = min(medians.values())
    print(title)
    print(f"| {'impl':<10} | {'median ms':>9} | {'images/s':>8} | {'x fastest':>9} |")
    print(f"|{'-' * 12}|{'-' * 11}|{'-' * 10}|{'-' * 11}|")
    for name, ms in medians.items():
        print(f"| {name:<10} | {ms:>9.2f} | {batch / ms * 1e3:>8.0f} | {ms / fastest:>9.2f} |")


CONTENDERS = {"jaxnets": jaxnets_step, "torch": torch_step, "flax linen": flax_step}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, args.batch).astype(np.int32)
    if args.only:
        print(json.dumps(measure([args.only], x, y, args.repeats, args.rounds)))
        return

    import torch

    print(
        f"Keras convnet train step, batch {args.batch}, {platform.machine()} "
        f"{os.cpu_count()} cores, jax {jax.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)\n"
    )
    print_table("One process:", measure(CONTENDERS, x, y, args.repeats, args.rounds), args.batch)
    alone = {}
    for name in CONTENDERS:
        command = [sys.executable, __file__, "--only", name, "--batch", str(args.batch),
                   "--repeats", str(args.repeats), "--rounds", str(args.rounds)]  # fmt: skip
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        alone.update(json.loads(output.strip().splitlines()[-1]))
    print()
    print_table("Own process each:", alone, args.batch)


if __name__ == "__main__":
    main()
