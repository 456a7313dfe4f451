"""The training engine: seeds against single runs, variable lengths, bucketing, truncated
BPTT, streams of batches, and bad input named before any training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.cells import gru
from jaxnets.data import Batch, bucket_batches
from jaxnets.layers import dense, dropout, serial
from jaxnets.models import many_to_many, many_to_one
from jaxnets.train import (
    EarlyStopping,
    Trainer,
    accuracy,
    evaluate,
    fit,
    fit_seeds,
    init_and_fit_key,
    mse,
    optimizer,
    softmax_cross_entropy,
    train_step,
    truncated_bptt,
)


def _blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    x = (rng.normal(size=(n, 5)) + 1.5 * np.eye(3, 5)[y]).astype(np.float32)
    return x, y


def _sequences(n=12, steps=7, features=3, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, steps + 1, n).astype(np.int32)
    lengths[0] = steps
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    x[np.arange(steps)[None, :] >= lengths[:, None]] = 0.0
    return x, lengths


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_seed_k_equals_fit_with_key_k_with_early_stopping_per_seed():
    x, y = _blobs()
    x_val, y_val = _blobs(seed=1)
    rng = np.random.default_rng(2)  # half the validation labels are noise: stops early
    noisy = rng.random(len(y_val)) < 0.5
    y_val[noisy] = rng.integers(0, 3, noisy.sum())
    model = serial(dense(8, activation=jax.nn.relu), dropout(0.2), dense(3))
    opt = optimizer("adam", 1e-2)
    keys = jax.random.split(jax.random.key(0), 3)
    stopper = EarlyStopping(patience=2)
    options = {
        "epochs": 12,
        "batch_size": 16,
        "validation": (x_val, y_val),
        "early_stopping": stopper,
    }
    seeds = fit_seeds(model, opt, softmax_cross_entropy, x, y, keys=keys, **options)
    assert seeds.history.loss.shape == (3, seeds.history.seconds.shape[0])
    for i, key in enumerate(keys):
        k_init, k_fit = init_and_fit_key(key)
        _, p, s = model.init(k_init, (5,))
        alone = fit(model, p, s, opt, softmax_cross_entropy, x, y, key=k_fit, **options)
        assert (seeds.best_epoch[i], seeds.epochs_run[i]) == (alone.best_epoch, alone.epochs_run)
        assert alone.epochs_run < 12  # it did stop early
        jax.tree.map(lambda a, b, i=i: _close(a[i], b), seeds.params, alone.params)
        run = alone.epochs_run
        _close(seeds.history.val_metric[i, :run], alone.history.val_metric)
        assert np.isnan(seeds.history.loss[i, run:]).all()  # nothing after its own stop
    assert len(set(seeds.epochs_run.tolist())) == 3  # each seed stopped at its own epoch


def test_a_nan_in_one_seed_names_the_seed():
    x, y = _blobs()
    model = dense(3)
    with pytest.raises(FloatingPointError, match=r"at epoch 0, step \d+ .*\(seed \d\)"):
        fit_seeds(model, optax.sgd(1e30), softmax_cross_entropy, x * 1e30, y,
                  keys=jax.random.split(jax.random.key(0), 2), epochs=1, batch_size=16)  # fmt: skip


def _per_step_model():
    model = many_to_many(gru(4), 3)
    _, params, state = model.init(jax.random.key(0), (7, 3))
    return model, params, state


def test_masked_loss_and_metric_equal_sequence_by_sequence_on_unpadded_data():
    x, lengths = _sequences()
    y = np.random.default_rng(1).integers(0, 3, x.shape[:2]).astype(np.int32)
    model, params, state = _per_step_model()
    # Reference: each sequence alone at its own length, every valid step counted once.
    ces, hits = [], []
    for b, n in enumerate(lengths):
        logits = np.asarray(model.apply(params, state, x[b : b + 1, :n])[0][0], np.float64)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        ces.extend(-logp[np.arange(n), y[b, :n]])
        hits.extend(logits.argmax(-1) == y[b, :n])
    step = train_step(model.apply, softmax_cross_entropy, optax.sgd(0.0))
    train_state = (params, state, optax.sgd(0.0).init(params))
    _, metrics = step(train_state, x, y, jax.random.key(0), lengths=jnp.asarray(lengths))
    np.testing.assert_allclose(metrics["loss"], np.mean(ces), rtol=1e-6)
    for batch_size in (12, 5):  # one batch, and batches of unequal valid counts
        got = evaluate(model, params, state, x, y, accuracy, lengths=lengths, batch_size=batch_size)
        np.testing.assert_allclose(got, np.mean(hits), rtol=1e-6)


def test_per_sequence_targets_use_the_last_valid_step():
    x, lengths = _sequences()
    y = np.random.default_rng(1).normal(size=(len(x), 2)).astype(np.float32)
    model = many_to_one(gru(4), 2)
    _, params, state = model.init(jax.random.key(0), (7, 3))
    alone = [model.apply(params, state, x[b : b + 1, :n])[0][0] for b, n in enumerate(lengths)]
    want = np.mean((np.stack(alone) - y) ** 2)
    np.testing.assert_allclose(
        evaluate(model, params, state, x, y, mse, lengths=lengths), want, rtol=1e-6
    )


def test_bucketing_yields_each_example_once_per_epoch_in_few_shapes():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 41, 101).astype(np.int32)
    x = rng.normal(size=(101, 40, 2)).astype(np.float32)
    y = np.arange(101, dtype=np.int32)  # labels are row ids: they show which rows came
    batches = bucket_batches(x, y, lengths, batch_size=8, num_buckets=4, seed=3)
    orders = []
    for epoch in (0, 1):
        seen, shapes = [], set()
        for batch in batches(epoch):
            shapes.add(batch.x.shape)
            assert batch.x.shape[1] >= batch.lengths.max()
            seen.extend(batch.y[batch.mask].tolist())
        assert sorted(seen) == list(range(101)) and len(shapes) <= 4
        orders.append(seen)
    assert orders[0] != orders[1]  # reshuffled every epoch
    assert [b.y.tolist() for b in batches(1)] == [b.y.tolist() for b in batches(1)]
    cells = sum(b.x.shape[0] * b.x.shape[1] for b in batches(0))
    np.testing.assert_allclose(batches.padding_fraction, 1 - lengths.sum() / cells)
    assert batches.padding_fraction < 1 - lengths.mean() / 40  # less than padding to T


def test_fit_on_buckets_learns_a_length_dependent_task():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 21, 256).astype(np.int32)
    x = rng.normal(size=(256, 20, 1)).astype(np.float32)
    x[np.arange(20)[None, :] >= lengths[:, None]] = 0.0
    y = (x[..., 0].sum(1) > 0).astype(np.int32)  # the sign of the sum of the valid steps
    model = many_to_one(gru(8), 2)
    _, params, state = model.init(jax.random.key(0), (20, 1))
    batches = bucket_batches(x, y, lengths, batch_size=16, num_buckets=3)
    result = fit(model, params, state, optax.adam(2e-2), softmax_cross_entropy, epochs=8,
                 batches=batches, key=jax.random.key(1), validation=(x, y, lengths),
                 metric=accuracy)  # fmt: skip
    assert result.history.val_metric[-1] > 0.85


def test_truncated_bptt_gradient_is_autodiff_of_the_chunk_with_the_carry_held():
    x, _ = _sequences(n=4, steps=6)
    y = np.random.default_rng(1).integers(0, 3, x.shape[:2]).astype(np.int32)
    model, params, state = _per_step_model()
    lr = 0.5
    opt = optax.sgd(lr)
    step = train_step(model.apply, softmax_cross_entropy, opt, stateful=True)
    update = jax.jit(truncated_bptt(step, model.apply, 4))  # chunks of 4 and 2 steps
    (new_params, _, _), metrics = update((params, state, opt.init(params)), x, y, jax.random.key(0))
    assert metrics["loss"].shape == (2,)

    def chunk_loss(p, carry, xs, ys):
        (logits, carry), _ = model.apply(p, state, xs, carry=carry, return_carry=True)
        return softmax_cross_entropy(logits, ys), carry

    g1, carry = jax.grad(chunk_loss, has_aux=True)(params, None, x[:, :4], y[:, :4])
    p1 = jax.tree.map(lambda p, g: p - lr * g, params, g1)
    g2, _ = jax.grad(chunk_loss, has_aux=True)(p1, carry, x[:, 4:], y[:, 4:])
    want = jax.tree.map(lambda p, g: p - lr * g, p1, g2)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), new_params, want
    )


def test_streams_of_batches_train_and_a_generator_object_is_refused():
    x, y = _blobs()
    model = dense(3)
    _, params, state = model.init(jax.random.key(0), (5,))

    def batches(epoch):  # made anew every epoch, as a reader of files would
        order = np.random.default_rng(epoch).permutation(len(x))
        for i in range(0, len(x), 16):
            yield x[order[i : i + 16]], y[order[i : i + 16]]

    result = fit(model, params, state, optax.adam(5e-2), softmax_cross_entropy, batches=batches,
                 epochs=10, key=jax.random.key(1), validation=(x, y), metric=accuracy)  # fmt: skip
    assert result.history.val_metric[-1] > 0.8 and result.history.loss.shape == (10,)
    assert result.history.loss[-1] < 0.7 * result.history.loss[0]
    listed = [Batch(x[i : i + 16], y[i : i + 16]) for i in range(0, len(x), 16)]
    again = fit(model, params, state, optax.adam(5e-2), softmax_cross_entropy, batches=listed,
                epochs=2, key=jax.random.key(1))  # fmt: skip
    assert np.isfinite(again.history.loss).all()
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(model, params, state, optax.adam(1e-2), softmax_cross_entropy, batches=batches(0),
            epochs=2, key=jax.random.key(1))  # fmt: skip


def test_lengths_and_tbptt_need_a_model_that_takes_them():
    x, y = _blobs()
    model = dense(3)
    _, params, state = model.init(jax.random.key(0), (5,))
    with pytest.raises(TypeError, match="`lengths` needs a model whose apply takes"):
        fit(model, params, state, optax.adam(1e-2), softmax_cross_entropy, x[:, None], y,
            lengths=np.ones(64, np.int32), epochs=1, batch_size=16,
            key=jax.random.key(0))  # fmt: skip
    with pytest.raises(TypeError, match="`tbptt` needs a model whose apply takes `carry=`"):
        fit(many_to_one(gru(4), 3), {}, {}, optax.adam(1e-2), softmax_cross_entropy, x, y,
            tbptt=2, epochs=1, batch_size=16, key=jax.random.key(0))  # fmt: skip


def test_a_trainer_compiles_once_for_several_runs():
    x, y = _blobs()
    model = dense(3)
    traces = []

    def loss(y_pred, y):
        traces.append(1)  # runs when traced, not when the compiled program runs
        return softmax_cross_entropy(y_pred, y)

    trainer = Trainer(model, optax.adam(1e-2), loss)
    for seed in range(3):
        _, params, state = model.init(jax.random.key(seed), (5,))
        fit(model, params, state, None, None, x, y, epochs=2, batch_size=16,
            key=jax.random.key(seed), trainer=trainer)  # fmt: skip
    assert len(traces) == 1
    with pytest.raises(ValueError, match="`model` is not the one `trainer` was made with"):
        fit(dense(3), params, state, None, None, x, y, epochs=1, batch_size=16,
            key=jax.random.key(0), trainer=trainer)  # fmt: skip
    with pytest.raises(ValueError, match="`l2` belongs to the Trainer"):
        fit(model, params, state, None, None, x, y, epochs=1, batch_size=16,
            key=jax.random.key(0), trainer=trainer, l2=1e-3)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"epochs": -1}, "`epochs` must be a positive int, got -1"),
        ({"epochs": 2.5}, "`epochs` must be a positive int, got 2.5"),
        ({"key": None}, "`key` must be a PRNG key"),
        ({"key": 3}, "`key` must be a PRNG key"),
        ({"batch_size": 13}, r"`batch_size` must be an int in \[1, 12\]"),
        ({"lengths": np.ones(11, np.int32)}, r"`lengths` must have the batch shape \(12,\)"),
        ({"lengths": np.full(12, -1, np.int32)}, r"`lengths` must lie in \[1, T\] = \[1, 7\]"),
        ({"lengths": np.full(12, 8, np.int32)}, r"`lengths` must lie in \[1, T\] = \[1, 7\]"),
        (
            {"validation": (np.zeros((3, 7, 4), np.float32), np.zeros((3, 7), np.int32))},
            "`validation`",
        ),
        ({"loss": lambda y_pred, y: 0.0}, "`loss` must take a third argument"),
    ],
)
def test_bad_input_is_named_before_training(change, match, tmp_path):
    x, lengths = _sequences()
    y = np.zeros(x.shape[:2], np.int32)
    model, params, state = _per_step_model()
    path = tmp_path / "run.ckpt"
    options = {"epochs": 1, "batch_size": 4, "key": jax.random.key(0), "lengths": lengths,
               "loss": softmax_cross_entropy, "checkpoint": str(path), **change}  # fmt: skip
    loss = options.pop("loss")
    with pytest.raises((ValueError, TypeError), match=match):
        fit(model, params, state, optax.adam(1e-2), loss, x, y, **options)
    assert not path.exists()  # nothing was written
