"""ConvLSTM against an LSTM on flattened frames: forecast the next frame of moving digits.

    python experiments/examples/moving_digits.py [--epochs 12] [--plot docs/img/moving_digits.png]

Two of scikit-learn's 8x8 digits drift and bounce on a 16x16 canvas
(``jaxnets.tasks.moving_digits``, generated offline; test sequences move digit images
never seen in training). Each model reads frames 0..8 and predicts frames 1..9;
binary cross-entropy on the pixel intensities, Adam 3e-3 with clipping, batches of 64,
early stopping on 10% held out. The table gives the test MSE per pixel of the
predicted intensities, against the baseline that predicts no motion. ``--plot`` saves
one test sequence and each model's forecasts.
"""

import argparse

import jax
import numpy as np
from _train import train_and_test

from jaxnets.cells import conv_lstm, lstm
from jaxnets.tasks import moving_digits as task

MODELS = {
    "LSTM(256) on flattened frames": lambda: task.forecaster(lstm(256)),
    "ConvLSTM(16) 3x3": lambda: task.forecaster(conv_lstm(16, 3, (16, 16))),
    "ConvLSTM(16) 5x5": lambda: task.forecaster(conv_lstm(16, 5, (16, 16))),
    "2 x ConvLSTM(16) 3x3": lambda: task.forecaster(conv_lstm(16, 3, (16, 16)), num_layers=2),
}


def plot(path, frames, targets, forecasts):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("input", frames), ("next frame", targets), *forecasts.items()]
    steps = frames.shape[0]
    fig, axes = plt.subplots(len(rows), steps, figsize=(steps * 0.9, len(rows) * 1.0))
    for r, (label, images) in enumerate(rows):
        for t in range(steps):
            ax = axes[r, t]
            ax.imshow(images[t].reshape(16, 16), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument(
        "--only",
        default="LSTM(256) on flattened frames,ConvLSTM(16) 3x3,2 x ConvLSTM(16) 3x3",
        help=f"comma-separated, of {list(MODELS)}",
    )
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    data = task.data()
    print(f"moving digits: {len(data['x'])} training sequences of 10 16x16 frames, "
          f"{len(data['x_test'])} test; jax {jax.__version__}")  # fmt: skip
    print("| model | params | test MSE per pixel | train s |")
    print("|---|---|---|---|")
    print(f"| no motion (next = current frame) | 0 | "
          f"{task.last_frame_mse(data['x_test'], data['y_test']):.4f} | |")  # fmt: skip
    forecasts = {}
    for name in args.only.split(","):
        model = MODELS[name]()
        result, score, count, seconds = train_and_test(
            task.task, model, data, epochs=args.epochs, lr=3e-3
        )
        print(f"| {name} | {count} | {score:.4f} | {seconds:.0f} |", flush=True)
        logits, _ = model.apply(result.params, result.state, data["x_test"][:1])
        forecasts[name] = np.asarray(jax.nn.sigmoid(logits[0]))
    if args.plot:
        plot(args.plot, data["x_test"][0], data["y_test"][0], forecasts)


if __name__ == "__main__":
    main()
