"""Search spaces: each key a value, a list (a grid axis) or a distribution; the points
of a grid, of a random search, and Optuna's distributions."""

import itertools
import math
import random
from typing import NamedTuple

from ._errors import ConfigError

KINDS = ("uniform", "loguniform", "int", "choice")


class Distribution(NamedTuple):
    """``uniform``/``loguniform`` [low, high] floats, ``int`` [low, high] (both ends
    included), or ``choice`` of ``values``."""

    kind: str
    values: tuple


def is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse(where: str, value):
    """A space entry as a ``Distribution`` or a list of values (a fixed value is a list
    of one; a list-valued option, such as hidden sizes, is a list of lists)."""
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in KINDS:
            raise ConfigError(
                f"{where}: a mapping must be one distribution, {{uniform: [a, b]}}, "
                f"{{loguniform: [a, b]}}, {{int: [a, b]}} or {{choice: [...]}}; got {value!r}."
            )
        ((kind, args),) = value.items()
        return Distribution(kind, _check(where, kind, args))
    if isinstance(value, list | tuple):
        if not value:
            raise ConfigError(f"{where}: a list must hold at least one value.")
        return list(value)
    return [value]


def _check(where, kind, args):
    if kind == "choice":
        if not isinstance(args, list | tuple) or not args:
            raise ConfigError(f"{where}: `choice` takes a non-empty list, got {args!r}.")
        return tuple(args)
    pair = isinstance(args, list | tuple) and len(args) == 2
    if kind == "int":
        if not (pair and all(is_int(a) for a in args) and args[0] <= args[1]):
            raise ConfigError(f"{where}: `int` takes [low, high], ints with low <= high, got "
                              f"{args!r}.")  # fmt: skip
    elif not (pair and all(is_number(a) for a in args) and args[0] < args[1]):
        raise ConfigError(f"{where}: `{kind}` takes [low, high], numbers with low < high, got "
                          f"{args!r}.")  # fmt: skip
    elif kind == "loguniform" and args[0] <= 0:
        raise ConfigError(f"{where}: `loguniform` needs 0 < low, got {args!r}.")
    return tuple(args)


def choices(spec) -> list | None:
    """The values a spec takes, or None for a continuous range."""
    if isinstance(spec, list):
        return spec
    if spec.kind == "choice":
        return list(spec.values)
    if spec.kind == "int":
        return list(range(spec.values[0], spec.values[1] + 1))
    return None


def grid(space: dict) -> list:
    """Every combination of the lists, in a fixed order (the keys sorted)."""
    keys = sorted(space)
    for key in keys:
        if not isinstance(space[key], list):
            raise ConfigError(
                f"space.{key}: a distribution needs `search: {{method: random}}` or "
                "`{method: optuna}`; a grid takes lists."
            )
    return [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]


def sample(space: dict, samples: int, seed: int) -> list:
    """``samples`` points drawn with ``random.Random(seed)``: without repetition from
    the grid when every key is a list, else each key drawn on its own."""
    rng = random.Random(seed)
    if all(isinstance(s, list) for s in space.values()):
        points = grid(space)
        chosen = rng.sample(range(len(points)), min(samples, len(points)))
        return [points[i] for i in sorted(chosen)]
    return [{k: draw(rng, space[k]) for k in sorted(space)} for _ in range(samples)]


def draw(rng: random.Random, spec):
    if isinstance(spec, list):
        return rng.choice(spec)
    low, high = spec.values[0], spec.values[-1]
    if spec.kind == "uniform":
        return rng.uniform(low, high)
    if spec.kind == "loguniform":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if spec.kind == "int":
        return rng.randint(low, high)
    return rng.choice(spec.values)


def optuna_distributions(space: dict) -> dict:
    """Optuna's distribution for every key that varies (fixed keys are left out)."""
    import optuna.distributions as od

    found = {}
    for key, spec in space.items():
        if isinstance(spec, list):
            if len(spec) > 1:
                for value in spec:
                    if not (value is None or isinstance(value, bool | int | float | str)):
                        raise ConfigError(
                            f"space.{key}: Optuna chooses among None, bools, numbers and "
                            f"strings, got {value!r}."
                        )
                found[key] = od.CategoricalDistribution(spec)
        elif spec.kind in ("uniform", "loguniform"):
            found[key] = od.FloatDistribution(*spec.values, log=spec.kind == "loguniform")
        elif spec.kind == "int":
            found[key] = od.IntDistribution(*spec.values)
        else:
            found[key] = od.CategoricalDistribution(spec.values)
    return found


def fixed(space: dict) -> dict:
    """The keys with one value, and that value."""
    return {k: s[0] for k, s in space.items() if isinstance(s, list) and len(s) == 1}
