"""Sweeps of anything a researcher can name: their cells, models, tasks and any keyword.

From the shell, ``jaxnets sweep [CONFIG]``, ``jaxnets report RUN`` and ``jaxnets list``
(or ``python -m jaxnets.experiments ...``); from Python, ``sweep(...)``. Results go to
one SQLite store; trials are claimed under leases, checkpointed every epoch, and a
killed sweep resumes where it stopped.
"""

from ._config import Sweep as Sweep
from ._config import Trial as Trial
from ._config import load as load
from ._config import validate as validate
from ._errors import ConfigError as ConfigError
from ._errors import StoreError as StoreError
from ._report import summarize as summarize
from ._report import write_report as write_report
from ._space import Distribution as Distribution
from ._store import Store as Store
from ._sweep import Outcome as Outcome
from ._sweep import run_sweep as run_sweep


def sweep(
    *, task, space: dict, cell=None, model=None, task_options: dict | None = None,
    seeds=(0,), budget: dict | None = None, search="grid", pruner: dict | None = None,
    early_stopping: dict | None = None, name: str = "sweep", store="results", **run_options,
) -> Outcome:  # fmt: skip
    """Run a sweep from Python, with targets given as objects or names.

    ``sweep(task=my_task, cell=my_cell, space={"cell.hidden_size": [16, 32],
    "optimizer.learning_rate": {"loguniform": [1e-3, 1e-1]}}, search={"method":
    "random", "samples": 8}, seeds=[0, 1], budget={"epochs": 5})`` is the config file
    with ``tasks: {my_task: ...}`` and ``space: {cell: my_cell, ...}``, validated the
    same way before anything runs.

    Args:
      task: a ``jaxnets.tasks.Task`` (or an object with data, loss, metric and mode), a
        built-in task's name or an import path.
      cell: a cell constructor ``f(hidden_size, **options) -> Cell`` (or a list of them,
        or names); or ``model``: a Layer builder (or names).
      space: the swept keys (``cell.*``, ``model.*``, ``optimizer``, ``optimizer.*``,
        ``schedule``, ``schedule.*``, ``fit.*``): a value, a list (a grid axis) or a
        distribution ``{"uniform" | "loguniform" | "int": [low, high]}`` /
        ``{"choice": [...]}``.
      task_options: keyword arguments of the task's ``data``.
      search: "grid", or ``{"method": "random", "samples": n, "seed": s}``, or
        ``{"method": "optuna", "trials": n, "seed": s}``.
      pruner: ``{"method": "median", "warmup_epochs": 2, "min_configs": 3}``.
      early_stopping: ``{"patience": 5, "min_delta": 0.0}``.
      store: the results directory (``results.sqlite`` in it), or a ``Store``.
      run_options: ``run_sweep``'s (executor, force, wait, ...).

    Returns:
      An ``Outcome``; the ranked rows come from ``summarize(store, name)``.
    """
    import pathlib

    if (cell is None) == (model is None):
        raise ConfigError("sweep: give exactly one of `cell` and `model`.")
    space = dict(space)
    if "cell" in space or "model" in space:
        raise ConfigError("sweep: name the target with `cell=` or `model=`, not in `space`.")
    target = cell if cell is not None else model
    space["cell" if cell is not None else "model"] = (
        list(target) if isinstance(target, list | tuple) else [target]
    )
    raw = {"name": name, "tasks": {task: task_options or {}}, "space": space,
           "seeds": list(seeds), "budget": budget or {}, "search": search}  # fmt: skip
    if pruner is not None:
        raw["pruner"] = pruner
    if early_stopping is not None:
        raw["early_stopping"] = early_stopping
    validated = validate(raw, where="sweep")
    if not isinstance(store, Store):
        results = pathlib.Path(store)
        store = Store(results / "results.sqlite")
        run_options.setdefault("results", str(results))
    return run_sweep(validated, store, **run_options)


__all__ = [
    "ConfigError",
    "Distribution",
    "Outcome",
    "Store",
    "StoreError",
    "Sweep",
    "Trial",
    "load",
    "run_sweep",
    "summarize",
    "sweep",
    "validate",
    "write_report",
]
