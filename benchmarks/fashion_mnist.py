"""Fashion-MNIST end to end: test accuracy against the published table, time per epoch
against the same models in PyTorch.

    python benchmarks/fashion_mnist.py [--epochs 30] [--batch 64] [--only mlp,convnet]

55,000 training images train each model; 5,000 held out for validation pick the
epoch (early stopping with patience 5, best epoch restored); the 10,000 test images
are used once, at the end. Adam with a cosine decay of the learning rate from 2e-3
over the epoch budget, for every model. Time per epoch is the median over
epochs after the first (which includes compilation). PyTorch's MLP, convnet and LSTM
train the same architecture with the same batch size and optimizer for one epoch in
this process, with its faster of 1 and 2 threads; the ratio is jaxnets' time per epoch
over PyTorch's.
"""

import argparse
import statistics
import time

import jax
import numpy as np
import optax
from _torch_models import keras_convnet as keras_convnet_torch

from jaxnets.cells import clockwork, elman, gru, lstm
from jaxnets.data import fashion_mnist, holdout
from jaxnets.layers import dense, flatten, serial
from jaxnets.models import keras_convnet, lenet5, mlp
from jaxnets.rnn import recurrent
from jaxnets.train import EarlyStopping, accuracy, evaluate, fit, optimizer, softmax_cross_entropy

PUBLISHED = {
    "mlp": "0.8833 (MLP 256-128-100)",
    "convnet": "0.925 (2 Conv <100K), 0.916 (2 Conv+pooling)",
    "lstm": "0.897 (GRU+SVM with dropout)",
    "gru": "0.897 (GRU+SVM with dropout)",
    "elman": "-",
    "clockwork": "-",
    "lenet5": "-",
}


def rows_of(images):
    return images[..., 0]  # (N, 28, 28): 28 steps of 28 features


def models():
    def rnn(cell):
        return serial(recurrent(cell, return_sequences=False), dense(10))

    return {
        "mlp": (serial(flatten(), mlp([256, 128, 100, 10])), lambda x: x),
        "convnet": (keras_convnet(), lambda x: x),
        "lstm": (rnn(lstm(128)), rows_of),
        "gru": (rnn(gru(128)), rows_of),
        "elman": (rnn(elman(128)), rows_of),
        "clockwork": (rnn(clockwork(128, num_modules=4)), rows_of),
        "lenet5": (
            lenet5(activation=jax.nn.relu, pool="max"),
            lambda x: np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))),
        ),
    }


def torch_epoch_seconds(name, x, y, batch):
    """Seconds for one epoch of the same model in PyTorch, and the thread count used.

    Both 1 and 2 intra-op threads are tried and the faster kept: on this 2-core
    machine two threads make small models several times slower (thread hand-offs
    cost more than the work), one thread slows the convnet.
    """
    import torch

    best = None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        seconds = _torch_epoch(torch, name, x, y, batch)
        if best is None or seconds < best[0]:
            best = (seconds, threads)
    return best


def _torch_epoch(torch, name, x, y, batch):
    from torch import nn

    torch.manual_seed(0)
    if name == "mlp":
        net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
            nn.ReLU(), nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 10),
        )  # fmt: skip
        inputs = torch.tensor(x[..., 0])
    elif name == "convnet":
        net = keras_convnet_torch()
        inputs = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    else:

        class LSTMNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm, self.out = nn.LSTM(28, 128, batch_first=True), nn.Linear(128, 10)

            def forward(self, v):
                return self.out(self.lstm(v)[0][:, -1])

        net = LSTMNet()
        inputs = torch.tensor(x[..., 0])
    labels = torch.tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(idx):
        opt.zero_grad(set_to_none=True)
        loss_fn(net(inputs[idx]), labels[idx]).backward()
        opt.step()

    order = torch.randperm(len(labels))
    for i in range(20):  # warm-up
        step(order[i * batch : (i + 1) * batch])
    start = time.perf_counter()
    for i in range(0, len(labels) - batch + 1, batch):
        step(order[i : i + batch])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--only", default=",".join(PUBLISHED))
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--patience", type=int, default=5)
    args = parser.parse_args()
    x_all, y_all = fashion_mnist("train", as_float=True)
    x_test, y_test = fashion_mnist("test", as_float=True)
    train_idx, val_idx = holdout(y_all, test_fraction=5000 / 60000, seed=0)
    rows = []
    for name in args.only.split(","):
        model, prepare = models()[name]
        x_train, x_val, x_te = (prepare(a) for a in (x_all[train_idx], x_all[val_idx], x_test))
        y_train, y_val = y_all[train_idx], y_all[val_idx]
        _, params, state = model.init(jax.random.key(0), x_train.shape[1:])
        schedule = optax.cosine_decay_schedule(args.lr, args.epochs * (len(y_train) // args.batch))
        result = fit(
            model, params, state, optimizer("adam", schedule), softmax_cross_entropy,
            x_train, y_train, epochs=args.epochs, batch_size=args.batch, key=jax.random.key(1),
            validation=(x_val, y_val), metric=accuracy,
            early_stopping=EarlyStopping(patience=args.patience, mode="max"),
        )  # fmt: skip
        test_acc = evaluate(model, result.params, result.state, x_te, y_test, accuracy)
        seconds = result.history["seconds"]
        per_epoch = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
        torch_s = None
        if name in ("mlp", "convnet", "lstm"):
            torch_s = torch_epoch_seconds(name, x_all[train_idx], y_train, args.batch)
        rows.append(
            (
                name,
                test_acc,
                result.best_epoch + 1,
                result.epochs_run,
                sum(seconds),
                per_epoch,
                torch_s,
            )
        )
        print(f"{name}: test {test_acc:.4f}, best epoch {result.best_epoch + 1}", flush=True)

    import torch

    print(
        f"\nFashion-MNIST, 55,000 train / 5,000 validation / 10,000 test, Adam {args.lr} "
        f"cosine decay over {args.epochs} epochs, batch {args.batch}, early stopping "
        f"(patience {args.patience}) on validation accuracy; jax "
        f"{jax.__version__}, torch {torch.__version__}, {jax.devices()[0].platform}"
    )
    columns = ("model", "test acc", "best epoch", "epochs run", "wall s", "s/epoch",
               "torch s/epoch", "x torch", "published")  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, acc, best, run, wall, per_epoch, torch_s in rows:
        ratio = f"{per_epoch / torch_s[0]:.2f}" if torch_s else "-"
        torch_col = f"{torch_s[0]:.1f} ({torch_s[1]} thr)" if torch_s else "-"
        print(f"| {name} | {acc:.4f} | {best} | {run} | {wall:.0f} | {per_epoch:.1f} | "
              f"{torch_col} | {ratio} | {PUBLISHED[name]} |")  # fmt: skip


if __name__ == "__main__":
    main()
