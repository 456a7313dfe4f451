"""The bookkeeping of a training run: curves, early stopping per seed, checkpoints."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checkpoint import restore, save_checkpoint


class EarlyStopping(NamedTuple):
    """Stop when the validation metric has not improved by more than ``min_delta``
    for ``patience`` epochs, then restore the params of the best epoch.

    ``mode="min"`` for losses, ``"max"`` for accuracies. With seeds, each seed stops
    on its own curve (its params then stay put) and restores its own best epoch.
    """

    patience: int = 5
    min_delta: float = 0.0
    mode: str = "min"


class History(NamedTuple):
    """Per-epoch curves: ``loss`` (mean training loss), ``grad_norm`` and
    ``max_grad_norm`` (mean and largest global gradient norm before the optimizer, so
    before clipping), ``val_metric`` (``None`` without validation data) and ``seconds``
    of training (the first epoch's includes compilation). (E,) arrays for one run; for
    seeds (S, E), NaN after a seed stopped early; ``seconds`` is always (E,)."""

    loss: np.ndarray
    grad_norm: np.ndarray
    max_grad_norm: np.ndarray
    val_metric: np.ndarray | None
    seconds: np.ndarray


class FitResult(NamedTuple):
    """params, state and opt_state at the end (the best epoch's with early stopping),
    ``history`` (a ``History``), ``best_epoch`` (0-based) and ``epochs_run``. For seeds
    every field has a leading seed axis (``best_epoch`` and ``epochs_run`` are (S,))."""

    params: dict
    state: dict
    opt_state: optax.OptState
    history: History
    best_epoch: int | np.ndarray
    epochs_run: int | np.ndarray


CURVES = ("loss", "grad_norm", "max_grad_norm", "val_metric")


class Stopping(NamedTuple):
    """Early-stopping counters, each (S,): ``best_value`` (signed so that smaller is
    better), ``best_epoch``, ``wait`` (epochs without improvement), ``active`` and
    ``epochs_run``."""

    best_value: np.ndarray
    best_epoch: np.ndarray
    wait: np.ndarray
    active: np.ndarray
    epochs_run: np.ndarray

    @classmethod
    def start(cls, size):
        return cls(np.full(size, np.inf), np.full(size, -1), np.zeros(size, int),
                   np.ones(size, bool), np.zeros(size, int))  # fmt: skip


@jax.jit
def select(chosen, new, old):
    """Per seed: ``new`` where ``chosen`` (S,), else ``old``."""
    pick = lambda n, o: jnp.where(chosen.reshape(-1, *[1] * (n.ndim - 1)), n, o)  # noqa: E731
    return jax.tree.map(pick, new, old)


class Loop:
    """The state of a run between epochs, for S seeds (S = 1 for one run).

    ``history`` holds per-epoch (S,) arrays, ``stats`` the ``Stopping`` counters.
    """

    def __init__(self, size, train_state, has_validation):
        self.train_state = self.best_state = train_state
        self.done, self.size = 0, size
        self.stats = Stopping.start(size)
        self.has_validation = has_validation
        self.history = {name: [] for name in CURVES}
        self.seconds = []

    @property
    def active(self):
        return self.stats.active

    def check_finite(self, losses, epoch, checkpoint, seeds):
        bad = ~np.isfinite(losses) & self.active[:, None]
        if bad.any():
            seed, step = np.argwhere(bad)[0]
            which = f" (seed {seed})" if seeds else ""
            kept = f" {checkpoint} keeps epoch {epoch - 1}." if checkpoint and epoch > 0 else ""
            raise FloatingPointError(
                f"fit: the loss is {losses[seed, step]} at epoch {epoch}, step {step} (of "
                f"{losses.shape[1]} per epoch){which}; training stopped.{kept}"
            )

    def record(self, train_state, losses, norms, value, seconds, early_stopping, sign):
        active, stats = self.active.copy(), self.stats
        off = lambda a: np.where(active, a, np.nan)  # noqa: E731
        self.history["loss"].append(off(losses.mean(1)))
        self.history["grad_norm"].append(off(norms.mean(1)))
        self.history["max_grad_norm"].append(off(norms.max(1)))
        if value is not None:
            self.history["val_metric"].append(off(np.asarray(value, np.float64)))
        self.train_state, epoch = train_state, self.done
        self.done += 1
        self.stats = stats = stats._replace(
            epochs_run=np.where(active, self.done, stats.epochs_run)
        )
        self.seconds.append(seconds)
        if early_stopping is None:
            return
        signed = sign * np.asarray(value)
        better = active & (signed < stats.best_value - early_stopping.min_delta)
        wait = np.where(better, 0, stats.wait + active)
        self.stats = stats._replace(
            best_value=np.where(better, signed, stats.best_value),
            best_epoch=np.where(better, epoch, stats.best_epoch),
            wait=wait,
            active=active & (wait < early_stopping.patience),
        )
        if better.all():
            self.best_state = train_state
        elif better.any():
            self.best_state = select(jnp.asarray(better), train_state, self.best_state)

    def _tree(self):
        return {
            "epochs_done": self.done,
            "train_state": self.train_state,
            "best_state": self.best_state,
            "stats": self.stats,
            "seconds": np.asarray(self.seconds, np.float64),
            "history": {
                k: np.asarray(v, np.float64).reshape(len(v), self.size)
                for k, v in self.history.items()
            },
        }

    def save(self, path, fingerprint):
        save_checkpoint(path, self._tree(), fingerprint=fingerprint)

    def resume(self, path, fingerprint):
        """The run a checkpoint holds, after checking that it is this run's."""

        def target(raw):
            # The curves' lengths and the counters are whatever the file holds; the
            # states must fit this run's exactly.
            tree = self._tree()
            for name in ("epochs_done", "seconds", "history", "stats"):
                tree[name] = raw.get(name, tree[name])
            return tree

        tree = restore(path, target, fingerprint)
        self.done = int(tree["epochs_done"])
        self.train_state, self.best_state = tree["train_state"], tree["best_state"]
        self.stats = Stopping(**{k: np.asarray(v) for k, v in tree["stats"].items()})
        self.seconds = list(np.asarray(tree["seconds"]))
        self.history = {k: list(np.asarray(v)) for k, v in tree["history"].items()}
        return self

    def result(self, seeds, early_stopping) -> FitResult:
        stats = self.stats
        final, best_epoch = self.train_state, stats.epochs_run - 1
        if early_stopping and (stats.best_epoch >= 0).any():
            keep = stats.best_epoch >= 0
            final = (
                self.best_state if keep.all() else select(jnp.asarray(keep), self.best_state, final)
            )
            best_epoch = np.where(keep, stats.best_epoch, best_epoch)
        if not seeds:
            best_epoch, epochs_run = int(best_epoch[0]), int(stats.epochs_run[0])
        else:
            epochs_run = stats.epochs_run.copy()
        history = self.curves(seeds)
        return FitResult(*final, history=history, best_epoch=best_epoch, epochs_run=epochs_run)

    def curves(self, seeds) -> History:
        """The ``History`` so far: (S, E) arrays, or (E,) for one run (``seeds`` 0)."""
        curves = {
            k: np.stack(v, axis=-1) if v else np.zeros((self.size, 0))
            for k, v in self.history.items()
        }
        if not self.has_validation:
            curves["val_metric"] = None
        if not seeds:
            curves = {k: None if v is None else v[0] for k, v in curves.items()}
        return History(**curves, seconds=np.asarray(self.seconds))
