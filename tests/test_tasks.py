"""The sequence tasks: their data is what it claims, and small models learn them."""

import jax
import numpy as np
import pytest

from jaxnets.cells import clockwork, elman, gru, lstm
from jaxnets.tasks import (
    TASKS,
    adding,
    copy_memory,
    digits_rows,
    licence_sentences,
    reverse_digits,
    waveform,
)
from jaxnets.train import EarlyStopping, evaluate, fit, optimizer


def _train(task, cell, data, *, epochs, lr, batch_size=32, clip_norm=1.0, **model_options):
    model = task.model(cell, **model_options)
    _, params, state = model.init(jax.random.key(0), jax.tree.map(lambda a: a.shape[1:], data["x"]))
    result = fit(
        model, params, state, optimizer("adam", lr, clip_norm=clip_norm), task.loss,
        data["x"], data["y"], epochs=epochs, batch_size=batch_size, key=jax.random.key(1),
        validation=(data["x_test"], data["y_test"]), metric=task.metric,
        early_stopping=EarlyStopping(patience=epochs, mode=task.mode),
    )  # fmt: skip
    return (
        model,
        result,
        evaluate(model, result.params, result.state, data["x_test"], data["y_test"], task.metric),
    )


def test_adding_problem_at_100_steps_gated_cells_remember_elman_forgets():
    data = adding.data(length=100, n_train=4000, n_test=500)
    # Predicting the mean scores Var(U1 + U2) = 1/6.
    assert np.mean((data["y_test"] - data["y_test"].mean()) ** 2) == pytest.approx(1 / 6, abs=0.02)
    scores = {}
    # A forget bias of 3 keeps ~95% of the cell per step at init, a memory horizon of
    # ~20 steps instead of ~4 with 1, so the LSTM leaves the mean-predicting plateau sooner.
    for name, cell, epochs in (
        ("gru", gru(32), 4),
        ("lstm", lstm(32, forget_bias=3.0), 10),
        ("elman", elman(32), 4),
    ):
        *_, scores[name] = _train(adding.task, cell, data, epochs=epochs, lr=1e-2)
    print("adding problem, T = 100, test MSE:", scores)
    assert scores["gru"] < 0.01 and scores["lstm"] < 0.01
    assert scores["elman"] > 0.1


def test_clockwork_generates_the_waveform_where_an_elman_rnn_of_equal_size_cannot():
    data = waveform.data()
    cells = {"elman": elman(31), "clockwork": clockwork(40, periods=tuple(2**i for i in range(8)))}
    nmse, sizes = {}, {}
    for name, cell in cells.items():
        _model, result, nmse[name] = _train(
            waveform.task, cell, data, epochs=400, lr=3e-3, batch_size=1, clip_norm=None
        )
        sizes[name] = sum(leaf.size for leaf in jax.tree.leaves(result.params))
    print("waveform, normalised MSE:", nmse, "params:", sizes)
    assert sizes["clockwork"] <= sizes["elman"]
    assert nmse["clockwork"] < 0.1 and nmse["clockwork"] < 0.2 * nmse["elman"]


def test_seq2seq_reverses_length_10_digit_sequences():
    data = reverse_digits.data(n_train=3000, n_test=300)
    model, result, teacher_forced = _train(
        reverse_digits.task, gru(64), data, epochs=3, lr=3e-3, batch_size=64
    )
    source, target = data["x_test"]
    for method in ("greedy", "beam"):
        decoded = np.asarray(model.decode(result.params, source, max_length=11, method=method))
        accuracy = (decoded == target).mean()
        print(f"reverse digits, {method} decoding: token accuracy {accuracy:.3f}")
        assert accuracy > 0.95
    sampled = model.decode(
        result.params,
        source,
        max_length=11,
        method="sample",
        key=jax.random.key(0),
        temperature=0.5,
    )
    assert sampled.shape == target.shape
    assert teacher_forced > 0.95


def test_copy_memory_sequences():
    x, y = copy_memory.sequences(4, 30, seed=1)
    assert x.shape == (4, 50, 10) and y.shape == (4, 50)
    ids = x.argmax(-1)
    np.testing.assert_array_equal(y[:, -10:], ids[:, :10])  # the symbols come back
    assert (ids[:, 39] == 9).all() and not y[:, :40].any()  # after the delimiter only
    assert ((ids[:, :10] >= 1) & (ids[:, :10] <= 8)).all()


