"""Sequence classification: mnist1d (40 steps of 1 value) and the digits read row by row.

    python experiments/examples/sequence_classification.py [--epochs 40]

Each cell reads the sequence; a dense layer classifies its final output.
"""

import argparse

import jax
from _train import train_and_test

from jaxnets.cells import clockwork, elman, gru, lstm
from jaxnets.tasks import digits_rows, mnist1d


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    print(f"sequence classification, jax {jax.__version__}")
    print("| task | cell | params | test accuracy | epochs (best) | train s |")
    print("|---|---|---|---|---|---|")
    for task_module in (mnist1d, digits_rows):
        data = task_module.data()
        cells = {"elman": elman(64), "gru": gru(64), "lstm": lstm(64), "clockwork": clockwork(64)}
        for name, cell in cells.items():
            result, score, count, seconds = train_and_test(
                task_module.task, task_module.model(cell), data, epochs=args.epochs, lr=3e-3
            )
            print(f"| {task_module.task.name} | {name} | {count} | {score:.3f} | "
                  f"{result.epochs_run} ({result.best_epoch + 1}) | {seconds:.0f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
