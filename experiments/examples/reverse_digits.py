"""seq2seq: reverse a sequence of 20 digits, one encoder-decoder variant per row.

    python experiments/examples/reverse_digits.py [--epochs 20] [--length 20]

GRU(128) encoders and decoders trained with teacher forcing: without attention, with
each attention score (Luong's dot and general, Bahdanau's additive), with input
feeding, two layers deep, and with a bidirectional GRU(64) encoder under a GRU(128)
decoder. The test set is decoded greedily and by beam search (4 beams); the first two
variants also by sampling (temperature 0.5).
"""

import argparse

import jax
import numpy as np
from _train import train_and_test

from jaxnets.cells import gru
from jaxnets.tasks import reverse_digits

VARIANTS = {
    "no attention": {"attention": False},
    "general": {"attention": "general"},
    "dot": {"attention": "dot"},
    "additive": {"attention": "additive"},
    "general + input feeding": {"attention": "general", "input_feeding": True},
    "general 2 layers": {"attention": "general", "num_layers": 2},
    "general bidirectional": {"attention": "general", "bidirectional": True},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--only", default=",".join(VARIANTS), help="comma-separated variants")
    args = parser.parse_args()
    data = reverse_digits.data(length=args.length)
    source, target = data["x_test"]
    print(f"reverse {args.length} digits, 10,000 training pairs, jax {jax.__version__}")
    print("| variant | params | decoding | token accuracy | sequence accuracy | train s |")
    print("|---|---|---|---|---|---|")
    for variant in args.only.split(","):
        options = VARIANTS[variant]
        bidirectional = options.get("bidirectional", False)
        cell = gru(64) if bidirectional else gru(128)
        model = reverse_digits.model(cell, decoder=gru(128), **options)
        result, _, count, seconds = train_and_test(
            reverse_digits.task, model, data, epochs=args.epochs, lr=3e-3
        )
        methods = ("greedy", "sample", "beam") if variant in ("no attention", "general") else (
            "greedy", "beam"
        )  # fmt: skip
        for method in methods:
            decoded = np.asarray(
                model.decode(result.params, source, max_length=target.shape[1], method=method,
                             key=jax.random.key(0), temperature=0.5)
            )  # fmt: skip
            right = decoded == target
            print(f"| {variant} | {count} | {method} | {right.mean():.3f} | "
                  f"{right.all(1).mean():.3f} | {seconds:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
