"""Reports of a sweep from its store alone: a ranked table (markdown and CSV), learning
curves, the metric against each swept hyperparameter, and the best configuration as a
runnable YAML; every file written atomically."""

import csv
import io
import math
import pathlib
import statistics
from collections import defaultdict

from jaxnets.train import atomic_write

from ._targets import references

TARGETS = ("cell", "model")


def summarize(store, run: str) -> list:
    """One row per (task, configuration): the seeds done so far, mean and std of the
    validation and test metrics, timings; ranked within each task by the mean
    validation metric (the test split plays no part in choosing), best first."""
    config, metrics = store.run_config(run)
    groups = defaultdict(list)
    for row in store.rows(run):
        groups[(row["task"], row["config_hash"])].append(row)
    rows = []
    for (task, _), group in groups.items():
        done = [r for r in group if r["status"] in ("finished", "pruned")]
        tests = [r["final_metric"] for r in done if r["final_metric"] is not None]
        vals = [r["val_metric"] for r in done if r["val_metric"] is not None]
        status = sorted({r["status"] for r in group})
        rows.append({
            "task": task, "metric": metrics[task]["name"], **group[0]["config"]["point"],
            "point_keys": list(group[0]["config"]["point"]),
            "status": "/".join(status), "seeds": f"{len(done)}/{len(group)}",
            "params": done[0]["params"] if done else None,
            "val_mean": _mean(vals), "test_mean": _mean(tests),
            "test_std": statistics.stdev(tests) if len(tests) > 1 else 0.0 if tests else None,
            "compile_s": _mean([r["compile_s"] for r in done if r["compile_s"] is not None]),
            "step_ms": _mean([r["step_ms"] for r in done if r["step_ms"] is not None]),
            "wall_s": _mean([r["wall_s"] for r in done]),
            "device": group[0]["config"]["platform"],
            "seed_metrics": tests,
            "curves": [[e[1] for e in r["epochs"]] for r in done],
        })  # fmt: skip
    order = list(config["tasks"])

    def rank(row):
        sign = 1 if metrics[row["task"]]["mode"] == "min" else -1
        value = row["val_mean"] if row["val_mean"] is not None else math.inf * sign
        return order.index(row["task"]), row["status"] != "finished", sign * value

    return sorted(rows, key=rank)


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def varying(rows: list) -> list:
    """The swept keys whose values differ between rows, the target first (shown also
    when nothing else varies)."""
    keys = []
    for row in rows:
        keys += [k for k in row["point_keys"] if k not in keys]
    found = [k for k in keys if len({repr(r.get(k)) for r in rows}) > 1]
    targets = [k for k in keys if k in TARGETS and (k in found or not found)]
    return targets + [k for k in found if k not in TARGETS]


