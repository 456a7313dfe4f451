"""jaxnets sweep [CONFIG] | report RUN | list  (also: python -m jaxnets.experiments)"""

import argparse
import pathlib
import sys

from ._errors import ConfigError, StoreError

DEFAULT_RESULTS = "results"
# Exit statuses: 1 some trials failed, 2 nothing ran (bad config, store or arguments),
# 3 trials are left unfinished (held by other processes, or this one stopped).
FAILED, BAD_INPUT, UNFINISHED = 1, 2, 3


def _parser():
    parser = argparse.ArgumentParser(prog="jaxnets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("sweep", help="run a sweep (no CONFIG: the embedded default)")
    run.add_argument("config", nargs="?", help="a sweep YAML file")
    run.add_argument("--dry-run", action="store_true", help="list the trials, run nothing")
    run.add_argument("--executor", choices=("local", "ray"), default="local")
    run.add_argument("--address", help="Ray cluster address (default: a new local instance)")
    run.add_argument("--cpus-per-trial", type=float, default=1.0)
    run.add_argument("--gpus-per-trial", type=float, default=0.0)
    run.add_argument("--force", action="store_true", help="run done trials again")
    run.add_argument(
        "--no-wait", action="store_true",
        help="do not wait for trials that other processes hold; exit 3 if any are left",
    )  # fmt: skip
    run.add_argument("--no-plots", action="store_true")
    run.add_argument(
        "--devices", type=int, default=None,
        help="expose the CPU as N devices and split each batch over them (data parallel)",
    )  # fmt: skip
    report = commands.add_parser("report", help="tables and plots of a run")
    report.add_argument("run", help="the run's name (its config's `name`)")
    report.add_argument("--no-plots", action="store_true")
    listing = commands.add_parser("list", help="the runs in the results store")
    for sub in (run, report, listing):
        sub.add_argument(
            "--results", default=DEFAULT_RESULTS,
            help="results directory: results.sqlite, checkpoints/ and one folder per run "
            f"(default {DEFAULT_RESULTS})",
        )  # fmt: skip
    return parser


def _store(results):
    from ._store import Store

    return Store(pathlib.Path(results) / "results.sqlite")


def _use_cpu_devices(count: int):
    """Split the CPU into ``count`` JAX devices; only possible before JAX starts."""
    import jax

    if count < 1:
        raise ConfigError(f"--devices must be >= 1, got {count}.")
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError as error:
        raise ConfigError(f"--devices {count}: JAX has already started ({error}).") from None


def _report(store, run, results, plots):
    from ._report import write_report

    text, paths = write_report(store, run, pathlib.Path(results) / run, plots=plots)
    print(text)
    print("wrote " + ", ".join(str(p) for p in paths))


def _list(results):
    store = _store(results)
    for name, _, _ in store.runs():
        rows = store.rows(name)
        done = sum(r["status"] == "finished" for r in rows)
        pruned = sum(r["status"] == "pruned" for r in rows)
        tasks = sorted({r["task"] for r in rows})
        print(f"{name}: {done}/{len(rows)} trials finished, {pruned} pruned, tasks {tasks}")


def _dry_run(sweep, results):
    from ._config import trials
    from ._store import Store
    from ._sweep import platform

    found = trials(sweep, sweep.points, platform())
    path = pathlib.Path(results) / "results.sqlite"
    status = {}
    if path.exists():
        store = Store(path)
        status = store.status([t.key for t in found])
        store.close()
    if sweep.search["method"] == "optuna":
        print(f"{sweep.name}: an Optuna search of {sweep.search['trials']} configurations x "
              f"{len(sweep.seeds)} seeds; configurations are asked as it runs")  # fmt: skip
    print(f"{sweep.name}: {len(found)} trials ({len(sweep.points)} configurations x "
          f"{len(sweep.tasks)} tasks x {len(sweep.seeds)} seeds)")  # fmt: skip
    for t in found:
        point = " ".join(f"{k}={v}" for k, v in t.point.items())
        print(f"  {t.key}  {status.get(t.key, 'pending'):9}  {t.task}  seed={t.seed}  {point}")


def _sweep(args):
    from ._config import load

    if args.devices is not None:
        _use_cpu_devices(args.devices)
    # Import paths in a config are relative to where the command runs, as with python -m.
    if "" not in sys.path and str(pathlib.Path.cwd()) not in sys.path:
        sys.path.insert(0, str(pathlib.Path.cwd()))
    sweep = load(args.config)
    if args.dry_run:
        _dry_run(sweep, args.results)
        return 0
    from ._sweep import run_sweep

    store = _store(args.results)
    outcome = run_sweep(
        sweep, store, results=args.results, executor=args.executor, address=args.address,
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        force=args.force, wait=not args.no_wait,
    )  # fmt: skip
    print(f"{sweep.name}: ran {outcome.ran}, pruned {outcome.pruned}, failed {outcome.failed}, "
          f"skipped {outcome.skipped} done before; {outcome.unfinished} unfinished "
          f"({outcome.elsewhere} held by other processes)")  # fmt: skip
    if outcome.trained:  # a process that ran nothing leaves the report as it is
        _report(store, sweep.name, args.results, not args.no_plots)
    if outcome.failed:
        return FAILED
    if outcome.unfinished:
        print(f"error: {outcome.unfinished} trials of {sweep.name} are unfinished; run the "
              "sweep again to finish them.", file=sys.stderr)  # fmt: skip
        return UNFINISHED
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            _list(args.results)
            return 0
        if args.command == "report":
            _report(_store(args.results), args.run, args.results, not args.no_plots)
            return 0
        return _sweep(args)
    except (ConfigError, StoreError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        # run_sweep has released this process's claims: another process, or the next
        # run, takes them over at once and resumes them from their checkpoints.
        print("interrupted: the unfinished trials resume when the sweep runs again.",
              file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())
