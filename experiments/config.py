"""Sweep configs: read (YAML, safely), validate before anything runs, expand to trials."""

import hashlib
import itertools
import json
import pathlib
import random
from typing import NamedTuple

import yaml

DEFAULT = pathlib.Path(__file__).with_name("configs") / "default.yaml"
CELLS = ("elman", "jordan", "simple_gru", "mgu", "gru", "lstm", "clockwork")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
SWEEP_TASKS = ("adding", "copy_memory", "digits_rows", "licence_sentences", "mnist1d")

# Each grid key: (checker, description) for its values.
GRID = {
    "cell": (lambda v: v in CELLS, f"one of {list(CELLS)}"),
    "hidden_size": (lambda v: _is_int(v) and v > 0, "a positive int"),
    "num_layers": (lambda v: _is_int(v) and v > 0, "a positive int"),
    "bidirectional": (lambda v: isinstance(v, bool), "true or false"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {list(OPTIMIZERS)}"),
    "learning_rate": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "clip_norm": (lambda v: v is None or (_is_number(v) and v > 0), "a number > 0 or null"),
    "l1": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "l2": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
}
GRID_DEFAULTS = {
    "cell": "gru", "hidden_size": 32, "num_layers": 1, "bidirectional": False,
    "optimizer": "adam", "learning_rate": 3e-3, "clip_norm": 1.0, "l1": 0.0, "l2": 0.0,
    "weight_decay": 0.0,
}  # fmt: skip
BUDGET = {
    "epochs": (lambda v: _is_int(v) and v > 0, "a positive int"),
    "batch_size": (lambda v: _is_int(v) and v > 0, "a positive int"),
    "validation_fraction": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)"),
}
BUDGET_DEFAULTS = {"epochs": 10, "batch_size": 64, "validation_fraction": 0.1}
TOP_LEVEL = {"name", "tasks", "grid", "random", "seeds", "budget"}


class ConfigError(ValueError):
    """A sweep config that cannot run; the message names the key and the problem."""


class Sweep(NamedTuple):
    """A validated sweep: tasks with their data options, the configurations, seeds, budget."""

    name: str
    tasks: dict
    points: tuple
    seeds: tuple
    budget: dict
    raw: dict


class Trial(NamedTuple):
    """One training run: a task, one configuration point, one seed."""

    task: str
    task_options: dict
    point: dict
    seed: int
    budget: dict

    @property
    def config_hash(self) -> str:
        """Identifies the configuration, seed excluded: the seeds of one config share it."""
        return _hash({k: v for k, v in self._asdict().items() if k != "seed"})

    @property
    def key(self) -> str:
        """Identifies the trial: the same trial in any sweep has the same key."""
        return _hash(self._asdict())


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def load(path=None) -> Sweep:
    """Read a sweep file (YAML, read with ``yaml.safe_load``: nothing in it runs) and
    validate it; no path: the embedded default sweep."""
    path = pathlib.Path(path) if path is not None else DEFAULT
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"config {path}: cannot read it ({error.strerror}).") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"config {path}: not valid YAML: {error}") from None
    return validate(raw, where=f"config {path}")


def validate(raw, *, where: str = "config") -> Sweep:
    """Check every key and value of a sweep dict; raise ``ConfigError`` naming the first
    bad one. Returns the expanded ``Sweep``."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: must be a mapping of keys to values, got {type(raw).__name__}."
        )
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {sorted(TOP_LEVEL)}.")
    name = raw.get("name", "sweep")
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("-", "").replace("_", "").isalnum()
    ):
        raise ConfigError(f"{where}: `name` must be letters, digits, - and _, got {name!r}.")
    tasks = _tasks(where, raw.get("tasks"))
    grid = _grid(where, raw.get("grid") or {})
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        raise ConfigError(f"{where}: `seeds` must be a non-empty list of ints >= 0, got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: `seeds` must not repeat, got {seeds!r}.")
    budget = _section(where, "budget", raw.get("budget") or {}, BUDGET, BUDGET_DEFAULTS)
    points = _points(where, grid, raw.get("random"))
    return Sweep(name, tasks, tuple(points), tuple(seeds), budget, raw)


def _tasks(where, tasks):
    from jaxnets.tasks import TASKS

    if not isinstance(tasks, dict) or not tasks:
        raise ConfigError(f"{where}: `tasks` must map task names to options, got {tasks!r}.")
    checked = {}
    for task, options in tasks.items():
        if task not in SWEEP_TASKS:
            raise ConfigError(
                f"{where}: unknown task {task!r} in `tasks`; known: {list(SWEEP_TASKS)}."
            )
        options = options or {}
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: `tasks.{task}` must be a mapping of data options.")
        accepted = TASKS[task].data.__kwdefaults__ or {}
        for key, value in options.items():
            if key not in accepted or key == "seed":
                allowed = sorted(set(accepted) - {"seed"})
                raise ConfigError(
                    f"{where}: unknown key {key!r} in `tasks.{task}`; allowed: {allowed}."
                )
            if not _is_int(value) or value <= 0:
                raise ConfigError(
                    f"{where}: `tasks.{task}.{key}` must be a positive int, got {value!r}."
                )
        checked[task] = dict(options)
    return checked


def _section(where, section, values, checkers, defaults):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: `{section}` must be a mapping, got {values!r}.")
    for key, value in values.items():
        if key not in checkers:
            raise ConfigError(
                f"{where}: unknown key {key!r} in `{section}`; allowed: {sorted(checkers)}."
            )
        check, wanted = checkers[key]
        if not check(value):
            raise ConfigError(f"{where}: `{section}.{key}` must be {wanted}, got {value!r}.")
    return {**defaults, **values}


def _grid(where, grid):
    if not isinstance(grid, dict):
        raise ConfigError(f"{where}: `grid` must be a mapping of keys to lists, got {grid!r}.")
    checked = {}
    for key, values in grid.items():
        if key not in GRID:
            raise ConfigError(f"{where}: unknown key {key!r} in `grid`; allowed: {sorted(GRID)}.")
        values = values if isinstance(values, list) else [values]
        check, wanted = GRID[key]
        for value in values:
            if not check(value):
                raise ConfigError(f"{where}: `grid.{key}` values must be {wanted}, got {value!r}.")
        if not values:
            raise ConfigError(f"{where}: `grid.{key}` must list at least one value.")
        checked[key] = values
    for key, value in GRID_DEFAULTS.items():
        checked.setdefault(key, [value])
    return checked


def _points(where, grid, random_search):
    keys = sorted(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    for point in points:
        if point["cell"] == "clockwork" and point["hidden_size"] % 4:
            raise ConfigError(
                f"{where}: `grid.hidden_size` {point['hidden_size']} must be a multiple of 4 "
                "for the clockwork cell (4 modules)."
            )
    if random_search is None:
        return points
    if not isinstance(random_search, dict) or set(random_search) - {"samples", "seed"}:
        raise ConfigError(f"{where}: `random` takes `samples` and `seed`, got {random_search!r}.")
    samples = random_search.get("samples")
    if not _is_int(samples) or samples <= 0:
        raise ConfigError(f"{where}: `random.samples` must be a positive int, got {samples!r}.")
    chosen = random.Random(random_search.get("seed", 0)).sample(points, min(samples, len(points)))
    return sorted(chosen, key=points.index)


def trials(sweep: Sweep) -> list:
    """Every (task, point, seed) of the sweep, in a fixed order."""
    return [
        Trial(task, options, point, seed, sweep.budget)
        for task, options in sweep.tasks.items()
        for point in sweep.points
        for seed in sweep.seeds
    ]
