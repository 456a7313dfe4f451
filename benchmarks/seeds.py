"""N seeds of one configuration: one vmapped program against N sequential runs.

    python benchmarks/seeds.py [--seeds 1,2,4,8,16] [--epochs 5] [--hidden 64]

Trains an MLP on mnist1d (4,000 sequences of 40 features, batch 32) for each N,
both ways, each through its own ``Trainer`` after an untimed warm-up that compiles its
programs, and prints
the wall time of training all N seeds and the speed-up of the vmapped program.
"""

import argparse
import time

import jax

from jaxnets.data import mnist1d
from jaxnets.models import mlp
from jaxnets.train import (
    Trainer,
    fit,
    fit_seeds,
    init_and_fit_key,
    optimizer,
    softmax_cross_entropy,
)


def sequential(trainer, x, y, keys, epochs):
    for key in keys:
        k_init, k_fit = init_and_fit_key(key)
        _, params, state = trainer.model.init(k_init, x.shape[1:])
        result = fit(None, params, state, None, None, x, y, epochs=epochs, batch_size=32,
                     key=k_fit, trainer=trainer)  # fmt: skip
        jax.block_until_ready(result.params)


def vmapped(trainer, x, y, keys, epochs):
    result = fit_seeds(trainer.model, None, None, x, y, keys=keys, epochs=epochs,
                       batch_size=32, trainer=trainer)  # fmt: skip
    jax.block_until_ready(result.params)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,4,8,16")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    data = mnist1d()
    x, y = jax.numpy.asarray(data["x"]), jax.numpy.asarray(data["y"])
    model = mlp([args.hidden, args.hidden, 10])
    opt = optimizer("adam", 1e-3)
    platform = jax.devices()[0].platform
    print(f"MLP {args.hidden}-{args.hidden}-10 on mnist1d ({len(x)} rows), batch 32, "
          f"{args.epochs} epochs, jax {jax.__version__} on {platform}")  # fmt: skip
    print(f"| {'seeds':>5} | {'sequential s':>12} | {'vmapped s':>9} | {'speed-up':>8} |")
    print(f"|{'-' * 7}|{'-' * 14}|{'-' * 11}|{'-' * 10}|")
    for n in [int(s) for s in args.seeds.split(",")]:
        keys = jax.random.split(jax.random.key(0), n)
        times = {}
        for name, run in (("sequential", sequential), ("vmapped", vmapped)):
            # One Trainer per contender holds its compiled programs: the untimed first
            # run compiles them, the timed one trains.
            trainer = Trainer(model, opt, softmax_cross_entropy)
            run(trainer, x, y, keys[:1] if name == "sequential" else keys, 1)
            start = time.perf_counter()
            run(trainer, x, y, keys, args.epochs)
            times[name] = time.perf_counter() - start
        seq, vec = times["sequential"], times["vmapped"]
        print(f"| {n:>5} | {seq:>12.2f} | {vec:>9.2f} | {seq / vec:>7.2f}x |")


if __name__ == "__main__":
    main()