def _fmt(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def markdown(store, run: str, rows: list) -> str:
    """The ranked table, one block per task."""
    _, metrics = store.run_config(run)
    lines = []
    for task in dict.fromkeys(r["task"] for r in rows):
        task_rows = [r for r in rows if r["task"] == task]
        keys = varying(task_rows)
        name, mode = metrics[task]["name"], metrics[task]["mode"]
        done = sum(r["seeds"].split("/")[0] == r["seeds"].split("/")[1] for r in task_rows)
        lines += [
            f"{task} ({name}, {'lower' if mode == 'min' else 'higher'} is better; ranked by "
            f"validation; {done} of {len(task_rows)} configurations complete)", "",
            f"| rank | {' | '.join(keys)} | status | params | seeds | val {name} | test {name} "
            "mean +- std | compile s | step ms | train s |",
            "|---" * (len(keys) + 9) + "|",
        ]  # fmt: skip
        for i, r in enumerate(task_rows, 1):
            test = "-" if r["test_mean"] is None else f"{r['test_mean']:.4f} +- {r['test_std']:.4f}"
            val = "-" if r["val_mean"] is None else f"{r['val_mean']:.4f}"
            cells = " | ".join("none" if r.get(k) is None else _fmt(r.get(k)) for k in keys)
            lines.append(
                f"| {i} | {cells} | {r['status']} | {r['params'] or '-'} | {r['seeds']} | {val} "
                f"| {test} | {_fmt(r['compile_s'], 2)} | {_fmt(r['step_ms'], 3)} "
                f"| {_fmt(r['wall_s'], 3)} |"
            )
        lines.append("")
    return "\n".join(lines)


def to_csv(rows: list) -> str:
    buffer = io.StringIO()
    skip = ("curves", "seed_metrics", "point_keys")
    fields = list(dict.fromkeys(k for r in rows for k in r if k not in skip))
    writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def best_config(store, run: str, rows: list, task: str) -> str | None:
    """The best configuration on ``task`` as a sweep YAML with fixed values (None when
    a target is a Python object, which a file cannot name)."""
    import yaml

    config, _ = store.run_config(run)
    best = next((r for r in rows if r["task"] == task and r["status"] == "finished"), None)
    if best is None:
        return None
    point = {k: best[k] for k in best["point_keys"] if k in best}
    refs = [task, *references(point)]
    if any("<" in str(r) for r in refs):
        return None
    out = {
        "name": f"{run}-best", "tasks": {task: config["tasks"][task]},
        "space": {k: [v] if isinstance(v, list) else v for k, v in point.items()},
        "seeds": config["seeds"], "budget": config["budget"],
    }  # fmt: skip
    if config.get("early_stopping"):
        out["early_stopping"] = config["early_stopping"]
    header = (
        f"# The best configuration of run {run!r} on {task} (validation {best['val_mean']:.4g}).\n"
    )
    return header + yaml.safe_dump(out, sort_keys=False)


def plot(store, run: str, rows: list) -> dict:
    """PNG bytes by file name: per task, the learning curves (mean validation metric
    per epoch) beside the final test metric of every seed, and the mean validation
    metric against each swept hyperparameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, metrics = store.run_config(run)
    files = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        task_rows = [r for r in rows if r["task"] == task and r["curves"]]
        if not task_rows:
            continue
        keys, name = varying(task_rows), metrics[task]["name"]
        fig, (curves, finals) = plt.subplots(1, 2, figsize=(11, 4))
        for i, r in enumerate(task_rows[:30]):
            length = min(len(c) for c in r["curves"])
            mean = [_mean([c[e] for c in r["curves"]]) for e in range(length)]
            label = " ".join(_fmt(r.get(k), 3) for k in keys)
            style = ("-", "--", ":")[i // 10 % 3]  # the palette has 10 colours
            curves.plot(range(1, length + 1), mean, style, color=f"C{i % 10}", label=label)
        curves.set(xlabel="epoch", ylabel=f"validation {name}", title=f"{task}: learning curves")
        if metrics[task]["mode"] == "min":
            curves.set_yscale("log")
        curves.legend(fontsize=6)
        shown = [r for r in task_rows if r["seed_metrics"]][:30]
        for i, r in enumerate(shown):
            finals.scatter([i] * len(r["seed_metrics"]), r["seed_metrics"], color="gray", s=12)
            finals.errorbar(i, r["test_mean"], yerr=r["test_std"], fmt="o", color="C0", capsize=4)
        labels = [" ".join(_fmt(r.get(k), 3) for k in keys) for r in shown]
        finals.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        finals.set(ylabel=f"test {name}", title=f"{task}: final {name} (mean +- std, seeds)")
        fig.tight_layout()
        files[f"{task}.png"] = _png(fig, plt)
        swept = keys or [k for k in TARGETS if k in task_rows[0]]
        fig, axes = plt.subplots(1, len(swept), figsize=(3.6 * len(swept), 3.4), squeeze=False)
        for ax, key in zip(axes[0], swept):
            pairs = [(r.get(key), r["val_mean"]) for r in task_rows if r["val_mean"] is not None]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v, _ in pairs)
            if numeric:
                ax.scatter([v for v, _ in pairs], [m for _, m in pairs], s=18)
                values = [v for v, _ in pairs]
                if min(values) > 0 and max(values) / min(values) >= 20:
                    ax.set_xscale("log")
            else:
                labels = list(dict.fromkeys(str(v) for v, _ in pairs))
                ax.scatter([labels.index(str(v)) for v, _ in pairs], [m for _, m in pairs], s=18)
                ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
            ax.set(xlabel=key, ylabel=f"validation {name}")
        fig.suptitle(f"{task}: validation {name} against each swept hyperparameter")
        fig.tight_layout()
        files[f"{task}-hyperparameters.png"] = _png(fig, plt)
    return files


def _png(fig, plt) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def write_report(store, run: str, directory, *, plots: bool = True) -> tuple:
    """Write ``results.md``, ``results.csv``, ``best-TASK.yaml`` and (``plots``) the
    PNGs to ``directory``, each atomically (a reader sees the old file or the new one);
    return ``(markdown, paths)``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = summarize(store, run)
    text = markdown(store, run, rows)
    files = {"results.md": text.encode(), "results.csv": to_csv(rows).encode()}
    for task in dict.fromkeys(r["task"] for r in rows):
        best = best_config(store, run, rows, task)
        if best is not None:
            files[f"best-{task.replace(':', '-').replace('/', '-')}.yaml"] = best.encode()
    if plots:
        files.update(plot(store, run, rows))
    paths = []
    for name, data in files.items():
        atomic_write(directory / name, data, shared=True)  # several processes may report
        paths.append(directory / name)
    return text, paths
