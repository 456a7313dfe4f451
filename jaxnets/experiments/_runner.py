"""Training one configuration: all its seeds as one vmapped program, checkpointed every
epoch, stopped early by the pruner."""

import functools
import json
import math
import os
import statistics
import time
from typing import NamedTuple

import jax
import numpy as np

from jaxnets.data import holdout
from jaxnets.train import EarlyStopping, evaluate_seeds, fit_seeds

from . import _targets as targets


class Data(NamedTuple):
    """A task's data for a sweep: its training rows split again into training and
    validation rows (``*_val``); the test split is scored once, at the end."""

    x: object
    y: object
    lengths: object
    x_val: object
    y_val: object
    lengths_val: object
    x_test: object
    y_test: object
    lengths_test: object


class Job(NamedTuple):
    """One configuration on one task for several seeds: what ``run_job`` trains.
    ``objects`` maps the references in ``point`` (and ``task``) to their objects;
    ``reference`` holds the mean validation curves of the configurations already run,
    which the pruner compares with; ``checkpoint`` is the file the seeds resume from."""

    task: str
    task_options: dict
    point: dict
    seeds: tuple
    budget: dict
    early_stopping: dict | None
    pruner: dict | None
    mode: str
    objects: dict
    reference: tuple
    checkpoint: str | None


@functools.lru_cache(maxsize=8)
def _cached(ref, task, options_json, validation_fraction):
    raw = task.data(**json.loads(options_json))
    n = len(jax.tree.leaves(raw["y"])[0])
    train, val = holdout(n, test_fraction=validation_fraction, seed=0)
    rows = lambda tree, idx: None if tree is None else jax.tree.map(lambda a: a[idx], tree)  # noqa: E731
    lengths = raw.get("lengths")
    return Data(
        rows(raw["x"], train), rows(raw["y"], train), rows(lengths, train),
        rows(raw["x"], val), rows(raw["y"], val), rows(lengths, val),
        raw["x_test"], raw["y_test"], raw.get("lengths_test"),
    )  # fmt: skip


def task_data(ref: str, task, options: dict, validation_fraction: float) -> Data:
    """The task's data, generated once per process (and options)."""
    return _cached(ref, task, json.dumps(options, sort_keys=True), validation_fraction)


def median_pruner(pruner: dict, mode: str, reference) -> object:
    """``on_epoch`` for ``fit``: stop when, from ``warmup_epochs`` on, the mean over seeds
    of this epoch's validation metric is worse than the median of the other
    configurations' at the same epoch (with at least ``min_configs`` of them)."""
    sign = 1.0 if mode == "min" else -1.0
    decided = {"pruned_at": None}

    def on_epoch(epoch, history):
        if epoch + 1 < pruner["warmup_epochs"]:
            return False
        others = [curve[epoch] for curve in reference if len(curve) > epoch]
        others = [v for v in others if v is not None and math.isfinite(v)]
        if len(others) < pruner["min_configs"]:
            return False
        mine = float(np.nanmean(history.val_metric[:, epoch]))
        if not math.isfinite(mine) or sign * mine > sign * statistics.median(others):
            decided["pruned_at"] = epoch
            return True
        return False

    on_epoch.decided = decided
    return on_epoch


def run_job(job: Job) -> list:
    """Train ``job.point`` on its task for every seed at once; one result dict per seed:
    ``seed``, ``status`` ("finished" or "pruned"), ``params`` (count), ``final_metric``
    (the task's metric on the test split; None when pruned), ``val_metric`` (the
    validation metric the run ended with: its best epoch's under early stopping),
    ``final_loss``, ``wall_s`` (of the whole vmapped program), ``compile_s`` (the first
    epoch's time beyond a typical epoch's) and ``step_ms`` (a typical epoch's time per
    batch; both None after a single epoch), ``seeds_together``, ``jax_version``,
    ``device`` and ``epochs``: (loss, validation metric, gradient norm) per epoch."""
    task = job.objects[job.task]
    data = task_data(job.task, task, job.task_options, job.budget["validation_fraction"])
    where = f"task {job.task!r}, configuration {job.point}"
    model = targets.build_model(where, task, job.point, job.objects)
    rows = len(jax.tree.leaves(data.y)[0])
    steps = rows // job.budget["batch_size"]
    opt = targets.build_optimizer(where, job.point, steps, job.budget["epochs"])
    stopping = None
    if job.early_stopping is not None:
        stopping = EarlyStopping(**job.early_stopping, mode=job.mode)
    prune = median_pruner(job.pruner, job.mode, job.reference) if job.pruner else None
    if job.checkpoint is not None:
        os.makedirs(os.path.dirname(job.checkpoint), exist_ok=True)
    started = time.perf_counter()
    result = fit_seeds(
        model, opt, task.loss, data.x, data.y, keys=[jax.random.key(s) for s in job.seeds],
        epochs=job.budget["epochs"], batch_size=job.budget["batch_size"],
        lengths=data.lengths, metric=task.metric, early_stopping=stopping,
        validation=(data.x_val, data.y_val, data.lengths_val), checkpoint=job.checkpoint,
        on_epoch=prune, progress=False, **targets.fit_options(job.point, job.objects),
    )  # fmt: skip
    pruned = prune is not None and prune.decided["pruned_at"] is not None
    test = [None] * len(job.seeds)
    if not pruned:
        test = evaluate_seeds(model, result.params, result.state, data.x_test, data.y_test,
                              task.metric, lengths=data.lengths_test)  # fmt: skip
    wall = time.perf_counter() - started
    history, seconds = result.history, list(result.history.seconds)
    typical = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    compile_s = max(seconds[0] - typical, 0.0) if len(seconds) > 1 else None
    count = sum(leaf.size for leaf in jax.tree.leaves(result.params)) // len(job.seeds)
    device = jax.devices()[0]
    results = []
    for i, seed in enumerate(job.seeds):
        best = int(np.atleast_1d(result.best_epoch)[i])
        curves = np.stack([history.loss[i], history.val_metric[i], history.grad_norm[i]], 1)
        ran = int(np.atleast_1d(result.epochs_run)[i])
        results.append({
            "seed": seed, "status": "pruned" if pruned else "finished", "params": int(count),
            "final_metric": None if test[i] is None else float(test[i]),
            "val_metric": float(history.val_metric[i, best]),
            "final_loss": float(history.loss[i, ran - 1]), "wall_s": wall,
            "compile_s": compile_s,
            "step_ms": None if compile_s is None else 1000 * typical / max(steps, 1),
            "seeds_together": len(job.seeds), "jax_version": jax.__version__,
            "device": f"{device.platform}:{device.device_kind}",
            "epochs": [tuple(_plain(v) for v in row) for row in curves[:ran]],
        })  # fmt: skip
    return results


def _plain(value):
    value = float(value)
    return value if math.isfinite(value) else None
