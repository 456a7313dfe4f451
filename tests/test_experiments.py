"""Sweeps: configs, the results store, killed and concurrent runs, reports, Ray."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from experiments import config
from experiments.cli import main
from experiments.report import summarize
from experiments.store import Store, StoreError
from experiments.sweep import run_sweep

TINY = {
    "name": "tiny",
    "tasks": {"mnist1d": {"num_samples": 300}},
    "grid": {"cell": ["elman", "gru"], "hidden_size": [8], "learning_rate": [0.01]},
    "seeds": [0, 1],
    "budget": {"epochs": 2, "batch_size": 32},
}


def _write(tmp_path, raw, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _finished(results):
    db = sqlite3.connect(results / "results.sqlite")
    rows = db.execute(
        "SELECT key, final_metric, updated FROM trials WHERE status='finished'"
    ).fetchall()
    epochs = db.execute("SELECT count(*) FROM epochs").fetchone()[0]
    db.close()
    return {key: (metric, updated) for key, metric, updated in rows}, epochs


def test_the_default_config_round_trips_through_yaml(tmp_path):
    sweep = config.load()
    again = config.load(_write(tmp_path, sweep.raw))
    assert [t.key for t in config.trials(again)] == [t.key for t in config.trials(sweep)]
    assert again._replace(raw=None) == sweep._replace(raw=None)
    assert set(sweep.tasks) == {"mnist1d", "adding"}
    assert {p["cell"] for p in sweep.points} == set(config.CELLS)
    assert len(config.trials(sweep)) == len(sweep.points) * 2 * len(sweep.seeds)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs_total": 3}, "unknown key 'epochs_total'"),
        ({"grid": {"cell": ["gru", "transformer"]}}, r"`grid.cell` values must be one of"),
        ({"grid": {"hidden": [8]}}, "unknown key 'hidden' in `grid`"),
        ({"grid": {"learning_rate": [-1.0]}}, "`grid.learning_rate`"),
        ({"tasks": {"imagenet": {}}}, "unknown task 'imagenet'"),
        ({"tasks": {"mnist1d": {"size": 3}}}, r"unknown key 'size' in `tasks.mnist1d`"),
        ({"seeds": [0, 0]}, "`seeds` must not repeat"),
        ({"budget": {"epochs": 0}}, "`budget.epochs` must be a positive int"),
        ({"grid": {"cell": ["clockwork"], "hidden_size": [10]}}, "multiple of 4"),
        ({"random": {"samples": 0}}, "`random.samples`"),
    ],
)
def test_a_bad_config_is_rejected_before_anything_runs(tmp_path, change, message):
    path = _write(tmp_path, {**TINY, **change})
    with pytest.raises(config.ConfigError, match=message):
        config.load(path)
    # The CLI says so and exits 2 without creating a store.
    assert main(["run", str(path), "--results", str(tmp_path / "results")]) == 2
    assert not (tmp_path / "results").exists()


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("grid: [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(tmp_path / "bad.yaml")
    (tmp_path / "code.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(tmp_path / "code.yaml")  # safe_load runs nothing


def test_random_search_samples_points_of_the_grid():
    raw = {**TINY, "grid": {"cell": ["gru", "lstm", "mgu"], "hidden_size": [8, 16]}}
    sweep = config.validate({**raw, "random": {"samples": 3, "seed": 1}})
    full = config.validate(raw)
    assert len(sweep.points) == 3 and all(p in full.points for p in sweep.points)


def test_a_tiny_sweep_runs_end_to_end_and_reports(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "ran 4, skipped 0" in out
    store = Store(results / "results.sqlite")
    rows = summarize(config.load(path), store)
    assert sorted(r["cell"] for r in rows) == ["elman", "gru"]
    assert all(r["seeds"] == "2/2" for r in rows)
    assert all(len(r["curves"]) == 2 and len(r["curves"][0]) == 2 for r in rows)
    for name in ("results.md", "results.csv", "mnist1d.png"):
        assert (results / "tiny" / name).stat().st_size > 0
    csv_lines = (results / "tiny" / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 2  # a header and one row per configuration
    # Ranked: the markdown rows follow the mean accuracy, best first.
    means = [r["mean"] for r in rows]
    assert means == sorted(means, reverse=True)
    # A second run finds everything finished and trains nothing.
    assert main(["run", str(path), "--results", str(results)]) == 0
    assert "ran 0, skipped 4" in capsys.readouterr().out
    assert main(["list", "--results", str(results)]) == 0
    assert "tiny: 4/4 trials finished" in capsys.readouterr().out
    assert main(["report", "tiny", "--results", str(results), "--no-plots"]) == 0
    assert "| 1 | " in capsys.readouterr().out


def test_dry_run_lists_the_trials_and_runs_nothing(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    assert main(["run", str(path), "--dry-run", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "4 trials" in out and out.count("pending") == 4
    assert not (tmp_path / "r").exists()


SLOW = {**TINY, "name": "slow", "grid": {**TINY["grid"], "cell": ["elman", "gru", "mgu", "lstm"]},
        "budget": {"epochs": 3, "batch_size": 16}}  # fmt: skip


def _sweep_process(path, results):
    return subprocess.Popen(
        [sys.executable, "-m", "experiments", "run", str(path), "--results", str(results),
         "--no-plots"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_a_killed_sweep_resumes_without_rerunning_or_duplicating(tmp_path):
    path = _write(tmp_path, SLOW)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    process = _sweep_process(path, killed)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (killed / "results.sqlite").exists() and len(_finished(killed)[0]) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before, _ = _finished(killed)
    assert 2 <= len(before) < 8, "the sweep should be killed part-way"
    assert main(["run", str(path), "--results", str(killed), "--no-plots"]) == 0
    after, epoch_rows = _finished(killed)
    assert len(after) == 8 and epoch_rows == 8 * 3  # nothing duplicated
    for key, (metric, updated) in before.items():
        assert after[key] == (metric, updated)  # finished trials were not run again
    assert main(["run", str(path), "--results", str(clean), "--no-plots"]) == 0
    uninterrupted, _ = _finished(clean)
    assert sorted(uninterrupted) == sorted(after)
    for key in after:
        np.testing.assert_allclose(after[key][0], uninterrupted[key][0], rtol=1e-4, atol=1e-6)
    db = sqlite3.connect(killed / "results.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_processes_share_a_store_without_corrupting_it(tmp_path):
    path = _write(tmp_path, SLOW)
    results = tmp_path / "shared"
    processes = [_sweep_process(path, results) for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=600) == 0, process.stderr.read().decode()
    db = sqlite3.connect(results / "results.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*), count(DISTINCT key) FROM trials").fetchone() == (8, 8)
    assert db.execute("SELECT count(*) FROM trials WHERE status='finished'").fetchone() == (8,)
    assert db.execute("SELECT count(*) FROM epochs").fetchone() == (24,)


def test_the_ray_executor_stores_what_the_local_one_does(tmp_path):
    import ray

    sweep = config.validate(TINY)
    local, remote = Store(tmp_path / "local.sqlite"), Store(tmp_path / "ray.sqlite")
    assert run_sweep(sweep, local, progress=False) == {"ran": 4, "skipped": 0, "failed": 0}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        counts = run_sweep(sweep, remote, executor="ray", progress=False)
    finally:
        ray.shutdown()
    assert counts == {"ran": 4, "skipped": 0, "failed": 0}
    keys = [t.key for t in config.trials(sweep)]
    a = {r["key"]: r for r in local.finished(keys)}
    b = {r["key"]: r for r in remote.finished(keys)}
    assert sorted(a) == sorted(b) == sorted(keys)
    for key in keys:
        np.testing.assert_allclose(a[key]["final_metric"], b[key]["final_metric"], rtol=1e-5)
        np.testing.assert_allclose(a[key]["epochs"], b[key]["epochs"], rtol=1e-5)


def test_a_file_that_is_not_a_results_store_is_refused(tmp_path, capsys):
    text = tmp_path / "notes.sqlite"
    text.write_text("shopping list\n" * 100)
    with pytest.raises(StoreError, match="not a jaxnets results store"):
        Store(text)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="other tables"):
        Store(other)
    assert sqlite3.connect(other).execute("SELECT count(*) FROM invoices").fetchone() == (0,)
    (tmp_path / "r").mkdir()
    os.replace(text, tmp_path / "r" / "results.sqlite")
    assert main(["list", "--results", str(tmp_path / "r")]) == 2
    assert "not a jaxnets results store" in capsys.readouterr().err


def test_a_results_directory_on_a_read_only_path_is_an_error(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    assert main(["run", str(path), "--results", "/proc/jaxnets-results"]) == 2
    assert "cannot create its directory" in capsys.readouterr().err


def test_report_of_an_unknown_run(tmp_path, capsys):
    Store(tmp_path / "results.sqlite").close()
    assert main(["report", "nope", "--results", str(tmp_path)]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err
