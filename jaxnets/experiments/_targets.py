"""What a sweep trains, by built-in name, import path or object, and the keywords each
of its callables accepts."""

import hashlib
import importlib
import importlib.util
import inspect
import pathlib
import sys

import optax

from jaxnets.cells import CELLS
from jaxnets.core import Cell, Layer
from jaxnets.data import AUGMENTATIONS
from jaxnets.models import MODELS
from jaxnets.tasks import TASKS, Task
from jaxnets.train import fit, keywords, optimizer

from ._errors import ConfigError

BUILTIN = {"task": TASKS, "cell": CELLS, "model": MODELS, "augment": AUGMENTATIONS}

# Each schedule: the optax function and the arguments the sweep fills in from the
# learning rate and the training length (``steps``: all updates, ``epoch``: one epoch's);
# every other argument of the optax function is a ``schedule.*`` key.
SCHEDULES = {
    "constant": (None, {}),
    "cosine": (optax.cosine_decay_schedule, {"init_value": "lr", "decay_steps": "steps"}),
    "warmup_cosine": (
        optax.warmup_cosine_decay_schedule,
        {"init_value": 0.0, "peak_value": "lr", "decay_steps": "steps"},
    ),
    "exponential": (optax.exponential_decay, {"init_value": "lr", "transition_steps": "epoch"}),
}
# What the sweep itself passes to fit; every other keyword of fit is a ``fit.*`` key.
FIT_RESERVED = {
    "model", "params", "state", "optimizer", "loss", "x", "y", "epochs", "key", "batch_size",
    "lengths", "batches", "validation", "metric", "early_stopping", "checkpoint", "progress",
    "trainer", "on_epoch",
}  # fmt: skip


def reference(obj) -> str:
    """The import path ``module:attribute`` that names a Python object given to ``sweep``
    directly, when its module holds it under a name; else ``<kind name>``, which names
    it in reports but is not a path a config file can use."""
    modules = [getattr(obj, "__module__", None), getattr(getattr(obj, "data", None),
                                                         "__module__", None)]  # fmt: skip
    for module_name in filter(None, modules):
        module = sys.modules.get(module_name)
        if module is None or module_name == "__main__" or module_name.startswith("jaxnets_user_"):
            continue
        qualname = getattr(obj, "__qualname__", "")
        if "<" not in qualname and _attribute(module, qualname) is obj:
            return f"{module_name}:{qualname}"
        for name, value in vars(module).items():
            if value is obj:
                return f"{module_name}:{name}"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "name", None) or "?"
    return f"<{type(obj).__name__} {name}>"


def _attribute(module, dotted):
    obj = module
    for part in dotted.split(".") if dotted else ():
        obj = getattr(obj, part, None)
    return obj if dotted else None


def source_hash(obj) -> str:
    """A hash of the code behind ``obj`` (a task: its functions), so that an edited
    cell or task makes new trials instead of matching the old results."""
    parts = []
    for fn in (getattr(obj, n, None) for n in ("data", "model", "loss", "metric")):
        if fn is not None:
            parts.append(_code(fn))
    if not parts:
        parts.append(_code(obj))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _code(fn) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        return repr((code.co_code, code.co_consts)) if code is not None else repr(fn)


def resolve(where: str, kind: str, target):
    """``(reference, object)`` of a built-in name, an import path
    (``package.module:attribute`` or ``path/to/file.py:attribute``) or an object."""
    if not isinstance(target, str):
        return reference(target), target
    builtin = BUILTIN[kind]
    if target in builtin:
        return target, builtin[target]
    if ":" not in target:
        raise ConfigError(
            f"{where}: unknown {kind} {target!r}; built-in: {sorted(builtin)}, or an import "
            "path 'package.module:attribute' or 'path/to/file.py:attribute'."
        )
    module_name, _, attribute = target.rpartition(":")
    module = _import(where, target, module_name)
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{where}: {target!r}: {module_name} has no attribute {attribute!r}.")
        obj = getattr(obj, part)
    return target, obj


