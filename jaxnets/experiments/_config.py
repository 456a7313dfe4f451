"""Sweep configs: read (YAML, safely, duplicate keys refused), validated before anything
runs, and expanded to trials."""

import hashlib
import json
import pathlib
from typing import NamedTuple

from jaxnets.train import OPTIMIZERS, keywords

from . import _space as space_
from . import _targets as targets
from ._errors import ConfigError
from ._space import is_int, is_number

DEFAULT = pathlib.Path(__file__).with_name("configs") / "default.yaml"
TOP_LEVEL = ("name", "tasks", "space", "seeds", "budget", "search", "pruner", "early_stopping")
SECTIONS = ("cell", "model", "optimizer", "schedule", "fit")
BUDGET = {
    "epochs": (lambda v: is_int(v) and v > 0, "a positive int", 10),
    "batch_size": (lambda v: is_int(v) and v > 0, "a positive int", 64),
    "validation_fraction": (lambda v: is_number(v) and 0 < v < 1, "a number in (0, 1)", 0.1),
}
SEARCH = {
    "grid": {},
    "random": {"samples": (lambda v: is_int(v) and v > 0, "a positive int", None),
               "seed": (lambda v: is_int(v) and v >= 0, "an int >= 0", 0)},
    "optuna": {"trials": (lambda v: is_int(v) and v > 0, "a positive int", None),
               "seed": (lambda v: is_int(v) and v >= 0, "an int >= 0", 0)},
}  # fmt: skip
PRUNER = {
    "method": (lambda v: v == "median", "'median'", "median"),
    "warmup_epochs": (lambda v: is_int(v) and v > 0, "a positive int", 2),
    "min_configs": (lambda v: is_int(v) and v > 0, "a positive int", 3),
}
EARLY_STOPPING = {
    "patience": (lambda v: is_int(v) and v > 0, "a positive int", 5),
    "min_delta": (lambda v: is_number(v) and v >= 0, "a number >= 0", 0.0),
}


class Sweep(NamedTuple):
    """A validated sweep. ``space`` maps each key to a list or a ``Distribution`` (targets
    as references); ``points`` are the grid's or random search's configurations (empty for
    Optuna, which asks as it goes); ``objects`` maps every reference to its object (tasks
    as ``Task``s); ``raw`` is the config as JSON-able data, references for objects."""

    name: str
    tasks: dict
    space: dict
    points: tuple
    seeds: tuple
    budget: dict
    search: dict
    pruner: dict | None
    early_stopping: dict | None
    objects: dict
    raw: dict

    @property
    def target(self) -> str:
        return "cell" if "cell" in self.space else "model"


class Trial(NamedTuple):
    """One training run. Its ``key`` covers everything that changes a result: the task
    and its data options, the configuration point, the seed, the budget, early stopping
    and pruning (``training``), the code of every target (``code``: hashes of their
    source) and where it runs (``platform``: jax version and device kind)."""

    task: str
    task_options: dict
    point: dict
    seed: int
    budget: dict
    training: dict
    code: dict
    platform: str

    @property
    def config_hash(self) -> str:
        """The configuration, seed excluded: the seeds of one configuration share it."""
        return digest({k: v for k, v in self._asdict().items() if k != "seed"})

    @property
    def key(self) -> str:
        return digest(self._asdict())


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


# -- reading --------------------------------------------------------------------------


