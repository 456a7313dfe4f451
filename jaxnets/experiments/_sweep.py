"""Running a sweep's trials, locally or on a Ray cluster, into the results store: grid
and random points, or an Optuna search asked and told one configuration at a time."""

import hashlib
import json
import os
import sys
import time
import traceback
from collections import defaultdict
from typing import NamedTuple

from . import _space as space_
from ._config import Sweep, trials
from ._runner import Job, run_job
from ._store import DONE
from ._targets import references


class Outcome(NamedTuple):
    """What a sweep did, in trials: ``ran`` (finished here), ``pruned`` (here),
    ``failed`` (here), ``skipped`` (done before, here or elsewhere), ``unfinished``
    (not done when this process stopped, ``elsewhere`` of them held by live processes)."""

    ran: int = 0
    pruned: int = 0
    failed: int = 0
    skipped: int = 0
    unfinished: int = 0
    elsewhere: int = 0

    @property
    def trained(self) -> int:
        return self.ran + self.pruned + self.failed


def platform(executor: str = "local", gpus_per_trial: float = 0) -> str:
    """Where trials run, part of their identity: the jax version and device kind."""
    import jax

    if executor == "ray" and gpus_per_trial:
        return f"jax {jax.__version__} on gpu (ray)"
    device = jax.devices()[0]
    return f"jax {jax.__version__} on {device.platform}:{device.device_kind}"


class _Runner:
    """Claims, runs and records the trials of a sweep's configurations."""

    def __init__(self, sweep, store, results, *, executor, address, cpus, gpus, force, wait,
                 poll_s, log, progress):  # fmt: skip
        self.sweep, self.store, self.results = sweep, store, results
        self.executor, self.force, self.wait, self.poll_s, self.log = (
            executor,
            force,
            wait,
            poll_s,
            log,
        )
        self.platform = platform(executor, gpus)
        self.counts = defaultdict(int)
        self.bar = _progress(progress)
        self.remote = None
        if executor == "ray":
            self.remote = _ray(address, cpus, gpus, sweep.objects)

    def trials_of(self, points):
        found = trials(self.sweep, points, self.platform)
        self.store.add_trials(self.sweep.name, found)
        return found

    def job(self, claimed):
        first = claimed[0]
        seeds = tuple(t.seed for t in claimed)
        name = hashlib.sha256(f"{first.config_hash}{seeds}".encode()).hexdigest()[:16]
        task = self.sweep.objects[first.task]
        refs = {first.task, *references(first.point)}
        return Job(
            first.task, first.task_options, first.point, seeds, first.budget,
            self.sweep.early_stopping, self.sweep.pruner, task.mode,
            {r: self.sweep.objects[r] for r in refs},
            self.store.curves(self.sweep.name, first.task) if self.sweep.pruner else (),
            os.path.join(self.results, "checkpoints", f"{name}.ckpt"),
        )  # fmt: skip

    def run_groups(self, groups, force):
        """Claim and run every claimable trial of ``groups`` (one list of trials per
        configuration and task); returns how many trials were claimed."""
        work = []
        for group in groups:
            claimed = [t for t in group if self.store.claim(t, force=force)]
            if claimed:
                work.append(claimed)
        if not work:
            return 0
        with self.store.keep_alive():
            if self.remote is None:
                for claimed in work:
                    try:
                        results = run_job(self.job(claimed))
                    except Exception:  # one broken configuration must not stop the sweep
                        self.record(claimed, error=traceback.format_exc())
                    else:
                        self.record(claimed, results)
            else:
                _run_on_ray(self.remote, [(c, self.job(c)) for c in work], self.record)
        return sum(len(c) for c in work)

    def record(self, claimed, results=None, error=None):
        lost = 0
        if error is not None:
            lost = sum(not self.store.fail(trial, error) for trial in claimed)
            self.counts["failed"] += len(claimed) - lost
            self.log(f"failed: {claimed[0].task} {claimed[0].point}: {error.splitlines()[-1]}")
        else:
            for trial, result in zip(claimed, results):
                finite = all(_finite(result[k]) for k in ("val_metric", "final_loss"))
                if result["status"] == "finished" and not finite:
                    message = (f"non-finite result: validation {result['val_metric']}, loss "
                               f"{result['final_loss']}")  # fmt: skip
                    kept, kind = self.store.fail(trial, message), "failed"
                else:
                    kept = self.store.record(trial, result)
                    kind = "ran" if result["status"] == "finished" else "pruned"
                self.counts[kind] += kept
                lost += not kept
        if lost:  # this process stalled past its lease and another took the trials over
            where = f"{claimed[0].task} {claimed[0].point}"
            self.log(f"{lost} trials of {where} were taken over by another process while this "
                     "one ran them; its results are dropped")  # fmt: skip
        if self.bar is not None:
            self.bar.update(len(claimed))

    def until_done(self, all_trials, groups):
        """Run what can be claimed; while others hold the rest under live leases, wait
        (``wait``) and take over any lease that expires."""
        if self.bar is not None:
            self.bar.reset(total=len(all_trials))
        status = self.store.status([t.key for t in all_trials])
        self.counts["skipped"] += sum(
            status.get(t.key) in DONE for t in all_trials if not self.force
        )
        self.run_groups(groups, self.force)
        while True:
            status = self.store.status([t.key for t in all_trials])
            left = [t for t in all_trials if status.get(t.key) not in (*DONE, "failed")]
            if not left:
                return
            free = [t for t in left if status.get(t.key) != "elsewhere"]
            if free and self.run_groups(_group(free), False):
                continue
            if not self.wait or all(status.get(t.key) != "elsewhere" for t in left):
                return
            time.sleep(self.poll_s)

    def outcome(self, all_trials) -> Outcome:
        status = self.store.status([t.key for t in all_trials])
        left = [t for t in all_trials if status.get(t.key) not in (*DONE, "failed")]
        elsewhere = sum(status.get(t.key) == "elsewhere" for t in left)
        if self.bar is not None:
            self.bar.close()
        return Outcome(self.counts["ran"], self.counts["pruned"], self.counts["failed"],
                       self.counts["skipped"], len(left), elsewhere)  # fmt: skip

    def close(self):
        self.store.release()
        if self.remote is not None and self.remote[1]:
            import ray

            ray.shutdown()


