"""The Clockwork RNN paper's generation task: emit a 320-sample waveform from no input.

    python experiments/examples/waveform.py [--steps 2000] [--out docs/img]

An Elman RNN and a Clockwork RNN (8 modules, periods 1..128) with the same number
of parameters, full-batch Adam; prints the normalised MSE (1: predicting the mean)
and plots both outputs over the target.
"""

import argparse
import os

import jax
from _train import train_and_test

from jaxnets.cells import clockwork, elman
from jaxnets.tasks import waveform


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    data = waveform.data()
    cells = {"elman": elman(31), "clockwork": clockwork(40, periods=tuple(2**i for i in range(8)))}
    outputs = {}
    print(f"waveform generation, 320 steps, {args.steps} Adam steps, jax {jax.__version__}")
    print("| cell | params | normalised MSE | train s |")
    print("|---|---|---|---|")
    for name, cell in cells.items():
        model = waveform.model(cell)
        result, score, count, seconds = train_and_test(
            waveform.task, model, data, epochs=args.steps, lr=3e-3, clip_norm=None
        )
        outputs[name] = model.apply(result.params, result.state, data["x"])[0][0, :, 0]
        print(f"| {name} | {count} | {score:.4f} | {seconds:.0f} |", flush=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(data["y"][0, :, 0], color="black", lw=2, label="target")
    for name, y in outputs.items():
        ax.plot(y, lw=1, label=name)
    ax.set_xlabel("step")
    ax.legend(loc="upper right")
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "waveform.png")
    fig.savefig(path, dpi=100)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