def _loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that refuses a mapping naming one key twice (YAML's
        own rule, which PyYAML does not enforce: it keeps the last)."""

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ConfigError(
                        f"duplicate key {key!r} at line {key_node.start_mark.line + 1} (first "
                        f"at line {seen[key] + 1}); YAML keeps one value per key."
                    )
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)

    return Loader


def read(path=None) -> dict:
    """The raw config of a YAML file (nothing in it runs: a safe loader), or of the
    embedded default sweep."""
    import yaml

    path = pathlib.Path(path) if path is not None else DEFAULT
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"config {path}: cannot read it ({error.strerror}).") from None
    try:
        return yaml.load(text, Loader=_loader())
    except ConfigError as error:
        raise ConfigError(f"config {path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config {path}: not valid YAML: {error}") from None


def load(path=None) -> "Sweep":
    """Read and validate a sweep file (the embedded default when ``path`` is None)."""
    where = f"config {path if path is not None else DEFAULT}"
    return validate(read(path), where=where)


# -- validating -----------------------------------------------------------------------


def validate(raw, *, where: str = "config", check_data: bool = True) -> Sweep:
    """Check every key and value of a sweep; raise ``ConfigError`` naming the first bad
    one and what it accepts. Targets are resolved, every configuration built and its
    ``init`` traced, and (``check_data``) every task's data read to check the batch
    size, all before anything trains."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: must be a mapping of keys to values, got {type(raw).__name__}."
        )
    unknown = [k for k in raw if k not in TOP_LEVEL]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; accepted: {list(TOP_LEVEL)}.")
    name = raw.get("name", "sweep")
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("-", "").replace("_", "").isalnum()
    ):
        raise ConfigError(f"{where}: `name` must be letters, digits, - and _, got {name!r}.")
    objects = {}
    tasks = _tasks(where, raw.get("tasks"), objects)
    space = _space(where, raw.get("space"), tasks, objects)
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(is_int(s) and s >= 0 for s in seeds):
        raise ConfigError(f"{where}: `seeds` must be a non-empty list of ints >= 0, got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: `seeds` must not repeat, got {seeds!r}.")
    budget = _section(where, "budget", raw.get("budget"), BUDGET)
    search = _search(where, raw.get("search", "grid"))
    pruner = _optional(where, "pruner", raw.get("pruner"), PRUNER)
    stopping = _optional(where, "early_stopping", raw.get("early_stopping"), EARLY_STOPPING)
    if search["method"] == "grid":
        points = space_.grid(space)
    elif search["method"] == "random":
        points = space_.sample(space, search["samples"], search["seed"])
    else:
        points = []
        _check_optuna(where, tasks, space)
    json_raw = {
        "name": name, "tasks": {ref: opts for ref, opts in tasks.items()},
        "space": {k: _json_spec(v) for k, v in space.items()}, "seeds": seeds,
        "budget": budget, "search": search, "pruner": pruner, "early_stopping": stopping,
    }  # fmt: skip
    if pruner is None:
        del json_raw["pruner"]
    if stopping is None:
        del json_raw["early_stopping"]
    sweep = Sweep(name, tasks, space, tuple(points), tuple(seeds), budget, search, pruner,
                  stopping, objects, json_raw)  # fmt: skip
    check_builds(where, sweep, points or [space_.fixed(space) | _any_point(space)], check_data)
    return sweep


def _json_spec(spec):
    return list(spec) if isinstance(spec, list) else {spec.kind: list(spec.values)}


def _any_point(space):
    import random

    rng = random.Random(0)
    return {k: space_.draw(rng, s) for k, s in space.items()}


def _section(where, section, values, checkers):
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: `{section}` must be a mapping, got {values!r}.")
    for key, value in values.items():
        if key not in checkers:
            raise ConfigError(
                f"{where}: unknown key {key!r} in `{section}`; accepted: {list(checkers)}."
            )
        check, wanted, _ = checkers[key]
        if not check(value):
            raise ConfigError(f"{where}: `{section}.{key}` must be {wanted}, got {value!r}.")
    missing = [k for k, (_, _, default) in checkers.items() if default is None and k not in values]
    if missing:
        raise ConfigError(f"{where}: `{section}` needs `{missing[0]}`.")
    return {k: values.get(k, default) for k, (_, _, default) in checkers.items()}


def _optional(where, section, values, checkers):
    return None if values is None else _section(where, section, values, checkers)


