"""Running a sweep's trials, locally or on a Ray cluster, into the results store."""

import math
import os
import sys
import traceback
from collections import defaultdict

from .config import Sweep, trials
from .runner import run_job


def jobs(sweep: Sweep) -> list:
    """The sweep's trials grouped by configuration: one vmapped program per group."""
    groups = defaultdict(list)
    for trial in trials(sweep):
        groups[trial.config_hash].append(trial)
    return list(groups.values())


def _progress(total, enabled):
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="trial")


def _store_results(store, claimed, results) -> int:
    """Write each seed's result; a non-finite metric is a failed trial. Returns failures."""
    failed = 0
    for trial, result in zip(claimed, results):
        if math.isfinite(result["final_metric"]) and math.isfinite(result["final_loss"]):
            store.finish(trial, result)
        else:
            store.fail(trial, f"non-finite result: metric {result['final_metric']}, "
                              f"loss {result['final_loss']}")  # fmt: skip
            failed += 1
    return failed


def run_sweep(
    sweep: Sweep, store, *, executor: str = "local", address=None, cpus_per_trial: float = 1,
    progress=None, log=print,
) -> dict:  # fmt: skip
    """Run every trial of ``sweep`` that the store does not hold as finished.

    Trials are idempotent: a finished trial (same task, configuration, seed and budget,
    from any sweep) is skipped, a trial left running by a killed process is run again,
    and one running in another live process is left to it. The seeds of a
    configuration train together in one vmapped program (``run_job``).

    Args:
      executor: ``"local"`` (this process) or ``"ray"``: one Ray task per
        configuration on the cluster at ``address`` (a new local Ray instance when
        None); results come back to this process, the store's only writer.
      cpus_per_trial: CPUs Ray reserves for each configuration.

    Returns:
      ``{"ran": n, "skipped": n, "failed": n}`` in trials.
    """
    store.add_run(sweep.name, sweep.raw)
    groups = jobs(sweep)
    counts = {"ran": 0, "skipped": 0, "failed": 0}
    bar = _progress(sum(len(g) for g in groups), progress)
    work = []
    for group in groups:
        claimed = [t for t in group if store.claim(t)]
        counts["skipped"] += len(group) - len(claimed)
        if bar is not None:
            bar.update(len(group) - len(claimed))
        if claimed:
            work.append(claimed)

    def record(claimed, results=None, error=None):
        if error is None:
            failed = _store_results(store, claimed, results)
        else:
            for trial in claimed:
                store.fail(trial, error)
            failed = len(claimed)
            log(f"failed: {claimed[0].task} {claimed[0].point}: {error.splitlines()[-1]}")
        counts["failed"] += failed
        counts["ran"] += len(claimed) - failed
        if bar is not None:
            bar.update(len(claimed))

    if executor == "local":
        for claimed in work:
            try:
                results = run_job(*_job_args(claimed))
            except Exception:  # one broken configuration must not stop the sweep
                record(claimed, error=traceback.format_exc())
            else:
                record(claimed, results)
    elif executor == "ray":
        _run_on_ray(work, record, address, cpus_per_trial)
    else:
        raise ValueError(f"run_sweep: `executor` must be 'local' or 'ray', got {executor!r}.")
    if bar is not None:
        bar.close()
    return counts


def _job_args(claimed):
    first = claimed[0]
    return first.task, first.task_options, first.point, first.budget, [t.seed for t in claimed]


def _run_on_ray(work, record, address, cpus_per_trial):
    try:
        import ray
    except ImportError as error:
        raise ImportError("--executor ray needs Ray: pip install 'jaxnets[ray]'") from error
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=cpus_per_trial)(run_job)
        pending = {remote.remote(*_job_args(claimed)): claimed for claimed in work}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            claimed = pending.pop(done[0])
            try:
                results = ray.get(done[0])
            except Exception:
                record(claimed, error=traceback.format_exc())
            else:
                record(claimed, results)
    finally:
        if started_here:
            ray.shutdown()
