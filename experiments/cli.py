"""python -m experiments run [CONFIG] | report RUN | list | demo"""

import argparse
import pathlib
import sys

from . import config as sweep_config

DEFAULT_RESULTS = "results"


def _parser():
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a sweep (no CONFIG: the embedded default)")
    run.add_argument("config", nargs="?", help="a sweep YAML file")
    run.add_argument("--dry-run", action="store_true", help="list the trials, run nothing")
    run.add_argument("--executor", choices=("local", "ray"), default="local")
    run.add_argument("--address", help="Ray cluster address (default: a new local instance)")
    run.add_argument("--cpus-per-trial", type=float, default=1.0)
    run.add_argument("--no-plots", action="store_true")
    run.add_argument(
        "--devices", type=int, default=None,
        help="expose the CPU as N devices and split each batch over them (data parallel)",
    )  # fmt: skip
    report = commands.add_parser("report", help="tables and plots of a run")
    report.add_argument("run", help="the run's name (its config's `name`)")
    report.add_argument("--no-plots", action="store_true")
    commands.add_parser("list", help="the runs in the results store")
    commands.add_parser("demo", help="train an MLP and the Keras convnet on the digits")
    for sub in (run, report, commands.choices["list"]):
        sub.add_argument(
            "--results", default=DEFAULT_RESULTS,
            help="results directory: results.sqlite and one folder per run "
            f"(default {DEFAULT_RESULTS})",
        )  # fmt: skip
    return parser


def _store(results):
    from .store import Store

    return Store(pathlib.Path(results) / "results.sqlite")


def _dry_run(sweep, results):
    path = pathlib.Path(results) / "results.sqlite"
    all_trials = sweep_config.trials(sweep)
    status = {}
    if path.exists():
        store = _store(results)
        status = store.status([t.key for t in all_trials])
        store.close()
    print(f"{sweep.name}: {len(all_trials)} trials ({len(sweep.points)} configurations x "
          f"{len(sweep.tasks)} tasks x {len(sweep.seeds)} seeds)")  # fmt: skip
    for t in all_trials:
        point = " ".join(f"{k}={v}" for k, v in t.point.items())
        print(f"  {t.key}  {status.get(t.key, 'pending'):8}  {t.task}  seed={t.seed}  {point}")


def _use_cpu_devices(count: int):
    """Split the CPU into ``count`` JAX devices; only possible before JAX starts."""
    import jax

    if count < 1:
        raise sweep_config.ConfigError(f"--devices must be >= 1, got {count}.")
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError as error:
        raise sweep_config.ConfigError(
            f"--devices {count}: JAX has already started in this process ({error})."
        ) from None


def _report(sweep, store, results, plots):
    from .report import write_report

    text, paths = write_report(sweep, store, pathlib.Path(results) / sweep.name, plots=plots)
    print(text)
    print("wrote " + ", ".join(str(p) for p in paths))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .store import StoreError

    try:
        if args.command == "demo":
            from .demo import main as demo

            demo([])
            return 0
        if args.command == "list":
            store = _store(args.results)
            for name, config, _ in store.runs():
                sweep = sweep_config.validate(config, where=f"run {name}")
                keys = [t.key for t in sweep_config.trials(sweep)]
                done = sum(s == "finished" for s in store.status(keys).values())
                print(f"{name}: {done}/{len(keys)} trials finished, tasks {list(sweep.tasks)}")
            return 0
        if args.command == "report":
            store = _store(args.results)
            sweep = sweep_config.validate(store.run_config(args.run), where=f"run {args.run}")
            _report(sweep, store, args.results, not args.no_plots)
            return 0
        sweep = sweep_config.load(args.config)
        if args.devices is not None:
            _use_cpu_devices(args.devices)
        if args.dry_run:
            _dry_run(sweep, args.results)
            return 0
        from .sweep import run_sweep

        store = _store(args.results)
        counts = run_sweep(
            sweep, store, executor=args.executor, address=args.address,
            cpus_per_trial=args.cpus_per_trial,
        )  # fmt: skip
        print(f"{sweep.name}: ran {counts['ran']}, skipped {counts['skipped']} already "
              f"finished or running elsewhere, failed {counts['failed']}")  # fmt: skip
        _report(sweep, store, args.results, not args.no_plots)
        return 1 if counts["failed"] else 0
    except (sweep_config.ConfigError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
