"""Training the trials of one configuration: all its seeds as one vmapped program."""

import functools
import json
import statistics
import time

import jax
import numpy as np

from jaxnets import cells
from jaxnets.data import holdout
from jaxnets.tasks import TASKS
from jaxnets.train import evaluate_seeds, fit_seeds, optimizer


def make_cell(point: dict):
    """The cell a configuration point names, at its hidden size."""
    size = point["hidden_size"]
    if point["cell"] == "jordan":
        return cells.jordan(size, size)
    return getattr(cells, point["cell"])(size)


@functools.lru_cache(maxsize=8)
def _split_data(task_name: str, options_json: str, validation_fraction: float):
    """The task's data (generated once per process), its training part split again
    into training and validation rows; the test split stays for the final metric."""
    data = TASKS[task_name].data(**json.loads(options_json))
    n = len(jax.tree.leaves(data["y"])[0])
    train, val = holdout(n, test_fraction=validation_fraction, seed=0)
    rows = lambda tree, idx: None if tree is None else jax.tree.map(lambda a: a[idx], tree)  # noqa: E731
    lengths = data.get("lengths")  # padded sequences: each row's valid steps
    return {
        "x": rows(data["x"], train), "y": rows(data["y"], train),
        "lengths": rows(lengths, train), "lengths_val": rows(lengths, val),
        "x_val": rows(data["x"], val), "y_val": rows(data["y"], val),
        "x_test": data["x_test"], "y_test": data["y_test"],
        "lengths_test": data.get("lengths_test"),
    }  # fmt: skip


def run_job(task_name: str, task_options: dict, point: dict, budget: dict, seeds: list) -> list:
    """Train ``point`` on the task for every seed at once; one result dict per seed.

    Each dict has ``seed``, ``params`` (count), ``final_metric`` (the task's metric on
    the test split), ``final_loss`` (training loss of the last epoch), ``wall_s`` (of
    the whole vmapped program), ``compile_s`` (the first epoch's time beyond a typical
    epoch's), ``seeds_together``, ``jax_version``, ``device`` and ``epochs``: (loss,
    validation metric, gradient norm) per epoch.
    """
    task = TASKS[task_name]
    data = _split_data(
        task_name, json.dumps(task_options, sort_keys=True), budget["validation_fraction"]
    )
    model = task.model(
        make_cell(point), num_layers=point["num_layers"], bidirectional=point["bidirectional"]
    )
    opt = optimizer(
        point["optimizer"], point["learning_rate"], clip_norm=point["clip_norm"],
        weight_decay=point["weight_decay"],
    )  # fmt: skip
    started = time.perf_counter()
    result = fit_seeds(
        model, opt, task.loss, data["x"], data["y"], keys=[jax.random.key(s) for s in seeds],
        epochs=budget["epochs"], batch_size=budget["batch_size"], l1=point["l1"],
        l2=point["l2"], lengths=data["lengths"], metric=task.metric,
        validation=(data["x_val"], data["y_val"], data["lengths_val"]),
    )  # fmt: skip
    params, state, history = result.params, result.state, result.history
    test = evaluate_seeds(model, params, state, data["x_test"], data["y_test"], task.metric,
                          lengths=data["lengths_test"])  # fmt: skip
    wall = time.perf_counter() - started
    seconds = history.seconds
    compile_s = seconds[0] - statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    count = sum(leaf.size for leaf in jax.tree.leaves(params)) // len(seeds)
    device = jax.devices()[0]
    results = []
    for i, seed in enumerate(seeds):
        epochs = np.stack([history.loss[i], history.val_metric[i], history.grad_norm[i]], axis=1)
        results.append({
            "seed": seed, "params": int(count), "final_metric": float(test[i]),
            "final_loss": float(history.loss[i, -1]), "wall_s": wall,
            "compile_s": float(max(compile_s, 0.0)), "seeds_together": len(seeds),
            "jax_version": jax.__version__, "device": f"{device.platform}:{device.device_kind}",
            "epochs": [tuple(float(v) for v in row) for row in epochs],
        })  # fmt: skip
    return results
