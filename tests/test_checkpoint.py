"""Checkpoints know what they hold: every mismatch is named, nothing is overwritten."""

import pathlib

import jax
import numpy as np
import optax
import pytest

from jaxnets.models import mlp
from jaxnets.train import (
    checkpoint_fingerprint,
    fit,
    fit_seeds,
    load_checkpoint,
    save_checkpoint,
    softmax_cross_entropy,
)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(48, 4)).astype(np.float32), rng.integers(0, 3, 48).astype(np.int32)


def _run(path, hidden=8, opt=None, batch_size=16, key=7, epochs=2):
    model = mlp([hidden, 3])
    _, params, state = model.init(jax.random.key(0), (4,))
    x, y = _data()
    return fit(model, params, state, opt or optax.adam(1e-2), softmax_cross_entropy, x, y,
               epochs=epochs, batch_size=batch_size, key=jax.random.key(key),
               checkpoint=str(path))  # fmt: skip


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"hidden": 16},
            r"`\['train_state'\]\['params'\]\['dense'\]\['w'\]` must have shape "
            r"\(4, 16\), got \(4, 8\)",
        ),
        (
            {"opt": optax.sgd(1e-2)},
            r"the checkpoint has (a|no) leaf at `\['(train|best)_state'\]\['opt_state'\]",
        ),
        ({"opt": optax.adam(1e-3)}, "another optimizer"),
        ({"batch_size": 8}, r"another `batch_size` option: expected 8 \(this run\), got 16"),
        ({"key": 8}, "another `key` option"),
    ],
)
def test_resuming_another_run_names_the_first_difference_and_keeps_the_file(
    tmp_path, change, match
):
    path = tmp_path / "run.ckpt"
    _run(path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=match):
        _run(path, epochs=4, **change)
    assert path.read_bytes() == before


def test_resuming_the_same_run_continues_it(tmp_path):
    path = tmp_path / "run.ckpt"
    _run(path)
    whole = _run(tmp_path / "other.ckpt", epochs=4)
    resumed = _run(path, epochs=4)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)
    assert set(checkpoint_fingerprint(path)) >= {
        "traced.model",
        "traced.optimizer",
        "option.batch_size",
    }


def test_load_checkpoint_checks_structure_shapes_and_dtypes(tmp_path):
    path = str(tmp_path / "c.ckpt")
    tree = {"w": np.ones((2, 3), np.float64), "step": np.int32(4), "key": jax.random.key(1)}
    save_checkpoint(path, tree)
    target = {"w": np.zeros((2, 3), np.float32), "step": np.int32(0), "key": jax.random.key(0)}
    with pytest.raises(ValueError, match=r"`\['w'\]` must have dtype float32, got float64"):
        load_checkpoint(path, target)
    with pytest.raises(ValueError, match=r"`\['w'\]` must have shape \(3, 2\), got \(2, 3\)"):
        load_checkpoint(path, {**target, "w": np.zeros((3, 2), np.float64)})
    with pytest.raises(ValueError, match=r"no leaf at `\['bias'\]`"):
        load_checkpoint(path, {**target, "w": tree["w"], "bias": np.zeros(3)})
    with pytest.raises(ValueError, match=r"`\['key'\]` must have .*key<fry>"):
        load_checkpoint(path, {**target, "w": tree["w"], "key": np.zeros(2, np.uint32)})
    restored = load_checkpoint(path, {**target, "w": np.zeros((2, 3), np.float64)})
    np.testing.assert_array_equal(restored["w"], tree["w"])
    assert restored["key"].dtype == tree["key"].dtype


def test_fingerprints_of_traced_programs_are_skipped_across_jax_versions(tmp_path, monkeypatch):
    path = str(tmp_path / "c.ckpt")
    save_checkpoint(path, {"a": np.arange(3)}, fingerprint={"traced.model": "x", "option.n": "1"})
    with pytest.raises(ValueError, match="another model"):
        load_checkpoint(path, fingerprint={"traced.model": "y", "option.n": "1"})
    monkeypatch.setattr(jax, "__version__", "0.0.1")
    with pytest.warns(UserWarning, match="traced.model could not be compared"):
        load_checkpoint(path, fingerprint={"traced.model": "y", "option.n": "1"})
    with pytest.raises(ValueError, match="another `n` option"):
        load_checkpoint(path, fingerprint={"traced.model": "x", "option.n": "2"})


def test_version_1_files_still_load(tmp_path):
    import hashlib

    from flax import serialization

    magic = b"jaxnets-checkpoint-v1\n"  # the first format: a header, a SHA-256, msgpack

    payload = serialization.msgpack_serialize(
        {"w": np.arange(3.0), "key": np.array([0, 5], np.uint32)}
    )
    path = pathlib.Path(tmp_path / "old.ckpt")
    path.write_bytes(magic + hashlib.sha256(payload).digest() + payload)
    restored = load_checkpoint(str(path), {"w": np.zeros(3), "key": jax.random.key(0)})
    np.testing.assert_array_equal(restored["w"], np.arange(3.0))
    np.testing.assert_array_equal(jax.random.key_data(restored["key"]), [0, 5])


def test_seeds_and_streams_resume_bit_identically(tmp_path):
    x, y = _data()
    model = mlp([8, 3])
    keys = jax.random.split(jax.random.key(0), 3)

    def batches(epoch):
        order = np.random.default_rng(epoch).permutation(len(x))
        for start in range(0, len(x), 16):
            yield x[order[start : start + 16]], y[order[start : start + 16]]

    def seeds(epochs, path=None):
        return fit_seeds(model, optax.adam(1e-2), softmax_cross_entropy, keys=keys,
                         batches=batches, epochs=epochs, validation=(x, y),
                         checkpoint=None if path is None else str(path))  # fmt: skip

    path = tmp_path / "seeds.ckpt"
    seeds(2, path)  # "killed" after two epochs
    resumed, whole = seeds(4, path), seeds(4)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, whole.params)
    np.testing.assert_array_equal(resumed.history.val_metric, whole.history.val_metric)
    assert resumed.history.loss.shape == (3, 4)
