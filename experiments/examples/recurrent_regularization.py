"""What recurrent regularization does to overfitting: an LSTM(128) on 150 of the 8x8
digits read row by row (8 steps of 8 pixels), trained without and with variational
input dropout, variational recurrent dropout and zoneout; train and test curves.

    python experiments/examples/recurrent_regularization.py [--epochs 150] [--train 150]

The test split (30% of the 1,797 digits) is scored after every epoch only to draw its
curve; no epoch is picked on it (no early stopping: every run trains all epochs).
Writes docs/img/recurrent_regularization.png and prints the table in the README.
"""

import argparse
import pathlib

import jax
import numpy as np

from jaxnets.cells import lstm
from jaxnets.data import digits, holdout
from jaxnets.models import many_to_one
from jaxnets.rnn import recurrent
from jaxnets.train import accuracy, evaluate, fit, optimizer, softmax_cross_entropy

VARIANTS = {
    "none": {},
    "dropout 0.25 (inputs)": {"dropout": 0.25},
    "recurrent dropout 0.25": {"recurrent_dropout": 0.25},
    "zoneout 0.15": {"zoneout": 0.15},
    "all three": {"dropout": 0.25, "recurrent_dropout": 0.25, "zoneout": 0.15},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--train", type=int, default=150, help="training rows")
    parser.add_argument("--out", default="docs/img/recurrent_regularization.png")
    args = parser.parse_args()
    x, y = digits()
    x = x[..., 0]
    train, test = holdout(y, test_fraction=0.3, seed=0)
    train = np.random.default_rng(0).permutation(train)[: args.train]
    curves, rows = {}, []
    for label, options in VARIANTS.items():
        model = many_to_one(recurrent(lstm(128), **options), 10)
        _, params, state = model.init(jax.random.key(0), x.shape[1:])
        result = fit(
            model, params, state, optimizer("adam", 3e-3), softmax_cross_entropy, x[train],
            y[train], epochs=args.epochs, batch_size=32, key=jax.random.key(1),
            validation=(x[test], y[test]), metric=accuracy,
        )  # fmt: skip
        train_acc = evaluate(model, result.params, result.state, x[train], y[train], accuracy)
        test_acc = result.history.val_metric[-1]
        curves[label] = result.history
        rows.append((label, train_acc, test_acc, result.history.val_metric.max()))
        print(f"{label}: train {train_acc:.3f}, test {test_acc:.3f}", flush=True)
    print(f"\nLSTM(128) on {args.train} digits (rows as steps), {args.epochs} epochs, Adam 3e-3:")
    print("| regularization | train acc | test acc (last epoch) | best test acc | gap |")
    print("|---|---|---|---|---|")
    for label, train_acc, test_acc, best in rows:
        print(f"| {label} | {train_acc:.3f} | {test_acc:.3f} | {best:.3f} | "
              f"{train_acc - test_acc:.3f} |")  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, history in curves.items():
        left.plot(history.loss, label=label)
        right.plot(history.val_metric, label=label)
    left.set(yscale="log", xlabel="epoch", ylabel="training loss", title="train")
    right.set(xlabel="epoch", ylabel="accuracy", title="test")
    right.legend()
    fig.tight_layout()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
