"""The copy-memory task: recall 10 symbols after a blank delay.

    python experiments/examples/copy_memory.py [--delay 50] [--epochs 30]

GRU, LSTM and Elman RNNs read 10 symbols, a delay, a delimiter, and must then
output the 10 symbols. Chance recall is 1/8.
"""

import argparse

import jax
from _train import train_and_test

from jaxnets.cells import elman, gru, lstm
from jaxnets.tasks import copy_memory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    data = copy_memory.data(delay=args.delay)
    print(f"copy memory, 10 symbols, delay {args.delay}, jax {jax.__version__}; chance 0.125")
    print("| cell | params | test recall | epochs (best) | train s |")
    print("|---|---|---|---|---|")
    for name, cell in {"elman": elman(128), "gru": gru(128), "lstm": lstm(128)}.items():
        result, score, count, seconds = train_and_test(
            copy_memory.task, copy_memory.model(cell), data, epochs=args.epochs, lr=3e-3
        )
        print(f"| {name} | {count} | {score:.3f} | {result.epochs_run} ({result.best_epoch + 1}) "
              f"| {seconds:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