def _finite(value) -> bool:
    return value is not None and value == value and abs(value) != float("inf")


def _group(found):
    groups = defaultdict(list)
    for trial in found:
        groups[trial.config_hash].append(trial)
    return list(groups.values())


def _progress(enabled):
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=0, unit="trial")


def run_sweep(
    sweep: Sweep, store, *, results: str = "results", executor: str = "local", address=None,
    cpus_per_trial: float = 1, gpus_per_trial: float = 0, force: bool = False,
    wait: bool = True, poll_s: float = 2.0, progress=None, log=print,
) -> Outcome:  # fmt: skip
    """Run every trial of ``sweep`` that the store does not hold as done.

    A trial is done when finished or pruned, by this sweep or any other that asked for
    the same trial (``Trial.key``); ``force`` runs them again. A trial claimed by a
    process that died, or whose lease expired, is taken over; one running under a live
    lease elsewhere is left to its holder, and with ``wait`` this process waits for it
    (taking it over if the lease expires). The seeds of a configuration train together
    in one vmapped program, checkpointed every epoch under ``results/checkpoints``, so
    a killed trial resumes from its last epoch.

    Args:
      executor: ``"local"`` (this process) or ``"ray"``: one Ray task per configuration
        on the cluster at ``address`` (a new local Ray instance when None), with
        ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs reserved for each; results
        come back to this process, the store's only writer. An Optuna search runs one
        configuration at a time.

    Returns:
      An ``Outcome``.
    """
    if executor not in ("local", "ray"):
        raise ValueError(f"run_sweep: `executor` must be 'local' or 'ray', got {executor!r}.")
    metrics = {ref: {"name": sweep.objects[ref].metric_name, "mode": sweep.objects[ref].mode}
               for ref in sweep.tasks}  # fmt: skip
    store.add_run(sweep.name, sweep.raw, metrics)
    runner = _Runner(sweep, store, results, executor=executor, address=address,
                     cpus=cpus_per_trial, gpus=gpus_per_trial, force=force, wait=wait,
                     poll_s=poll_s, log=log, progress=progress)  # fmt: skip
    try:
        if sweep.search["method"] == "optuna":
            all_trials = _optuna(sweep, store, runner)
        else:
            store.set_points(sweep.name, list(sweep.points))
            all_trials = runner.trials_of(sweep.points)
            runner.until_done(all_trials, _group(all_trials))
        return runner.outcome(all_trials)
    finally:
        runner.close()