def _search(where, search):
    if isinstance(search, str):
        search = {"method": search}
    if not isinstance(search, dict) or search.get("method") not in SEARCH:
        raise ConfigError(
            f"{where}: `search` must be 'grid' or a mapping with `method` one of "
            f"{list(SEARCH)} (random: samples, seed; optuna: trials, seed), got {search!r}."
        )
    rest = {k: v for k, v in search.items() if k != "method"}
    return {"method": search["method"], **_section(where, "search", rest, SEARCH[search["method"]])}


def _tasks(where, tasks, objects):
    if not isinstance(tasks, dict) or not tasks:
        raise ConfigError(
            f"{where}: `tasks` must map task names (or import paths) to data options, got "
            f"{tasks!r}."
        )
    checked = {}
    for target, options in tasks.items():
        ref, obj = targets.resolve(f"{where}: `tasks`", "task", target)
        task = targets.as_task(f"{where}: `tasks`", ref, obj)
        objects[ref] = task
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: `tasks.{ref}` must be a mapping of data options.")
        accepted = keywords(task.data, skip={"seed"})
        for key in options:
            if accepted is not None and key not in accepted:
                raise ConfigError(
                    f"{where}: unknown key {key!r} in `tasks.{ref}`; accepted: {accepted}."
                )
        checked[ref] = dict(options)
    return checked


def _space(where, space, tasks, objects):
    if not isinstance(space, dict):
        raise ConfigError(f"{where}: `space` must be a mapping of keys to values, got {space!r}.")
    kinds = [k for k in ("cell", "model") if k in space]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: `space` must name what to train with exactly one of `cell` (a cell "
            "constructor) or `model` (a Layer builder), got "
            f"{kinds or 'neither'}."
        )
    (kind,) = kinds
    parsed = {}
    for key, value in space.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: `space` keys must be strings, got {key!r}.")
        section, dot, option = key.partition(".")
        if section not in SECTIONS or (dot and not option) or (section == "fit" and not dot):
            raise ConfigError(
                f"{where}: unknown key {key!r} in `space`; accepted: cell, model, optimizer, "
                "schedule, and their options as cell.NAME, model.NAME, optimizer.NAME, "
                "schedule.NAME, fit.NAME."
            )
        if section == "cell" and kind != "cell":
            raise ConfigError(f"{where}: `space.{key}` needs `space.cell`, which is not set.")
        parsed[key] = space_.parse(f"{where}: `space.{key}`", value)
    parsed[kind] = _targets_of(where, kind, parsed[kind], objects)
    if "fit.augment" in parsed:
        parsed["fit.augment"] = _targets_of(where, "augment", parsed["fit.augment"], objects,
                                            key="fit.augment")  # fmt: skip
    _check_choices(where, "optimizer", parsed, OPTIMIZERS)
    _check_choices(where, "schedule", parsed, targets.SCHEDULES)
    for key in parsed:
        section, _, option = key.partition(".")
        if option:
            for owner, names in _owners(section, parsed, tasks, objects):
                if names is not None and option not in names:
                    raise ConfigError(
                        f"{where}: unknown key {key!r} in `space`: {owner} does not take "
                        f"`{option}`; accepted: {[f'{section}.{n}' for n in names]}."
                    )
    return parsed


def _targets_of(where, kind, spec, objects, key=None):
    values = space_.choices(spec)
    if values is None:
        raise ConfigError(f"{where}: `space.{key or kind}` must list its values, got a range.")
    refs = []
    for value in values:
        if value is None and kind == "augment":  # null: no augmentation
            refs.append(None)
            continue
        ref, obj = targets.resolve(f"{where}: `space.{key or kind}`", kind, value)
        if not callable(obj):
            raise ConfigError(
                f"{where}: `space.{key or kind}`: {ref!r} is a {type(obj).__name__}, not a "
                f"callable {'cell constructor' if kind == 'cell' else kind}."
            )
        objects[ref] = obj
        refs.append(ref)
    return refs if isinstance(spec, list) else space_.Distribution("choice", tuple(refs))


