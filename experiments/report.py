"""Reports of a sweep: a ranked table (markdown and CSV) and PNG plots."""

import csv
import io
import pathlib
import statistics
from collections import defaultdict

from jaxnets.tasks import TASKS

from .config import GRID_DEFAULTS, Sweep, trials


def summarize(sweep: Sweep, store) -> list:
    """One row per (task, configuration): mean and std of the final metric over the
    seeds finished so far, ranked within each task (best first)."""
    expected = trials(sweep)
    finished = {row["key"]: row for row in store.finished([t.key for t in expected])}
    groups = defaultdict(list)
    for trial in expected:
        groups[(trial.task, trial.config_hash)].append(trial)
    rows = []
    for (task, _), group in groups.items():
        done = [finished[t.key] for t in group if t.key in finished]
        metrics = [r["final_metric"] for r in done]
        rows.append({
            "task": task, "metric": TASKS[task].metric_name, **group[0].point,
            "params": done[0]["params"] if done else None,
            "seeds": f"{len(done)}/{len(group)}",
            "mean": statistics.fmean(metrics) if metrics else None,
            "std": statistics.stdev(metrics) if len(metrics) > 1 else 0.0 if metrics else None,
            "wall_s": statistics.fmean(r["wall_s"] for r in done) if done else None,
            "compile_s": statistics.fmean(r["compile_s"] for r in done) if done else None,
            "seed_metrics": metrics,
            "curves": [[e[1] for e in r["epochs"]] for r in done],
        })  # fmt: skip
    order = list(sweep.tasks)

    def rank(row):
        sign = 1 if TASKS[row["task"]].mode == "min" else -1
        value = row["mean"] if row["mean"] is not None else float("inf") * sign
        return order.index(row["task"]), sign * value

    return sorted(rows, key=rank)


def _varying(sweep: Sweep) -> list:
    """The grid keys whose values differ between points (always the cell)."""
    keys = [k for k in GRID_DEFAULTS if len({p[k] for p in sweep.points}) > 1]
    return ["cell"] + [k for k in keys if k != "cell"]


def markdown(sweep: Sweep, rows: list) -> str:
    """The ranked table: one block per task, mean +- std over seeds."""
    keys = _varying(sweep)
    lines = []
    for task in sweep.tasks:
        task_rows = [r for r in rows if r["task"] == task]
        metric = TASKS[task].metric_name
        better = "lower" if TASKS[task].mode == "min" else "higher"
        lines += [
            f"{task} ({metric}, {better} is better)", "",
            f"| rank | {' | '.join(keys)} | params | seeds | {metric} mean +- std "
            "| train s (seeds together) |",
            "|---" * (len(keys) + 5) + "|",
        ]  # fmt: skip
        for i, r in enumerate(task_rows, 1):
            value = "-" if r["mean"] is None else f"{r['mean']:.4f} +- {r['std']:.4f}"
            wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.1f}"
            cells = " | ".join(str(r[k]) for k in keys)
            lines.append(
                f"| {i} | {cells} | {r['params'] or '-'} | {r['seeds']} | {value} | {wall} |"
            )
        lines.append("")
    return "\n".join(lines)


def to_csv(rows: list) -> str:
    buffer = io.StringIO()
    fields = [k for k in rows[0] if k not in ("curves", "seed_metrics")] if rows else []
    writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plot(sweep: Sweep, rows: list, directory) -> list:
    """Learning curves (validation metric per epoch, mean over seeds) per task, and the
    final test metric per cell with every seed shown. Returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = pathlib.Path(directory)
    keys = _varying(sweep)
    paths = []
    for task in sweep.tasks:
        task_rows = [r for r in rows if r["task"] == task and r["curves"]]
        if not task_rows:
            continue
        metric = TASKS[task].metric_name
        fig, (curves, finals) = plt.subplots(1, 2, figsize=(11, 4))
        for i, r in enumerate(task_rows):
            epochs = len(r["curves"][0])
            mean = [statistics.fmean(c[e] for c in r["curves"]) for e in range(epochs)]
            style = ("-", "--", ":")[i // 10 % 3]  # the palette has 10 colours
            label = " ".join(str(r[k]) for k in keys)
            curves.plot(range(1, epochs + 1), mean, style, color=f"C{i % 10}", label=label)
        curves.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"{task}: learning curves")
        if TASKS[task].mode == "min":
            curves.set_yscale("log")
        curves.legend(fontsize=7)
        labels = [" ".join(str(r[k]) for k in keys) for r in task_rows]
        for i, r in enumerate(task_rows):
            finals.scatter([i] * len(r["seed_metrics"]), r["seed_metrics"], color="gray", s=12)
            finals.errorbar(i, r["mean"], yerr=r["std"], fmt="o", color="C0", capsize=4)
        finals.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        finals.set(ylabel=f"test {metric}", title=f"{task}: final {metric} (mean +- std, seeds)")
        fig.tight_layout()
        path = directory / f"{task}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(sweep: Sweep, store, directory, *, plots: bool = True) -> tuple:
    """Write ``results.md``, ``results.csv`` and the plots to ``directory``; return
    ``(markdown, paths)``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = summarize(sweep, store)
    text = markdown(sweep, rows)
    (directory / "results.md").write_text(text)
    (directory / "results.csv").write_text(to_csv(rows))
    paths = [directory / "results.md", directory / "results.csv"]
    if plots:
        paths += plot(sweep, rows, directory)
    return text, paths