def _optuna(sweep, store, runner) -> list:
    """Ask Optuna's TPE sampler for configurations one at a time and tell it each mean
    validation metric. The store is the only record: a resumed search first tells the
    sampler every configuration the run already has (and finishes any left unfinished),
    then asks only for the rest."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (task,) = sweep.tasks
    mode = sweep.objects[task].mode
    distributions = space_.optuna_distributions(sweep.space)
    fixed = space_.fixed(sweep.space)
    recorded = store.points(sweep.name)
    study = optuna.create_study(
        direction="minimize" if mode == "min" else "maximize",
        # A resumed search must not replay the first process's random draws: the seed
        # also counts the configurations already asked.
        sampler=optuna.samplers.TPESampler(seed=sweep.search["seed"] + 100_003 * len(recorded)),
    )
    all_trials, seen = [], {}

    def run_point(point):
        found = runner.trials_of([point])
        all_trials.extend(found)
        runner.until_done(found, [found])
        seen[json.dumps(point, sort_keys=True)] = told = _told(
            store, sweep.name, found, distributions
        )
        return told

    for point in recorded:
        study.add_trial(run_point(point))
    repeats = 0
    while len(store.points(sweep.name)) < sweep.search["trials"] and repeats < 100:
        asked = study.ask(distributions)
        point = {**fixed, **asked.params}
        told = seen.get(json.dumps(point, sort_keys=True))
        if told is None:  # a new configuration
            repeats = 0
            store.add_point(sweep.name, point)
            told = run_point(point)
        else:  # asked again (a discrete space): the sampler hears the same answer
            repeats += 1
        value = told.value if told.state.name == "COMPLETE" else None
        study.tell(asked, value, state=told.state)
    return all_trials


def _told(store, run, found, distributions):
    """The configuration's result as an Optuna FrozenTrial: its mean validation metric
    over seeds when finished, PRUNED with its last value, else FAIL."""
    import optuna
    from optuna.trial import TrialState

    rows = {r["key"]: r for r in store.rows(run)}
    done = [rows[t.key] for t in found if t.key in rows]
    statuses = {r["status"] for r in done}
    values = [r["val_metric"] for r in done if r["val_metric"] is not None]
    point = found[0].point
    params = {k: point[k] for k in distributions}
    value = sum(values) / len(values) if values else None
    if statuses == {"finished"} and len(done) == len(found):
        state = TrialState.COMPLETE
    elif "pruned" in statuses:
        state, value = TrialState.PRUNED, None
    else:
        state, value = TrialState.FAIL, None
    return optuna.trial.create_trial(
        params=params, distributions=distributions, value=value, state=state
    )


def _ray(address, cpus, gpus, objects):
    try:
        import ray
        from ray import cloudpickle
    except ImportError as error:
        raise ImportError("--executor ray needs Ray: pip install 'jaxnets[ray]'") from error
    # A worker may not import what the driver imported from a file or from its working
    # directory: send the code of such modules with the jobs instead of their names.
    for module in _local_modules(objects):
        cloudpickle.register_pickle_by_value(module)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray.remote(num_cpus=cpus, num_gpus=gpus)(run_job), started_here


def _local_modules(objects) -> list:
    """The modules of the targets (and of a task's functions) that are not installed."""
    installed = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)})
    found = {}
    for obj in objects.values():
        parts = [obj, *(getattr(obj, n, None) for n in ("data", "model", "loss", "metric"))]
        for part in filter(None, parts):
            module = sys.modules.get(getattr(part, "__module__", None) or "")
            path = getattr(module, "__file__", None)
            local = path and not os.path.realpath(path).startswith(installed)
            if local and module.__name__.split(".")[0] not in ("jaxnets", "__main__"):
                found[module.__name__] = module
    return list(found.values())


def _run_on_ray(remote, work, record):
    import ray

    pending = {remote[0].remote(job): claimed for claimed, job in work}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        claimed = pending.pop(done[0])
        try:
            results = ray.get(done[0])
        except Exception:
            record(claimed, error=traceback.format_exc())
        else:
            record(claimed, results)
