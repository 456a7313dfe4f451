"""Why plain RNNs forget: gradient flow through time on the adding problem (T = 100).

    python experiments/examples/vanishing_gradients.py [--epochs 30] [--out docs/img]

Elman, GRU, LSTM and Clockwork RNNs of about the same size, each read out by a dense
layer from its last output, at initialization and after training with Adam. Prints
||dL/dh|| at several distances from the end and the test MSE (predicting the
mean scores 0.167), and writes the figure vanishing_gradients.png.
"""

import argparse
import os
import time

import jax

from jaxnets.cells import clockwork, elman, gru, lstm
from jaxnets.data import adding_problem
from jaxnets.diagnostics import gradient_flow, plot_gradient_flow
from jaxnets.layers import dense, serial
from jaxnets.rnn import recurrent
from jaxnets.train import evaluate, fit, mse, optimizer

T = 100
CELLS = {
    "elman": elman(64),
    "gru": gru(36),
    "lstm": lstm(32),
    "clockwork": clockwork(96, num_modules=4),
}
DISTANCES = (1, 10, 25, 50, 75, 100)


def flow(cell, params, x, y):
    """||dL/dh_t|| for the model's MSE, through the recurrent layer's hidden states."""

    def loss_fn(ys, final):
        y_pred = ys[:, -1] @ params["dense"]["w"] + params["dense"]["b"][None]
        return mse(y_pred, y)

    return gradient_flow(cell, params["rnn"], x, loss_fn)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    x, y = adding_problem(args.train, T, seed=0)
    x_test, y_test = adding_problem(1000, T, seed=1)
    probe = (x_test[:256], y_test[:256])
    trained, initial, rows = {}, {}, []
    for name, cell in CELLS.items():
        model = serial(recurrent(cell, return_sequences=False), dense(1))
        _, params, state = model.init(jax.random.key(0), (T, 2))
        n_params = sum(leaf.size for leaf in jax.tree.leaves(params))
        before = flow(cell, params, *probe)
        start = time.perf_counter()
        result = fit(
            model, params, state, optimizer("adam", 2e-3, clip_norm=1.0), mse, x, y,
            epochs=args.epochs, batch_size=64, key=jax.random.key(1),
        )  # fmt: skip
        seconds = time.perf_counter() - start
        after = flow(cell, result.params, *probe)
        test_mse = evaluate(model, result.params, result.state, x_test, y_test, mse)
        initial[name], trained[name] = before, after
        rows.append((name, n_params, test_mse, seconds, before, after))

    print(f"Adding problem, T = {T}, {args.train} training sequences, {args.epochs} epochs, "
          f"jax {jax.__version__}.")  # fmt: skip
    print("||dL/dh|| for the state read d steps before the end:")
    header = " | ".join(f"d={d}" for d in DISTANCES)
    print(f"| cell | params | when | {header} | test MSE | train s |")
    print("|---|---|---|" + "---|" * len(DISTANCES) + "---|---|")
    for name, n_params, test_mse, seconds, before, after in rows:
        for when, norms in (("init", before), ("trained", after)):
            cells = " | ".join(f"{norms[T - d]:.1e}" for d in DISTANCES)
            tail = f"{test_mse:.4f} | {seconds:.0f}" if when == "trained" else " | "
            print(f"| {name} | {n_params} | {when} | {cells} | {tail} |")
    os.makedirs(args.out, exist_ok=True)
    path = plot_gradient_flow(
        trained, os.path.join(args.out, "vanishing_gradients.png"), baseline=initial,
        title=f"Gradient flow on the adding problem (T = {T}), trained and at init",
    )  # fmt: skip
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
