"""Long-range comparison at equal parameter count and equal wall time: minGRU, minLSTM
and the LRU, each as a parallel scan and as a sequential one, against GRU and LSTM
(sequential, with their kernels).

    python experiments/examples/long_range.py [--seconds 60] [--tasks adding,char_lm]
        [--plot docs/img/long_range.png]

Adding problem at T = 1,000 (4,000 training sequences; predicting the mean scores an
MSE of 0.167) with about 3,000 parameters per model; the character LM of the licence
texts (truncated BPTT, 100-step chunks; the last tenth of the training stream validates,
MPL-2.0 tests) with about 60,000. Each model trains with Adam 3e-3 (clipped at norm 1)
for ``--seconds`` of wall time, compilation included (epochs are whole: the last one may
run past the budget); the best validation epoch's params are scored on the test split.
Hidden sizes are chosen to bring each model's parameter count closest to the target.
"""

import argparse
import time

import jax
import numpy as np

from jaxnets.cells import gru, lru, lstm, min_gru, min_lstm
from jaxnets.data import holdout
from jaxnets.tasks import adding, char_lm
from jaxnets.text import fit_lm, lm_perplexity, text_lm
from jaxnets.train import EarlyStopping, evaluate, fit, optimizer

CELLS = {
    "gru": gru,
    "lstm": lambda h: lstm(h, forget_bias=3.0),  # as experiments/examples/adding.py
    "min_gru": min_gru,
    "min_lstm": min_lstm,
    "lru": lambda h: lru(h, r_min=0.9, r_max=0.999),  # the paper's long-range ring
}
LINEAR = ("min_gru", "min_lstm", "lru")
# (cell, unroll): the linear cells in both forms.
RUNS_OF = [(name, 1) for name in CELLS] + [(name, "associative") for name in LINEAR]
TARGETS = {"adding": 3_000, "char_lm": 60_000}


def count(model, input_shape):
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), input_shape)[1])
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes))


def sized(build, input_shape, target):
    """The hidden size whose model's parameter count is closest to ``target``."""
    low, high = 1, 4096
    while low < high:  # the smallest size reaching the target
        mid = (low + high) // 2
        low, high = (mid + 1, high) if count(build(mid), input_shape) < target else (low, mid)
    sizes = [h for h in (low - 1, low) if h >= 1]
    return min(sizes, key=lambda h: abs(count(build(h), input_shape) - target))


def stop_after(seconds, curve):
    started = time.perf_counter()

    def on_epoch(epoch, history):
        curve.append((time.perf_counter() - started, float(history.val_metric[-1])))
        return curve[-1][0] > seconds

    return on_epoch


def run_adding(name, unroll, seconds):
    data = adding.data(length=1000, n_train=4000, n_test=500)

    def build(h):
        return adding.model(CELLS[name](h), unroll=unroll)

    hidden = sized(build, (1000, 2), TARGETS["adding"])
    model = build(hidden)
    _, params, state = model.init(jax.random.key(0), (1000, 2))
    train, val = holdout(len(data["y"]), test_fraction=0.1, seed=0)
    curve = []
    result = fit(
        model, params, state, optimizer("adam", 3e-3, clip_norm=1.0), adding.task.loss,
        data["x"][train], data["y"][train], epochs=10_000, batch_size=64,
        key=jax.random.key(1), validation=(data["x"][val], data["y"][val]),
        metric=adding.task.metric, early_stopping=EarlyStopping(patience=10_000, mode="min"),
        on_epoch=stop_after(seconds, curve),
    )  # fmt: skip
    score = evaluate(model, result.params, result.state, data["x_test"], data["y_test"],
                     adding.task.metric)  # fmt: skip
    return hidden, count(model, (1000, 2)), float(score), curve


def run_char_lm(name, unroll, seconds):
    data = char_lm.data()
    tokenizer = data["tokenizer"]
    split = len(data["train"]) * 9 // 10

    def build(h):
        return text_lm(tokenizer, CELLS[name](h), embed_size=32, unroll=unroll)

    hidden = sized(build, (100,), TARGETS["char_lm"])
    model = build(hidden)
    _, params, _ = model.init(jax.random.key(0), (100,))
    curve = []
    result = fit_lm(
        model, params, optimizer("adam", 3e-3, clip_norm=1.0), data["train"][:split],
        epochs=10_000, batch_size=32, seq_len=100, key=jax.random.key(1),
        validation_ids=data["train"][split:], early_stopping=EarlyStopping(patience=10_000),
        on_epoch=stop_after(seconds, curve),
    )  # fmt: skip
    return (
        hidden,
        count(model, (100,)),
        float(lm_perplexity(model, result.params, data["test"])),
        curve,
    )


RUNS = {"adding": (run_adding, "test MSE"), "char_lm": (run_char_lm, "test perplexity")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tasks", default="adding,char_lm")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--plot", default=None, help="write the validation curves here")
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform}; {args.seconds:g} s of training each")
    curves = {}
    for task in args.tasks.split(","):
        run, metric = RUNS[task]
        print(f"\n{task}\n\n| cell | form | hidden | params | epochs | {metric} |")
        print("|---|---|---|---|---|---|")
        for name, unroll in RUNS_OF:
            if name not in args.cells.split(","):
                continue
            hidden, params, score, curve = run(name, unroll, args.seconds)
            form = "associative" if unroll == "associative" else "sequential"
            curves[task, f"{name}, {form}"] = curve
            print(f"| {name} | {form} | {hidden} | {params:,} | {len(curve)} | {score:.4f} |",
                  flush=True)  # fmt: skip
    if args.plot:
        plot(curves, args.plot, args.seconds)


def plot(curves, path, seconds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({task for task, _ in curves}, key=list(RUNS).index)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    labels = {"adding": "validation MSE (T = 1,000)", "char_lm": "validation perplexity"}
    for ax, task in zip(axes[0], tasks):
        for (t, label), curve in curves.items():
            if t == task and curve:
                style = "--" if label.endswith("associative") else "-"
                ax.plot(*zip(*curve), "o" + style, ms=2, label=label)
        ax.set(xlabel="wall seconds", ylabel=labels[task], title=task, yscale="log")
        ax.axvline(seconds, color="gray", lw=0.5)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
