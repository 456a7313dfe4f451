"""Recursive networks against sequential RNNs: evaluate arithmetic expressions mod 10.

    python experiments/examples/arithmetic_trees.py [--epochs 20] [--max-depth 3] [--n-train 20000]

Random expression trees of depth up to 3 (digits at the leaves, + and - inside,
values mod 10; generated offline, ``jaxnets.tasks.arithmetic_trees``), 20,000 to train
(90% fit, 10% pick the epoch) and 2,000 to test. The tree models read the tree; the
sequential ones read the same tokens in infix with brackets and must parse them.
Adam 1e-2 (no gradient clipping: clipped at norm 1 the Tree-LSTM stalled near chance),
batches of 32, early stopping (patience 8) on validation accuracy, the best epoch
restored.
"""

import argparse
import time

import jax
import numpy as np

from jaxnets.cells import gru, lstm, recursive_cell, tree_lstm
from jaxnets.data import holdout
from jaxnets.tasks import arithmetic_trees as task
from jaxnets.train import EarlyStopping, accuracy, evaluate, fit, optimizer, softmax_cross_entropy

MODELS = {
    "N-ary Tree-LSTM(64)": ("tree", lambda depth: task.tree_model(tree_lstm(64), max_depth=depth)),
    "child-sum Tree-LSTM(64)": (
        "tree",
        lambda depth: task.tree_model(tree_lstm(64, child_sum=True), max_depth=depth),
    ),
    "recursive net(64)": (
        "tree",
        lambda depth: task.tree_model(recursive_cell(64), max_depth=depth),
    ),
    "LSTM(64) on infix": ("sequence", lambda depth: task.sequence_model(lstm(64))),
    "GRU(64) on infix": ("sequence", lambda depth: task.sequence_model(gru(64))),
}


def inputs(split, form):
    if form == "tree":
        return (split["tokens"], split["children"]), split["nodes"]
    return split["sequence"], split["sequence_lengths"]


def run(name, data, *, epochs, depth, seed=0):
    form, make = MODELS[name]
    model = make(depth)
    x, lengths = inputs(data["train"], form)
    y = data["train"]["y"]
    train, val = holdout(y, test_fraction=0.1, seed=seed)
    rows = lambda tree, idx: jax.tree.map(lambda a: a[idx], tree)  # noqa: E731
    _, params, state = model.init(jax.random.key(seed), jax.tree.map(lambda a: a.shape[1:], x))
    started = time.perf_counter()
    result = fit(
        model, params, state, optimizer("adam", 1e-2), softmax_cross_entropy,
        rows(x, train), y[train], lengths=lengths[train], epochs=epochs, batch_size=32,
        key=jax.random.key(seed + 1), validation=(rows(x, val), y[val], lengths[val]),
        metric=accuracy, early_stopping=EarlyStopping(patience=8, mode="max"),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    x_test, lengths_test = inputs(data["test"], form)
    test = evaluate(model, result.params, result.state, x_test, data["test"]["y"], accuracy,
                    lengths=lengths_test)  # fmt: skip
    count = sum(leaf.size for leaf in jax.tree.leaves(result.params))
    return test, count, result.epochs_run, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--operators", default="+-", help='any of "+-*"')
    parser.add_argument("--only", default=",".join(MODELS), help="comma-separated models")
    args = parser.parse_args()
    data = task.data(max_depth=args.max_depth, operators=args.operators, n_train=args.n_train)
    majority = np.bincount(data["train"]["y"]).argmax()
    share = np.mean(data["test"]["y"] == majority)
    nodes = data["train"]["nodes"].mean()
    print(f"expressions over {args.operators} of depth <= {args.max_depth}: mean {nodes:.1f} "
          f"nodes; majority class {majority}: {share:.3f} of the test set; "
          f"jax {jax.__version__}")  # fmt: skip
    print("| model | params | test accuracy | epochs | train s |")
    print("|---|---|---|---|---|")
    for name in args.only.split(","):
        test, count, epochs, seconds = run(name, data, epochs=args.epochs, depth=args.max_depth)
        print(f"| {name} | {count} | {test:.3f} | {epochs} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
