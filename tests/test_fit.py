"""fit: early stopping, checkpoints and resume, bad input, NaN handling."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxnets.models import mlp
from jaxnets.train import (
    EarlyStopping,
    accuracy,
    evaluate,
    fit,
    load_checkpoint,
    mse,
    optimizer,
    save_checkpoint,
    softmax_cross_entropy,
)


def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    x = (rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


def _model_and_vars():
    model = mlp([16, 3])
    _, params, state = model.init(jax.random.key(0), (4,))
    return model, params, state


def _fit(**kwargs):
    model, params, state = _model_and_vars()
    x, y = _blobs()
    options = {"epochs": 4, "batch_size": 16, "key": jax.random.key(7), **kwargs}
    return fit(
        model, params, state, optimizer("adam", 1e-2), softmax_cross_entropy, x, y, **options
    )


def test_fit_learns_and_records_curves():
    x_val, y_val = _blobs(seed=1)
    result = _fit(epochs=10, validation=(x_val, y_val), metric=accuracy)
    assert len(result.history.loss) == 10 == len(result.history.val_metric)
    assert result.history.loss[-1] < 0.5 * result.history.loss[0]
    assert result.history.val_metric[-1] > 0.8


def test_early_stopping_stops_on_a_rising_validation_curve_and_restores_the_best():
    # Validation labels are shuffled: as training fits the real labels, the
    # validation loss rises, so the best epoch is an early one.
    x_val, y_val = _blobs(seed=1)
    y_val = np.random.default_rng(2).permutation(y_val)
    stopper = EarlyStopping(patience=2, min_delta=0.0, mode="min")
    result = _fit(epochs=30, validation=(x_val, y_val), early_stopping=stopper)
    curve = result.history.val_metric
    assert result.epochs_run < 30
    assert result.best_epoch == int(np.argmin(curve))
    assert result.epochs_run == result.best_epoch + 1 + stopper.patience
    model, _, state = _model_and_vars()
    best_value = curve[result.best_epoch]
    np.testing.assert_allclose(
        evaluate(model, result.params, state, x_val, y_val, softmax_cross_entropy),
        best_value,
        rtol=1e-5,
    )


def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    path = str(tmp_path / "run.ckpt")
    whole = _fit(epochs=4)
    _fit(epochs=2, checkpoint=path)  # "killed" after epoch 2: only the file survives
    resumed = _fit(epochs=4, checkpoint=path)
    again = _fit(epochs=4, checkpoint=path)  # already complete: nothing more to run
    assert resumed.epochs_run == again.epochs_run == 4
    jax.tree.map(np.testing.assert_array_equal, again.params, resumed.params)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)
    jax.tree.map(np.testing.assert_array_equal, whole.opt_state, resumed.opt_state)
    np.testing.assert_array_equal(whole.history.loss, resumed.history.loss)


def test_checkpoint_round_trip_and_truncated_or_corrupted_files(tmp_path):
    path = str(tmp_path / "c.ckpt")
    _, params, _ = _model_and_vars()
    tree = {"params": params, "step": 3, "key": jax.random.key(5)}
    save_checkpoint(path, tree)
    restored = load_checkpoint(path, {"params": params, "step": 0, "key": jax.random.key(0)})
    jax.tree.map(np.testing.assert_array_equal, restored["params"], params)
    assert restored["step"] == 3
    # Typed PRNG keys come back as keys, with or without a target.
    for key in (restored["key"], load_checkpoint(path)["key"]):
        assert jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
        np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(tree["key"]))

    data = pathlib.Path(path).read_bytes()
    pathlib.Path(path).write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_checkpoint(path)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF
    pathlib.Path(path).write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_checkpoint(path)
    pathlib.Path(path).write_bytes(b"\x80\x04 a pickle, say")
    with pytest.raises(ValueError, match="not a jaxnets checkpoint"):
        load_checkpoint(path)


def test_a_failed_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = str(tmp_path / "c.ckpt")
    save_checkpoint(path, {"a": np.arange(3)})
    before = pathlib.Path(path).read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"a": np.arange(1000)})
    assert pathlib.Path(path).read_bytes() == before
    assert os.listdir(tmp_path) == ["c.ckpt"]  # no temporary file left behind


def test_a_nan_loss_stops_with_its_epoch_and_step_and_keeps_the_checkpoint(tmp_path):
    path = str(tmp_path / "run.ckpt")
    model, params, state = _model_and_vars()
    x, y = _blobs()
    x_bad = x.copy()
    x_bad[40] = np.nan  # row 40 lands in some step of epoch 2's shuffled order

    def run(x, epochs):
        return fit(
            model, params, state, optimizer("adam", 1e-2), softmax_cross_entropy, x, y,
            epochs=epochs, batch_size=16, key=jax.random.key(7), checkpoint=path,
        )  # fmt: skip

    run(x, 2)
    saved = pathlib.Path(path).read_bytes()
    with pytest.raises(
        FloatingPointError, match=r"the loss is nan at epoch 2, step \d+ .* keeps epoch 1"
    ):
        run(x_bad, 3)
    assert pathlib.Path(path).read_bytes() == saved


def test_fit_rejects_bad_input():
    model, params, state = _model_and_vars()
    x, y = _blobs()
    opt = optimizer()
    with pytest.raises(
        ValueError, match=r"integer labels in `y` must lie in \[0, 2\].*from 0 to 3"
    ):
        fit(model, params, state, opt, softmax_cross_entropy, x, np.where(y == 2, 3, y),
            epochs=1, batch_size=8, key=jax.random.key(0))  # fmt: skip
    with pytest.raises(ValueError, match="`x` and `y` must have the same number of rows"):
        fit(model, params, state, opt, softmax_cross_entropy, x, y[:-1],
            epochs=1, batch_size=8, key=jax.random.key(0))  # fmt: skip
    with pytest.raises(ValueError, match="`batch_size`"):
        fit(model, params, state, opt, mse, x, x, epochs=1, batch_size=0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`early_stopping` needs `validation`"):
        fit(model, params, state, opt, softmax_cross_entropy, x, y, epochs=1, batch_size=8,
            key=jax.random.key(0), early_stopping=EarlyStopping())  # fmt: skip


def test_no_progress_bar_in_ci(capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    _fit(epochs=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


KILLED_RUN = """
import sys, jax
sys.path.insert(0, {tests!r})
from test_fit import _fit
_fit(epochs=400, checkpoint={path!r})
"""


def test_a_run_killed_at_any_moment_resumes_bit_identically(tmp_path):
    path = tmp_path / "run.ckpt"
    script = KILLED_RUN.format(tests=os.path.dirname(__file__), path=str(path))
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not path.exists():
            time.sleep(0.05)
        time.sleep(0.3)  # mid-training, maybe mid-write
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        process.kill()
    done = int(load_checkpoint(str(path))["epochs_done"])
    assert 1 <= done < 400
    epochs = done + 2
    resumed = _fit(epochs=epochs, checkpoint=str(path))
    whole = _fit(epochs=epochs)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)
    np.testing.assert_array_equal(whole.history.loss, resumed.history.loss)
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]
