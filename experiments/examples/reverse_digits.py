"""seq2seq: reverse a sequence of 10 digits, with and without attention.

    python experiments/examples/reverse_digits.py [--epochs 20]

A GRU encoder-decoder trained with teacher forcing; the test set is decoded
greedily, by sampling (temperature 0.5) and by beam search (4 beams).
"""

import argparse

import jax
import numpy as np
from _train import train_and_test

from jaxnets.cells import gru
from jaxnets.tasks import reverse_digits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    data = reverse_digits.data()
    source, target = data["x_test"]
    print(f"reverse 10 digits, 10,000 training pairs, jax {jax.__version__}")
    print("| attention | params | decoding | token accuracy | sequence accuracy | train s |")
    print("|---|---|---|---|---|---|")
    for attention in (False, True):
        model = reverse_digits.model(gru(128), attention=attention)
        result, _, count, seconds = train_and_test(
            reverse_digits.task, model, data, epochs=args.epochs, lr=3e-3
        )
        for method in ("greedy", "sample", "beam"):
            decoded = np.asarray(
                model.decode(result.params, source, max_length=target.shape[1], method=method,
                             key=jax.random.key(0), temperature=0.5)
            )  # fmt: skip
            right = decoded == target
            print(f"| {attention} | {count} | {method} | {right.mean():.3f} | "
                  f"{right.all(1).mean():.3f} | {seconds:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