def _check_choices(where, key, parsed, allowed):
    if key in parsed:
        values = space_.choices(parsed[key])
        for value in values or [None]:
            if value not in allowed:
                raise ConfigError(
                    f"{where}: `space.{key}` values must be one of {list(allowed)}, got {value!r}."
                )


def _owners(section, parsed, tasks, objects):
    """(what, accepted keywords) of every callable a ``section.*`` key goes to."""
    if section in ("optimizer", "fit"):
        return [(f"jaxnets.train.{'fit' if section == 'fit' else 'optimizer'}",
                 targets.accepted(section))]  # fmt: skip
    if section == "schedule":
        names = space_.choices(parsed.get("schedule", ["constant"]))
        return [(f"schedule {n!r}", targets.accepted("schedule", n)) for n in names]
    if section == "cell" or "model" in parsed:
        refs = space_.choices(parsed[section])
        return [(f"{section} {r!r}", targets.accepted(section, objects[r])) for r in refs]
    return [(f"task {ref!r}'s model", targets.accepted("model", objects[ref].model))
            for ref in tasks if objects[ref].model is not None]  # fmt: skip


def _check_optuna(where, tasks, space):
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{where}: `search: {{method: optuna}}` needs Optuna: pip install 'jaxnets[optuna]'."
        ) from None
    if len(tasks) != 1:
        raise ConfigError(
            f"{where}: an Optuna search optimizes one task's metric; `tasks` names {len(tasks)}."
        )
    space_.optuna_distributions(space)


def check_builds(where, sweep: Sweep, points, check_data: bool):
    """Build every point's model and optimizer for every task and trace its ``init``
    (no training, no compilation): a constructor that refuses an option, a model whose
    shapes do not fit the data, or a batch size larger than the data is a ConfigError."""
    import jax

    from ._runner import task_data

    for ref, options in sweep.tasks.items():
        task = sweep.objects[ref]
        rows, input_shape = None, None
        if check_data:
            try:
                data = task_data(ref, task, options, sweep.budget["validation_fraction"])
            except (TypeError, ValueError, OSError) as error:
                raise ConfigError(f"{where}: `tasks.{ref}`: its data: {error}") from None
            rows = len(jax.tree.leaves(data.y)[0])
            input_shape = jax.tree.leaves(data.x)[0].shape[1:]
            if sweep.budget["batch_size"] > rows:
                raise ConfigError(
                    f"{where}: `budget.batch_size` {sweep.budget['batch_size']} is larger than "
                    f"the {rows} training rows of task {ref!r} (after the validation split); "
                    f"accepted: 1 to {rows}."
                )
        steps = (rows or sweep.budget["batch_size"]) // sweep.budget["batch_size"]
        for point in points:
            at = f"{where}: task {ref!r}, configuration {point}"
            model = targets.build_model(at, task, point, sweep.objects)
            targets.build_optimizer(at, point, max(steps, 1), sweep.budget["epochs"])
            if input_shape is not None:
                try:
                    jax.eval_shape(lambda k: model.init(k, input_shape), jax.random.key(0))  # noqa: B023
                except (TypeError, ValueError) as error:
                    raise ConfigError(f"{at}: the model does not fit the data: {error}") from None


def trials(sweep: Sweep, points, platform: str) -> list:
    """Every (task, point, seed), in a fixed order."""
    training = {"early_stopping": sweep.early_stopping, "pruner": sweep.pruner}
    found = []
    for task, options in sweep.tasks.items():
        for point in points:
            refs = [task, *targets.references(point)]
            code = {r: targets.source_hash(sweep.objects[r]) for r in refs}
            for seed in sweep.seeds:
                found.append(Trial(task, options, point, seed, sweep.budget, training, code,
                                   platform))  # fmt: skip
    return found
