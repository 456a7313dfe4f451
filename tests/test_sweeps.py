"""Sweeps: configs checked before anything runs, targets by name, path or object, the
results store under several processes, killed and resumed runs, reports, Ray."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import yaml

from jaxnets.cells import CELLS
from jaxnets.experiments import ConfigError, Store, StoreError, load, run_sweep, summarize, validate
from jaxnets.experiments import sweep as sweep_api
from jaxnets.experiments._cli import main
from jaxnets.train import load_checkpoint

TINY = {
    "name": "tiny",
    "tasks": {"mnist1d": {"num_samples": 300}},
    "space": {"cell": ["elman", "gru"], "cell.hidden_size": 8, "optimizer.learning_rate": 0.01},
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


def _cli(*args, cwd=None, env=None):
    """The installed console script, as a user runs it."""
    return subprocess.Popen(
        ["jaxnets", *map(str, args)], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_the_default_config_sweeps_every_registered_cell(tmp_path):
    sweep = load()
    assert {p["cell"] for p in sweep.points} == set(CELLS)  # one registry
    assert set(sweep.tasks) == {"mnist1d", "adding"}
    again = load(_write(tmp_path, sweep.raw))
    assert again.points == sweep.points and again.raw == sweep.raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs_total": 3}, r"unknown key 'epochs_total'; accepted: \['name'"),
        ({"space": {**TINY["space"], "cell": ["gru", "transformer"]}},
         r"unknown cell 'transformer'; built-in: \['clockwork'"),
        ({"space": {**TINY["space"], "cell": ["gru"], "cell.forget_bias": 2.0}},
         r"cell 'gru' does not take `forget_bias`; accepted: \['cell.dtype', 'cell.hidden_size'"),
        ({"space": {**TINY["space"], "model.depth": 2}},
         r"does not take `depth`; accepted: \['model.bidirectional'"),
        ({"space": {**TINY["space"], "hidden": [8]}}, "unknown key 'hidden' in `space`"),
        ({"space": {**TINY["space"], "fit.epochz": 1}},
         r"does not take `epochz`; accepted: \['fit.augment', 'fit.compute_dtype', 'fit.l1'"),
        ({"space": {**TINY["space"], "optimizer": "adamax"}}, r"values must be one of \['sgd'"),
        ({"space": {**TINY["space"], "schedule": "warmup_cosine"}},
         "schedule 'warmup_cosine' needs `schedule.warmup_steps`"),
        ({"space": {**TINY["space"], "optimizer.learning_rate": {"uniform": [1, 0]}}},
         "low < high"),
        ({"space": {**TINY["space"], "optimizer.learning_rate": {"gauss": [0, 1]}}},
         "must be one distribution"),
        ({"space": {**TINY["space"], "optimizer.learning_rate": {"loguniform": [0, 1]}}},
         "needs 0 < low"),
        ({"space": {**TINY["space"], "optimizer.learning_rate": {"uniform": [0.1, 1]}}},
         "a distribution needs `search: {method: random}`"),
        ({"space": {**TINY["space"], "cell": ["clockwork"], "cell.hidden_size": 10}},
         "cell 'clockwork' refused .*hidden_size"),
        ({"space": {**TINY["space"], "optimizer.learning_rate": -1.0}}, "learning_rate"),
        ({"space": {"cell.hidden_size": 8}}, "exactly one of `cell`"),
        ({"tasks": {"imagenet": {}}}, r"unknown task 'imagenet'; built-in: \['adding'"),
        ({"tasks": {"mnist1d": {"size": 3}}}, r"unknown key 'size' in `tasks.mnist1d`; "
                                              r"accepted: \['num_samples'\]"),
        ({"seeds": [0, 0]}, "`seeds` must not repeat"),
        ({"budget": {"epochs": 0}}, "`budget.epochs` must be a positive int"),
        ({"budget": {"batch_size": 1000}},
         r"`budget.batch_size` 1000 is larger than the 216 training rows of task 'mnist1d'"),
        ({"search": {"method": "random", "seed": [1]}}, "`search.seed` must be an int >= 0"),
        ({"search": {"method": "random"}}, "`search` needs `samples`"),
        ({"search": "bayes"}, "`search` must be 'grid' or a mapping"),
        ({"pruner": {"method": "asha"}}, "`pruner.method` must be 'median'"),
        ({"random": {"seed": [1]}}, "unknown key 'random'"),
    ],
)  # fmt: skip
def test_a_bad_config_is_rejected_before_anything_runs(tmp_path, capsys, change, message):
    path = _write(tmp_path, {**TINY, **change})
    with pytest.raises(ConfigError, match=message):
        load(path)
    # The command says so and exits 2 without creating a store.
    assert main(["sweep", str(path), "--results", str(tmp_path / "results")]) == 2
    assert message.split("`")[0][:10].replace("\\", "") in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_duplicate_yaml_keys_are_an_error(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(TINY, sort_keys=False) + "seeds: [5]\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'seeds' at line \d+ \(first at line"):
        load(path)
    nested = "name: x\ntasks:\n  mnist1d: {num_samples: 300, num_samples: 400}\n"
    (tmp_path / "nested.yaml").write_text(nested)
    with pytest.raises(ConfigError, match="duplicate key 'num_samples'"):
        load(tmp_path / "nested.yaml")
    assert main(["sweep", str(path), "--results", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("space: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path / "bad.yaml")
    (tmp_path / "code.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path / "code.yaml")  # a safe loader runs nothing


def test_import_paths_that_do_not_import_or_name_the_wrong_kind(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('half-written module')\n")
    cases = [
        ({"space": {**TINY["space"], "cell": "no_such_pkg.cells:mine"}},
         r"'no_such_pkg.cells:mine' does not import: ModuleNotFoundError"),
        ({"space": {**TINY["space"], "cell": "broken_mod:cell"}},
         "does not import: RuntimeError: half-written module"),
        ({"space": {**TINY["space"], "cell": "jaxnets.cells:no_cell"}},
         "jaxnets.cells has no attribute 'no_cell'"),
        ({"space": {**TINY["space"], "cell": "math:pi"}}, "'math:pi' is a float, not a callable"),
        ({"space": {"cell": "jaxnets.layers:dense", "cell.features": 8}},
         "cell 'jaxnets.layers:dense' returned a Layer, not a Cell"),
        ({"tasks": {"jaxnets.cells:gru": {}}},
         "'jaxnets.cells:gru' is a function, not a task: it has no data, loss, metric, mode"),
        ({"space": {**TINY["space"], "cell": str(tmp_path / "nofile.py") + ":cell"}},
         "does not import: ImportError: no file"),
    ]  # fmt: skip
    for change, message in cases:
        with pytest.raises(ConfigError, match=message):
            validate({**TINY, **change})


def test_a_tiny_sweep_runs_end_to_end_and_reports(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    results = tmp_path / "results"
    assert main(["sweep", str(path), "--results", str(results)]) == 0
    assert "ran 4, pruned 0, failed 0, skipped 0" in capsys.readouterr().out
    store = Store(results / "results.sqlite")
    rows = summarize(store, "tiny")
    assert sorted(r["cell"] for r in rows) == ["elman", "gru"]
    assert all(r["seeds"] == "2/2" and len(r["curves"]) == 2 for r in rows)
    assert all(r["compile_s"] > 0 and r["step_ms"] > 0 for r in rows)
    files = ("results.md", "results.csv", "mnist1d.png", "mnist1d-hyperparameters.png",
             "best-mnist1d.yaml")  # fmt: skip
    for name in files:
        assert (results / "tiny" / name).stat().st_size > 0
    assert not [p for p in (results / "tiny").iterdir() if p.name.endswith(".tmp")]
    vals = [r["val_mean"] for r in rows]
    assert vals == sorted(vals, reverse=True)  # ranked by validation accuracy
    # The best configuration, written out, is a sweep of the same (done) trials.
    best = load(results / "tiny" / "best-mnist1d.yaml")
    assert best.points == ({"cell": rows[0]["cell"], "cell.hidden_size": 8,
                            "optimizer.learning_rate": 0.01},)  # fmt: skip
    assert main(["sweep", str(results / "tiny" / "best-mnist1d.yaml"), "--results",
                 str(results)]) == 0  # fmt: skip
    assert "ran 0, pruned 0, failed 0, skipped 2" in capsys.readouterr().out
    # A second run finds everything done, trains nothing and leaves the report alone.
    report = results / "tiny" / "results.md"
    report.write_text("kept")
    assert main(["sweep", str(path), "--results", str(results)]) == 0
    assert "ran 0, pruned 0, failed 0, skipped 4" in capsys.readouterr().out
    assert report.read_text() == "kept"
    assert main(["list", "--results", str(results)]) == 0
    assert "tiny: 4/4 trials finished, 0 pruned" in capsys.readouterr().out
    assert main(["report", "tiny", "--results", str(results), "--no-plots"]) == 0
    assert "| 1 | " in capsys.readouterr().out and report.read_text() != "kept"
    # --force runs done trials again.
    assert main(["sweep", str(path), "--results", str(results), "--force", "--no-plots"]) == 0
    assert "ran 4, pruned 0, failed 0, skipped 0" in capsys.readouterr().out
    # The same run name with another space: the run forgets its old configurations
    # (the store keeps their trials, found done by any sweep asking for them again).
    narrower = _write(tmp_path, {**TINY, "space": {**TINY["space"], "cell": ["gru"]}})
    assert main(["sweep", str(narrower), "--results", str(results), "--no-plots"]) == 0
    assert "ran 0, pruned 0, failed 0, skipped 2" in capsys.readouterr().out
    assert [r["cell"] for r in summarize(store, "tiny")] == ["gru"]


def test_dry_run_lists_the_trials_and_runs_nothing(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    assert main(["sweep", str(path), "--dry-run", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "4 trials" in out and out.count("pending") == 4
    assert not (tmp_path / "r").exists()


def test_random_search_draws_from_the_distributions_by_seed():
    space = {
        "cell": "gru", "cell.hidden_size": {"int": [4, 12]},
        "optimizer.learning_rate": {"loguniform": [1e-4, 1e-1]},
        "model.drop_rate": {"uniform": [0.0, 0.5]}, "optimizer": {"choice": ["adam", "sgd"]},
    }  # fmt: skip
    raw = {**TINY, "space": space, "search": {"method": "random", "samples": 6, "seed": 3}}
    a, b = validate(raw, check_data=False), validate(raw, check_data=False)
    assert a.points == b.points and len(a.points) == 6
    for p in a.points:
        assert 4 <= p["cell.hidden_size"] <= 12 and isinstance(p["cell.hidden_size"], int)
        assert 1e-4 <= p["optimizer.learning_rate"] <= 1e-1
        assert 0 <= p["model.drop_rate"] <= 0.5 and p["optimizer"] in ("adam", "sgd")
    other = validate({**raw, "search": {**raw["search"], "seed": 4}}, check_data=False)
    assert other.points != a.points
    # Lists only: distinct points of the grid.
    grid_raw = {**TINY, "space": {**TINY["space"], "cell.hidden_size": [4, 8, 16]},
                "search": {"method": "random", "samples": 4, "seed": 0}}  # fmt: skip
    points = validate(grid_raw, check_data=False).points
    assert len(points) == 4 and len({json.dumps(p, sort_keys=True) for p in points}) == 4


USER_MODULE = """
import jax, jax.numpy as jnp
import numpy as np
from jaxnets.core import Cell
from jaxnets.tasks import Task, rnn_classifier
from jaxnets.train import mse


