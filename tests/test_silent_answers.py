"""Inputs that used to give a valid-looking wrong answer: each is now a ValueError or
TypeError naming the argument, or, under ``jit`` where values cannot be checked, an
answer that cannot pass for a real one (NaN)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import gru, lstm
from jaxnets.data import holdout
from jaxnets.interop import from_torch
from jaxnets.layers import avg_pool1d, avg_pool2d, dropout, embedding, lookup, max_pool2d
from jaxnets.models import choose_token, generate, language_model, seq2seq

OUT_OF_VOCAB = [5, 99, -1]  # with a vocabulary of 5


@pytest.mark.parametrize("bad", OUT_OF_VOCAB)
def test_embedding_names_an_id_outside_the_vocabulary(bad):
    layer = embedding(5, 3)
    _, params, state = layer.init(jax.random.key(0), (4,))
    with pytest.raises(ValueError, match=rf"`x` holds id {bad}, outside the vocabulary \[0, 5\)"):
        layer.apply(params, state, jnp.array([[0, 1, bad, 2]]))


def test_under_jit_ids_outside_the_vocabulary_embed_as_nan_never_another_row():
    table = jnp.arange(15.0).reshape(5, 3)
    ids = jnp.array([[0, 5, 99, -1, 4, -5]])
    rows = np.asarray(jax.jit(lookup)(table, ids))[0]
    np.testing.assert_array_equal(rows[0], table[0])
    np.testing.assert_array_equal(rows[4], table[4])
    assert np.isnan(rows[[1, 2, 3, 5]]).all()
    # Plain indexing, what this replaced, clamps and wraps to real rows.
    assert not np.isnan(np.asarray(table[ids])).any()


def _seq2seq():
    model = seq2seq(gru(6), gru(6), 5, 5, bos_id=0, eos_id=1, embed_size=4, attention=True)
    _, params, state = model.init(jax.random.key(0), ((4,), (3,)))
    return model, params, state


@pytest.mark.parametrize("bad", OUT_OF_VOCAB)
def test_seq2seq_names_source_and_target_ids_outside_their_vocabularies(bad):
    model, params, state = _seq2seq()
    good_source, good_target = jnp.array([[0, 1, 2, 3]]), jnp.array([[1, 2, 3]])
    bad_source, bad_target = good_source.at[0, 2].set(bad), good_target.at[0, 1].set(bad)
    with pytest.raises(ValueError, match=rf"`source` holds id {bad}, outside .*\[0, 5\)"):
        model.apply(params, state, (bad_source, good_target))
    with pytest.raises(ValueError, match=rf"`target` holds id {bad}, outside .*\[0, 5\)"):
        model.apply(params, state, (good_source, bad_target))
    with pytest.raises(ValueError, match=rf"`source` holds id {bad}"):
        model.decode(params, bad_source, max_length=3)
    # Under jit: NaN logits for the row that read it, never id 4's finite logits.
    logits = jax.jit(lambda s, t: model.apply(params, state, (s, t))[0])
    assert np.isnan(np.asarray(logits(bad_source, good_target))).all()
    assert np.isfinite(np.asarray(logits(good_source, good_target))).all()


def test_a_language_model_names_an_id_outside_its_vocabulary():
    model = language_model(5, lstm(4), embed_size=3)
    _, params, state = model.init(jax.random.key(0), (6,))
    with pytest.raises(ValueError, match=r"`ids` holds id 7, outside the vocabulary \[0, 5\)"):
        model.apply(params, state, jnp.array([[0, 1, 7]]))


def _step(carry, token):
    return carry, jnp.log(jnp.array([[0.1, 0.2, 0.7]])).repeat(token.shape[0], 0)


def test_sampling_without_a_key_or_at_a_negative_temperature_is_refused():
    start = jnp.zeros((2,), jnp.int32)
    with pytest.raises(ValueError, match=r"generate: `key` is required when temperature > 0"):
        generate(_step, None, start, 3, temperature=1.0)
    with pytest.raises(ValueError, match=r"generate: `temperature` must be a number >= 0"):
        generate(_step, None, start, 3, temperature=-1.0, key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"`temperature` must be a number >= 0, got str"):
        generate(_step, None, start, 3, temperature="1.0", key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"choose_token: `key` is required"):
        choose_token(jnp.zeros((2, 3)), None, temperature=0.5)
    with pytest.raises(ValueError, match=r"choose_token: `temperature` must be a number >= 0"):
        choose_token(jnp.zeros((2, 3)), jax.random.key(0), temperature=-0.5)
    model, params, _ = _seq2seq()
    with pytest.raises(ValueError, match=r"decode: `key` is required"):
        model.decode(params, jnp.array([[0, 1]]), max_length=3, method="sample")
    # Greedy decoding needs no key and is the argmax.
    tokens, _ = generate(_step, None, start, 3)
    np.testing.assert_array_equal(tokens, np.full((2, 3), 2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: max_pool2d(2, padding=3),
        lambda: max_pool2d((3, 2), padding=((0, 0), (2, 0))),
        lambda: avg_pool2d(2, padding=2, count_include_pad=False),
        lambda: avg_pool1d(3, padding=3),
    ],
)
def test_pooling_padding_as_wide_as_the_window_names_both(make):
    # A window of padding alone: -inf for max pooling, 0/0 for averages without pads.
    with pytest.raises(ValueError, match=r"`padding` must be smaller than the window .* of \d"):
        make()


def test_pooling_padding_narrower_than_the_window_stays_finite():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    for layer in (max_pool2d(2, padding=1), avg_pool2d(3, padding=2, count_include_pad=False)):
        assert np.isfinite(np.asarray(layer.apply({}, {}, x)[0])).all()


def test_split_sizes_must_be_positive():
    for n in (-5, 0, 1):
        with pytest.raises(
            ValueError, match=rf"holdout: `n_or_labels` must be at least 2 rows.*{n}"
        ):
            holdout(n, stratify=False)
    with pytest.raises(TypeError, match=r"holdout: `n_or_labels` must be an int or an array"):
        holdout(5.0, stratify=False)
    with pytest.raises(ValueError, match=r"as labels must be 1-d with at least 2 rows"):
        holdout(np.array([3]))
    with pytest.raises(ValueError, match=r"too small to leave a training row"):
        holdout(np.array([0, 1, 2]), test_fraction=0.5)  # one row per class
    train, test = holdout(np.int64(10), stratify=False)
    assert len(train) == 7 and len(test) == 3


@pytest.mark.parametrize("rate", ["0.5", None, True, [0.5]])
def test_a_hyperparameter_of_the_wrong_type_is_a_type_error_naming_it(rate):
    with pytest.raises(TypeError, match=r"dropout: `drop_rate` must be a float in \[0, 1\)"):
        dropout(rate)


def _torch_state(kind, **options):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    return dict(module(3, 4, **options).state_dict())


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_from_torch_names_a_missing_extra_or_misshaped_tensor(kind):
    state = _torch_state(kind)
    for gone, kept in (("bias_hh_l0", "bias_ih_l0"), ("bias_ih_l0", "bias_hh_l0")):
        with pytest.raises(ValueError, match=rf"has no '{gone}', though it has '{kept}'"):
            from_torch({k: v for k, v in state.items() if k != gone}, kind)
    with pytest.raises(ValueError, match=r"'bias_hh_l0' has shape \(\d+,\)"):
        from_torch({**state, "bias_hh_l0": state["bias_hh_l0"][:-1]}, kind)
    with pytest.raises(ValueError, match=r"'weight_hh_l0' has shape"):
        from_torch({**state, "weight_hh_l0": state["weight_hh_l0"][:, :-1]}, kind)
    with pytest.raises(ValueError, match=r"has keys \['extra'\] that"):
        from_torch({**state, "extra": state["bias_hh_l0"]}, kind)
    # Without biases at all (bias=False): zeros, as the module computes.
    unbiased = from_torch(_torch_state(kind, bias=False), kind)["layer_0"]
    assert not np.asarray(unbiased["b"]).any()
