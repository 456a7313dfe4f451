"""The adding problem: which cells carry a value across T steps?

    python experiments/examples/adding.py [--length 100] [--epochs 30]

Elman, GRU, LSTM and Clockwork RNNs of about the same size, each read out by a
dense layer from its last output, trained with Adam (clipping at norm 1) on 10,000
sequences. Predicting the mean scores a test MSE of 0.167.
"""

import argparse

import jax
from _train import train_and_test

from jaxnets.cells import clockwork, elman, gru, lstm
from jaxnets.tasks import adding


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    data = adding.data(length=args.length)
    cells = {
        "elman": elman(64),
        "gru": gru(36),
        "lstm": lstm(32, forget_bias=3.0),
        "clockwork": clockwork(96, num_modules=4),
    }
    print(f"adding problem, T = {args.length}, jax {jax.__version__}; mean predictor: 0.167")
    print("| cell | params | test MSE | epochs (best) | train s |")
    print("|---|---|---|---|---|")
    for name, cell in cells.items():
        result, score, count, seconds = train_and_test(
            adding.task, adding.model(cell), data, epochs=args.epochs, lr=3e-3
        )
        print(f"| {name} | {count} | {score:.4f} | {result.epochs_run} ({result.best_epoch + 1}) "
              f"| {seconds:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