def leaky(hidden_size, *, leak=0.5):
    def init(key, input_size):
        k1, k2 = jax.random.split(key)
        return {"w_x": 0.3 * jax.random.normal(k1, (input_size, hidden_size)),
                "w_h": 0.3 * jax.random.normal(k2, (hidden_size, hidden_size)),
                "b": jnp.zeros(hidden_size)}

    def initial_carry(params, batch_shape):
        return jnp.zeros((*batch_shape, hidden_size))

    def step(params, h, x):
        z = x @ params["w_x"] + h @ params["w_h"] + params["b"][None]
        h = (1 - leak) * h + leak * jnp.tanh(z)
        return h, h

    return Cell(init, initial_carry, step)


def data(*, seed=0, n=240, length=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 60, length, 2)).astype(np.float32)
    y = x[:, :, :1].sum(1) / length
    return {"x": x[:n], "y": y[:n], "x_test": x[n:], "y_test": y[n:]}


class Summing:  # not a jaxnets Task: any object with data, loss, metric and mode
    data = staticmethod(data)
    loss = staticmethod(mse)
    metric = staticmethod(mse)
    mode = "min"
    metric_name = "mse"

    @staticmethod
    def model(cell, **options):
        return rnn_classifier(cell, 1, **options)


summing = Summing()
"""


def test_a_user_cell_and_task_sweep_by_import_path_and_as_objects(tmp_path, monkeypatch):
    module = tmp_path / "mylab" / "recurrent.py"
    module.parent.mkdir()
    module.write_text(textwrap.dedent(USER_MODULE))
    config = {
        "name": "mine", "tasks": {"mylab.recurrent:summing": {"n": 240}},
        "space": {"cell": "mylab.recurrent:leaky", "cell.hidden_size": 6,
                  "cell.leak": [0.3, 0.9], "model.unroll": [1, 3],
                  "schedule": "cosine", "optimizer.learning_rate": 0.01, "fit.l2": 1e-4},
        "seeds": [0, 1], "budget": {"epochs": 3, "batch_size": 40},
    }  # fmt: skip
    path = _write(tmp_path, config)
    # The command resolves import paths from where it runs, as python -m does.
    process = _cli("sweep", path, "--results", tmp_path / "r", "--no-plots", cwd=tmp_path)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "ran 8, pruned 0, failed 0" in out
    store = Store(tmp_path / "r" / "results.sqlite")
    rows = summarize(store, "mine")
    assert len(rows) == 4 and all(r["seeds"] == "2/2" for r in rows)
    # unroll changes the program, not the numbers.
    by = {(r["cell.leak"], r["model.unroll"]): r["test_mean"] for r in rows}
    for leak in (0.3, 0.9):
        np.testing.assert_allclose(by[(leak, 1)], by[(leak, 3)], rtol=1e-4)
    assert by[(0.3, 1)] != by[(0.9, 1)]
    # The same from Python, with the objects themselves.
    monkeypatch.syspath_prepend(str(tmp_path))
    from mylab import recurrent

    space = {k: v for k, v in config["space"].items() if k != "cell"}
    outcome = sweep_api(
        task=recurrent.summing, cell=recurrent.leaky, space=space, seeds=[0, 1],
        task_options={"n": 240}, budget={"epochs": 3, "batch_size": 40},
        store=tmp_path / "py", name="mine", progress=False, log=lambda *a: None,
    )  # fmt: skip
    assert outcome.ran == 8 and outcome.failed == 0 and outcome.unfinished == 0
    mine = {(r["cell.leak"], r["model.unroll"]): r["test_mean"]
            for r in summarize(Store(tmp_path / "py" / "results.sqlite"), "mine")}  # fmt: skip
    for key, value in by.items():
        np.testing.assert_allclose(mine[key], value, rtol=1e-6)


def test_an_edited_cell_is_a_new_trial(tmp_path, monkeypatch):
    from jaxnets.experiments._config import trials

    module = tmp_path / "editable.py"
    module.write_text(textwrap.dedent(USER_MODULE))
    raw = {**TINY, "tasks": {f"{module}:summing": {}},
           "space": {"cell": f"{module}:leaky", "cell.hidden_size": 4}}  # fmt: skip
    before = trials(validate(raw, check_data=False), [{"cell": f"{module}:leaky"}], "p")
    module.write_text(textwrap.dedent(USER_MODULE).replace("0.3 *", "0.2 *"))
    for name in [n for n in sys.modules if n.startswith("jaxnets_user_")]:
        monkeypatch.delitem(sys.modules, name)
    after = trials(validate(raw, check_data=False), [{"cell": f"{module}:leaky"}], "p")
    elsewhere = trials(validate(raw, check_data=False), [{"cell": f"{module}:leaky"}], "q")
    assert {t.key for t in before}.isdisjoint(t.key for t in after)
    assert {t.key for t in after}.isdisjoint(t.key for t in elsewhere)  # another platform


def test_feed_forward_models_sweep_on_images(tmp_path, capsys):
    config = {
        "name": "images", "tasks": {"digits": {"size": 8}},
        "space": {"model": ["mlp"], "model.hidden_sizes": [[32], [16, 16]],
                  "fit.augment": [None, "flip"], "optimizer.learning_rate": 0.003},
        "seeds": [0], "budget": {"epochs": 4, "batch_size": 64},
    }  # fmt: skip
    assert main(["sweep", str(_write(tmp_path, config)), "--results", str(tmp_path / "r"),
                 "--no-plots"]) == 0  # fmt: skip
    rows = summarize(Store(tmp_path / "r" / "results.sqlite"), "images")
    assert len(rows) == 4 and all(r["test_mean"] > 0.6 for r in rows)  # chance is 0.1
    bad = {**config, "space": {"model": "keras_convnet"}}  # needs 28x28 images
    with pytest.raises(ConfigError, match="the model does not fit the data"):
        validate(bad)


def test_a_repository_with_its_own_experiments_package_does_not_shadow_the_command(tmp_path):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "__init__.py").write_text("raise SystemExit('wrong package')\n")
    (tmp_path / "experiments" / "__main__.py").write_text("raise SystemExit('wrong package')\n")
    path = _write(tmp_path, TINY)
    for command in (["jaxnets"], [sys.executable, "-m", "jaxnets.experiments"]):
        done = subprocess.run([*command, "sweep", str(path), "--dry-run"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "tiny: 4 trials" in done.stdout


def test_pruning_stops_a_bad_configuration_early(tmp_path):
    raw = {
        **TINY, "budget": {"epochs": 6, "batch_size": 16},
        "tasks": {"adding": {"length": 10, "n_train": 400, "n_test": 100}},
        "space": {"cell": "gru", "cell.hidden_size": 8,
                  "optimizer.learning_rate": [0.01, 0.02, 1e-7]},
        "pruner": {"method": "median", "warmup_epochs": 2, "min_configs": 2},
    }  # fmt: skip
    store = Store(tmp_path / "results.sqlite")
    outcome = run_sweep(validate(raw), store, results=str(tmp_path), progress=False)
    assert outcome.pruned == 2 and outcome.ran == 4 and outcome.unfinished == 0
    rows = {r["optimizer.learning_rate"]: r for r in summarize(store, "tiny")}
    assert rows[1e-7]["status"] == "pruned" and rows[1e-7]["test_mean"] is None
    assert all(len(c) == 2 for c in rows[1e-7]["curves"])  # stopped after the warm-up
    assert all(len(c) == 6 for r in (rows[0.01], rows[0.02]) for c in r["curves"])
    from jaxnets.experiments import write_report

    text, _ = write_report(store, "tiny", tmp_path / "tiny", plots=False)
    assert "| pruned |" in text


def _finished_so_far(results, run) -> int:
    """How many trials a running sweep has finished: 0 until its store has its tables
    (the file exists a moment before the schema does)."""
    try:
        return len(_points_finished(results, run)[1])
    except sqlite3.OperationalError:
        return 0


def _points_finished(results, run):
    db = sqlite3.connect(results / "results.sqlite")
    points = db.execute("SELECT count(*) FROM run_points WHERE run=?", (run,)).fetchone()[0]
    finished = dict(db.execute(
        "SELECT key, updated FROM trials WHERE status IN ('finished', 'pruned')"
    ).fetchall())  # fmt: skip
    db.close()
    return points, finished


def test_an_optuna_search_resumed_after_sigkill_runs_exactly_the_remaining_trials(tmp_path):
    raw = {**TINY, "name": "tpe",
           "space": {"cell": "gru", "cell.hidden_size": {"int": [4, 12]},
                     "optimizer.learning_rate": {"loguniform": [1e-3, 1e-1]}},
           "search": {"method": "optuna", "trials": 5, "seed": 0},
           "budget": {"epochs": 3, "batch_size": 16}}  # fmt: skip
    path, results = _write(tmp_path, raw), tmp_path / "r"
    process = _cli("sweep", path, "--results", results, "--no-plots")
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (results / "results.sqlite").exists() and _finished_so_far(results, "tpe") >= 4:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    points, before = _points_finished(results, "tpe")
    assert 2 <= points < 5 and len(before) >= 4
    assert main(["sweep", str(path), "--results", str(results), "--no-plots"]) == 0
    points, after = _points_finished(results, "tpe")
    assert points == 5 and len(after) == 5 * 2  # five configurations, two seeds each
    for key, updated in before.items():
        assert after[key] == updated  # what was done was not run again
    store = Store(results / "results.sqlite")
    assert [r["seeds"] for r in summarize(store, "tpe")] == ["2/2"] * 5
    # Resumed again, it has nothing left to ask or run.
    assert main(["sweep", str(path), "--results", str(results), "--no-plots"]) == 0
    assert _points_finished(results, "tpe") == (5, after)


def test_a_trial_killed_mid_epoch_resumes_from_its_last_epoch_bit_identically(tmp_path):
    raw = {**TINY, "name": "long", "tasks": {"mnist1d": {"num_samples": 1500}},
           "space": {"cell": "lstm", "cell.hidden_size": 16},
           "budget": {"epochs": 8, "batch_size": 8}}  # fmt: skip
    path, killed, clean = _write(tmp_path, raw), tmp_path / "killed", tmp_path / "clean"
    process = _cli("sweep", path, "--results", killed, "--no-plots")
    deadline = time.time() + 300
    checkpoints = killed / "checkpoints"
    while time.time() < deadline and process.poll() is None:
        files = list(checkpoints.glob("*.ckpt")) if checkpoints.exists() else []
        if files and load_checkpoint(files[0])["epochs_done"] >= 2:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    (file,) = checkpoints.glob("*.ckpt")
    done = int(load_checkpoint(file)["epochs_done"])
    assert 2 <= done < 8, "the sweep should be killed part-way"
    assert main(["sweep", str(path), "--results", str(killed), "--no-plots"]) == 0
    assert main(["sweep", str(path), "--results", str(clean), "--no-plots"]) == 0
    resumed, uninterrupted = (
        load_checkpoint(file),
        load_checkpoint(clean / "checkpoints" / file.name),
    )
    assert int(resumed["epochs_done"]) == 8
    for a, b in zip(_leaves(resumed["train_state"]), _leaves(uninterrupted["train_state"])):
        np.testing.assert_array_equal(a, b)
    a, b = (Store(d / "results.sqlite").rows("long") for d in (killed, clean))
    assert [r["epochs"] for r in a] == [r["epochs"] for r in b]
    assert [r["final_metric"] for r in a] == [r["final_metric"] for r in b]


def _leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def _claim_as(store_path, trial, owner, heartbeat):
    db = sqlite3.connect(store_path)
    db.execute(
        "INSERT INTO trials (key, config_hash, config, task, seed, status, owner, heartbeat, "
        "updated) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
        (trial.key, trial.config_hash, json.dumps(trial._asdict()), trial.task, trial.seed,
         owner, heartbeat, heartbeat),
    )  # fmt: skip
    db.commit()
    db.close()


def test_an_expired_lease_is_taken_over_and_a_live_one_is_left(tmp_path, capsys):
    from jaxnets.experiments._config import trials
    from jaxnets.experiments._sweep import platform

    sweep = validate(TINY)
    found = trials(sweep, sweep.points, platform())
    path = tmp_path / "results.sqlite"
    Store(path).close()
    # Another host's process: one stopped renewing an hour ago, one renews now.
    _claim_as(path, found[0], "elsewhere:4242:dead0000", time.time() - 3600)
    _claim_as(path, found[1], "elsewhere:4243:live0000", time.time() + 3600)
    config = _write(tmp_path, TINY)
    code = main(["sweep", str(config), "--results", str(tmp_path), "--no-wait", "--no-plots"])
    out, err = capsys.readouterr()
    assert code == 3 and "ran 3" in out and "1 unfinished (1 held by other processes)" in out
    assert "1 trials of tiny are unfinished" in err
    status = Store(path).status([t.key for t in found])
    assert status[found[0].key] == "finished" and status[found[1].key] == "elsewhere"
    # A claim whose process died on this host is taken over at once.
    db = sqlite3.connect(path)
    import socket

    db.execute("UPDATE trials SET owner=? WHERE key=?",
               (f"{socket.gethostname()}:999999999:gone0000", found[1].key))  # fmt: skip
    db.commit()
    assert main(["sweep", str(config), "--results", str(tmp_path), "--no-plots"]) == 0
    assert "ran 1" in capsys.readouterr().out


def test_results_of_a_trial_taken_over_are_dropped(tmp_path):
    from jaxnets.experiments._config import trials
    from jaxnets.experiments._sweep import platform

    sweep = validate(TINY, check_data=False)
    trial = trials(sweep, sweep.points, platform())[0]
    store = Store(tmp_path / "results.sqlite")
    assert store.claim(trial)
    result = {
        "status": "finished", "params": 1, "final_metric": 0.5, "val_metric": 0.5,
        "final_loss": 1.0, "wall_s": 1.0, "compile_s": 0.1, "step_ms": 1.0,
        "seeds_together": 1, "jax_version": "x", "device": "cpu", "epochs": [(1, 2, 3)],
    }  # fmt: skip
    store.db.execute("UPDATE trials SET owner='other:1:aaaa0000' WHERE key=?", (trial.key,))
    assert not store.record(trial, result) and not store.fail(trial, "boom")
    assert store.status([trial.key]) == {trial.key: "elsewhere"}
    assert store.db.execute("SELECT count(*) FROM epochs").fetchone() == (0,)


def test_fashion_mnist_sweeps_the_convnets_on_its_images():
    raw = {
        "tasks": {"fashion_mnist": {"n_train": 600, "n_test": 100}},
        "space": {"model": ["keras_convnet", "lenet5", "mlp"]}, "budget": {"batch_size": 32},
    }  # fmt: skip
    assert len(validate(raw).points) == 3  # built and traced on the 28x28x1 images
    with pytest.raises(ConfigError, match=r"`tasks.fashion_mnist`: its data: .*`n_train`"):
        validate({**raw, "tasks": {"fashion_mnist": {"n_train": 0}}})


SLOW = {**TINY, "name": "slow", "space": {**TINY["space"], "cell": ["elman", "gru", "mgu", "lstm"]},
        "budget": {"epochs": 3, "batch_size": 16}}  # fmt: skip


def test_two_processes_share_a_store_and_never_run_a_trial_twice(tmp_path):
    path = _write(tmp_path, SLOW)
    results = tmp_path / "shared"
    processes = [_cli("sweep", path, "--results", results, "--no-plots") for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in processes]
    for process, (_, err) in zip(processes, outs):
        assert process.returncode == 0, err
    ran = [int(out.split("ran ")[1].split(",")[0]) for out, _ in outs]
    assert sum(ran) == 8  # every trial ran exactly once, in one process or the other
    db = sqlite3.connect(results / "results.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM trials WHERE status='finished'").fetchone() == (8,)
    assert db.execute("SELECT count(*) FROM epochs").fetchone() == (24,)


def test_the_ray_executor_stores_what_the_local_one_does(tmp_path):
    import ray

    sweep = validate(TINY)
    local, remote = Store(tmp_path / "local.sqlite"), Store(tmp_path / "ray.sqlite")
    outcome = run_sweep(sweep, local, results=str(tmp_path / "a"), progress=False)
    assert (outcome.ran, outcome.failed) == (4, 0)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcome = run_sweep(sweep, remote, results=str(tmp_path / "b"), executor="ray",
                            progress=False)  # fmt: skip
    finally:
        ray.shutdown()
    assert (outcome.ran, outcome.failed) == (4, 0)
    a = {r["key"]: r for r in local.rows("tiny")}
    b = {r["key"]: r for r in remote.rows("tiny")}
    assert sorted(a) == sorted(b) and len(a) == 4
    for key in a:
        np.testing.assert_allclose(a[key]["final_metric"], b[key]["final_metric"], rtol=1e-5)
        np.testing.assert_allclose(a[key]["epochs"], b[key]["epochs"], rtol=1e-5)


def test_ray_runs_a_cell_from_a_file_the_workers_cannot_import(tmp_path):
    import ray

    module = tmp_path / "only_here.py"
    module.write_text(textwrap.dedent(USER_MODULE))
    raw = {**TINY, "space": {"cell": f"{module}:leaky", "cell.hidden_size": 4}}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcome = run_sweep(validate(raw), Store(tmp_path / "results.sqlite"),
                            results=str(tmp_path), executor="ray", progress=False)  # fmt: skip
    finally:
        ray.shutdown()
    assert (outcome.ran, outcome.failed) == (2, 0)


def test_the_cpu_as_several_devices(tmp_path):
    path = _write(tmp_path, TINY)
    process = _cli("sweep", path, "--devices", "2", "--results", tmp_path / "r", "--no-plots")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "ran 4" in out
    assert main(["sweep", str(path), "--devices", "0", "--results", str(tmp_path / "s")]) == 2


def test_ray_trials_with_gpus_are_trials_of_another_platform():
    from jaxnets.experiments._sweep import platform

    assert platform("ray", 1) != platform() and "gpu" in platform("ray", 1)


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
    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 1, this jaxnets writes 2"):
        Store(old)
    (tmp_path / "r").mkdir()
    os.replace(text, tmp_path / "r" / "results.sqlite")
    assert main(["list", "--results", str(tmp_path / "r")]) == 2
    assert "not a jaxnets results store" in capsys.readouterr().err
    path = _write(tmp_path, TINY)
    assert main(["sweep", str(path), "--results", str(tmp_path / "r")]) == 2
    assert (tmp_path / "r" / "results.sqlite").read_text() == "shopping list\n" * 100


def test_a_results_directory_on_a_read_only_path_is_an_error(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    assert main(["sweep", str(path), "--results", "/proc/jaxnets-results"]) == 2
    assert "cannot create its directory" in capsys.readouterr().err


def test_report_of_an_unknown_run(tmp_path, capsys):
    Store(tmp_path / "results.sqlite").close()
    assert main(["report", "nope", "--results", str(tmp_path)]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err


def test_schedules_are_filled_from_the_learning_rate_and_the_budget():
    from jaxnets.experiments._targets import build_optimizer

    for schedule, extra in (("cosine", {}), ("warmup_cosine", {"schedule.warmup_steps": 5}),
                            ("exponential", {"schedule.decay_rate": 0.5})):  # fmt: skip
        point = {"schedule": schedule, "optimizer": "sgd", "optimizer.learning_rate": 0.1,
                 **extra}  # fmt: skip
        opt = build_optimizer("test", point, steps_per_epoch=10, epochs=3)
        import jax.numpy as jnp

        params = {"w": jnp.ones(())}
        state = opt.init(params)
        rates = []
        for _ in range(30):
            updates, state = opt.update({"w": jnp.ones(())}, state, params)
            rates.append(-float(updates["w"]))
        if schedule == "cosine":
            assert rates[0] == pytest.approx(0.1) and rates[-1] < 0.002
        elif schedule == "warmup_cosine":
            assert rates[0] == 0.0 and rates[5] == pytest.approx(0.1) and rates[-1] < 0.02
        else:  # halves every epoch (10 steps)
            assert rates[10] == pytest.approx(0.05) and rates[20] == pytest.approx(0.025)
