"""Which licence family a sentence comes from, tested on newer licence versions.

Variable-length sentences (3 to 64 words) batched by length (``bucket_batches``): GRU,
LSTM and a bidirectional GRU against a bag-of-words logistic regression.

    python experiments/examples/licence_sentences.py [--epochs 40] [--seeds 3]
"""

import argparse
import time

import jax
import numpy as np

from jaxnets.cells import gru, lstm
from jaxnets.data import bucket_batches, holdout
from jaxnets.tasks import licence_sentences as task
from jaxnets.train import EarlyStopping, accuracy, evaluate, fit, optimizer, softmax_cross_entropy

MODELS = {
    "GRU(64)": lambda vocab: task.sentence_classifier(vocab, gru(64), 4),
    "LSTM(64)": lambda vocab: task.sentence_classifier(vocab, lstm(64), 4),
    "bidirectional GRU(64)": lambda vocab: task.sentence_classifier(
        vocab, gru(64), 4, bidirectional=True
    ),
}


def run(name, data, *, epochs, seed):
    """Train on 90% of the training sentences, stop on the other 10%, score the test set."""
    train, val = holdout(data["y"], test_fraction=0.1, seed=seed)
    model = MODELS[name](data["tokenizer"].vocab_size)
    _, params, state = model.init(jax.random.key(seed), data["x"].shape[1:])
    rows = lambda idx: (data["x"][idx], data["y"][idx], data["lengths"][idx])  # noqa: E731
    batches = bucket_batches(*rows(train), batch_size=32, num_buckets=4, seed=seed)
    started = time.perf_counter()
    result = fit(
        model, params, state, optimizer("adam", 3e-3, clip_norm=1.0), softmax_cross_entropy,
        batches=batches, epochs=epochs, key=jax.random.key(seed + 1), validation=rows(val),
        metric=accuracy, early_stopping=EarlyStopping(patience=8, mode="max"),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    test = evaluate(model, result.params, result.state, data["x_test"], data["y_test"], accuracy,
                    lengths=data["lengths_test"])  # fmt: skip
    return test, result.epochs_run, seconds, batches.padding_fraction


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    data = task.data()
    device = jax.devices()[0].platform
    print(f"{len(data['y'])} training sentences ({', '.join(task.CLASSES)}), "
          f"{len(data['y_test'])} test sentences from newer versions; vocabulary "
          f"{data['tokenizer'].vocab_size}; jax {jax.__version__}, {device}")  # fmt: skip
    print("| model | test accuracy (mean +- std over seeds) | epochs | seconds |")
    print("|---|---|---|---|")
    print(f"| bag-of-words logistic regression | {task.bag_of_words_baseline(data):.3f} | | |")
    for name in MODELS:
        runs = [run(name, data, epochs=args.epochs, seed=s) for s in range(args.seeds)]
        acc = np.array([r[0] for r in runs])
        epochs, seconds = np.mean([r[1] for r in runs]), np.mean([r[2] for r in runs])
        print(f"| {name} | {acc.mean():.3f} +- {acc.std():.3f} | {epochs:.0f} | {seconds:.0f} |")
    print(f"padding with 4 length buckets: {runs[0][3]:.1%} of the batches' cells")


if __name__ == "__main__":
    main()