def test_copy_memory_recalls_three_symbols_across_ten_steps():
    data = copy_memory.data(delay=10, copy_length=3, n_train=2000, n_test=200)
    *_, recall = _train(copy_memory.task, gru(64), data, epochs=8, lr=1e-2)
    assert recall > 0.8  # chance is 1/8


def test_digits_rows_are_the_images_read_row_by_row():
    data = digits_rows.data()
    assert data["x"].shape[1:] == (8, 8) and len(data["y"]) + len(data["y_test"]) == 1797
    *_, acc = _train(digits_rows.task, gru(32), data, epochs=5, lr=1e-2)
    assert acc > 0.8


def test_every_task_builds_its_default_model():
    for name, task in TASKS.items():
        model = task.model()
        data_shape = {
            "adding": (100, 2), "copy_memory": (70, 10), "digits_rows": (8, 8),
            "mnist1d": (40, 1), "reverse_digits": ((10,), (11,)), "waveform": (0,),
            "licence_sentences": (64,), "digits": (28, 28, 1), "fashion_mnist": (28, 28, 1),
            "moving_digits": (9, 256),
        }[name]  # fmt: skip
        _out_shape, params, _ = model.init(jax.random.key(0), data_shape)
        assert jax.tree.leaves(params), name
        assert task.mode in ("min", "max")
        # What the sweeps give a model builder as num_classes / num_outputs.
        assert _out_shape[-1] == task.num_outputs, name


def test_task_arguments_are_checked():
    with pytest.raises(ValueError, match="`delay`"):
        copy_memory.sequences(2, 0)
    with pytest.raises(ValueError, match="`copy_length`"):
        copy_memory.sequences(2, 5, copy_length=0)
    with pytest.raises(ValueError, match="`length`"):
        reverse_digits.pairs(2, 0)
    with pytest.raises(ValueError, match="num_layers"):
        waveform.model(num_layers=2)


def test_licence_sentences_are_what_they_claim():
    text = "A b c. Short. Then  a\nlonger one; and: more words here!"
    assert licence_sentences.sentences(text) == [
        "A b c.", "Then a longer one;", "more words here!"
    ]  # fmt: skip
    data = licence_sentences.data(max_words=40)
    vocab = data["tokenizer"].vocab_size
    for part in ("", "_test"):
        x, lengths = data[f"x{part}"], data[f"lengths{part}"]
        assert x.shape == (len(lengths), 40) and lengths.min() >= 3 and lengths.max() <= 40
        assert x.max() < vocab and not x[np.arange(40)[None, :] >= lengths[:, None]].any()
        assert set(np.unique(data[f"y{part}"])) == {0, 1, 2, 3}
    # The first test sentence is GFDL-1.3's own first sentence, encoded.
    gfdl = (licence_sentences.LICENCES / "GFDL-1.3").read_text(encoding="utf-8")
    first = licence_sentences.sentences(gfdl)[0]
    want = data["tokenizer"].encode(first)[:40]
    np.testing.assert_array_equal(data["x_test"][0, : len(want)], want)


def test_a_gru_reads_licence_sentences_better_than_the_majority_class():
    from jaxnets.data import bucket_batches
    from jaxnets.train import accuracy, softmax_cross_entropy

    data = licence_sentences.data()
    majority = np.bincount(data["y_test"]).max() / len(data["y_test"])
    model = licence_sentences.model(gru(32), vocab_size=data["tokenizer"].vocab_size)
    _, params, state = model.init(jax.random.key(0), (64,))
    batches = bucket_batches(data["x"], data["y"], data["lengths"], batch_size=32)
    result = fit(model, params, state, optimizer("adam", 3e-3), softmax_cross_entropy,
                 batches=batches, epochs=8, key=jax.random.key(1))  # fmt: skip
    test = evaluate(model, result.params, result.state, data["x_test"], data["y_test"], accuracy,
                    lengths=data["lengths_test"])  # fmt: skip
    assert test > majority + 0.05, (test, majority)