def _import(where, target, module_name):
    try:
        if module_name.endswith(".py"):
            path = pathlib.Path(module_name).resolve()
            name = "jaxnets_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
            if name not in sys.modules:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or not path.is_file():
                    raise ImportError(f"no file {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
            return sys.modules[name]
        return importlib.import_module(module_name)
    except Exception as error:  # the user's module may raise anything while importing
        raise ConfigError(
            f"{where}: {target!r} does not import: {type(error).__name__}: {error}"
        ) from None


def as_task(where: str, ref: str, obj) -> Task:
    """A ``Task``, or an object with ``data``, ``loss``, ``metric`` and ``mode``
    (``model``, ``metric_name`` and ``num_outputs`` optional) made into one."""
    if isinstance(obj, Task):
        return obj
    missing = [n for n in ("data", "loss", "metric", "mode") if not hasattr(obj, n)]
    if missing:
        raise ConfigError(
            f"{where}: {ref!r} is a {type(obj).__name__}, not a task: it has no "
            f"{', '.join(missing)} (a task has data, loss, metric and mode 'min' or 'max'; "
            "see jaxnets.tasks.Task)."
        )
    if obj.mode not in ("min", "max"):
        raise ConfigError(f"{where}: {ref!r}: `mode` must be 'min' or 'max', got {obj.mode!r}.")
    return Task(
        getattr(obj, "name", ref), obj.data, getattr(obj, "model", None), obj.loss, obj.metric,
        getattr(obj, "metric_name", "metric"), obj.mode, getattr(obj, "num_outputs", None),
    )  # fmt: skip


def required(fn, skip=()) -> list:
    """The arguments of ``fn`` without a default."""
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in skip
    ]


def accepted(section: str, target=None) -> list | None:
    """The keys a ``section.*`` entry may name (None: any)."""
    if section == "optimizer":
        return keywords(optimizer, skip={"name"})
    if section == "schedule":
        fn, filled = SCHEDULES[target]
        return [] if fn is None else keywords(fn, skip={k for k, v in filled.items() if v == "lr"})
    if section == "fit":
        return keywords(fit, skip=FIT_RESERVED)
    if section == "cell":
        return keywords(target)
    return keywords(target, skip={"cell"})


def references(point: dict) -> list:
    """The targets a point names: its cell or model, and its augmentation."""
    return [v for k, v in point.items() if k in ("cell", "model", "fit.augment") and v is not None]


def split(point: dict, section: str) -> dict:
    """The ``section.*`` entries of a point, without the prefix."""
    prefix = section + "."
    return {k[len(prefix) :]: v for k, v in point.items() if k.startswith(prefix)}


def build_cell(where, ref, constructor, options):
    cell = _call(where, f"cell {ref!r}", constructor, options)
    if not isinstance(cell, Cell) and not all(
        callable(getattr(cell, n, None)) for n in ("init", "initial_carry", "step")
    ):
        raise ConfigError(
            f"{where}: cell {ref!r} returned a {type(cell).__name__}, not a Cell "
            "(init, initial_carry, step)."
        )
    return cell


def build_model(where, task: Task, point: dict, objects: dict):
    """The Layer a point trains on ``task``: the task's model over the point's cell, or
    the point's model builder (given the task's ``num_outputs`` as ``num_classes`` or
    ``num_outputs`` when it takes one and the point does not set it)."""
    options = split(point, "model")
    if "cell" in point:
        ref = point["cell"]
        cell = build_cell(where, ref, objects[ref], split(point, "cell"))
        if task.model is None:
            raise ConfigError(f"{where}: task {task.name!r} has no `model` to put a cell in.")
        model = _call(where, f"{task.name}.model", task.model, {"cell": cell, **options})
    else:
        ref = point["model"]
        builder = objects[ref]
        names = keywords(builder) or []
        for name in ("num_classes", "num_outputs"):
            if name in names and name not in options and task.num_outputs is not None:
                options[name] = task.num_outputs
        model = _call(where, f"model {ref!r}", builder, options)
    if not isinstance(model, Layer) and not all(
        callable(getattr(model, n, None)) for n in ("init", "apply")
    ):
        raise ConfigError(
            f"{where}: model {ref!r} built a {type(model).__name__}, not a Layer (init, apply)."
        )
    return model


def build_optimizer(where, point: dict, steps_per_epoch: int, epochs: int):
    options = split(point, "optimizer")
    name = point.get("optimizer", "adam")
    schedule = point.get("schedule", "constant")
    fn, filled = SCHEDULES[schedule]
    if fn is not None:
        lr = options.get("learning_rate", 1e-3)
        sizes = {"lr": lr, "steps": steps_per_epoch * epochs, "epoch": steps_per_epoch}
        arguments = {k: sizes.get(v, v) if isinstance(v, str) else v for k, v in filled.items()}
        arguments.update(split(point, "schedule"))
        missing = [n for n in required(fn) if n not in arguments]
        if missing:
            raise ConfigError(f"{where}: schedule {schedule!r} needs `schedule.{missing[0]}`.")
        options["learning_rate"] = fn(**arguments)
    return _call(where, f"optimizer {name!r}", optimizer, {"name": name, **options})


def fit_options(point: dict, objects: dict) -> dict:
    options = split(point, "fit")
    if isinstance(options.get("augment"), str):
        options["augment"] = objects[options["augment"]]
    return options


def _call(where, what, fn, options):
    try:
        return fn(**options)
    except (TypeError, ValueError) as error:
        shown = {k: v for k, v in options.items() if k != "cell"}
        raise ConfigError(f"{where}: {what} refused {shown}: {error}") from None
