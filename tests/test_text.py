"""Tokenizers, truncated BPTT, perplexity and sampling of the text language models."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxnets.cells import gru, lstm
from jaxnets.models import initial_carry
from jaxnets.rnn import unroll
from jaxnets.text import (
    EOS,
    UNK,
    char_tokenizer,
    fit_lm,
    licence_corpus,
    lm_perplexity,
    tbptt_batches,
    text_lm,
    unigram_perplexity,
    word_tokenizer,
)

CORPUS = "the cat sat on the mat.\nthe dog sat on the log!\na cat, a dog.\n"
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "log", "a", ".", ",", "!"]


@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=6), min_size=1, max_size=5))
@settings(max_examples=50, deadline=None)
def test_word_tokenizer_round_trips(lines):
    tokenizer = word_tokenizer(CORPUS)
    text = "\n".join(" ".join(line) for line in lines)
    assert tokenizer.decode(tokenizer.encode(text)) == text


@given(st.text(alphabet=sorted(set(CORPUS)), max_size=40))
@settings(max_examples=50, deadline=None)
def test_char_tokenizer_round_trips(text):
    tokenizer = char_tokenizer(CORPUS)
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_vocabulary_specials_counts_and_cut_off():
    tokenizer = word_tokenizer(CORPUS, min_count=2)
    assert tokenizer.tokens[:2] == (EOS, UNK)
    assert tokenizer.eos_id == 0 and tokenizer.unk_id == 1
    # Kept: seen at least twice, most frequent first ("the": 4 times).
    assert tokenizer.tokens[2] == "the"
    assert "mat" not in tokenizer.tokens and "cat" in tokenizer.tokens
    ids = tokenizer.encode("The zebra sat on the mat", add_eos=True)
    words = [tokenizer.tokens[i] for i in ids]
    assert words == ["the", UNK, "sat", "on", "the", UNK, EOS]
    assert word_tokenizer(CORPUS, max_size=5).vocab_size == 5


def test_line_breaks_are_eos_for_words():
    tokenizer = word_tokenizer(CORPUS)
    ids = tokenizer.encode("a dog.\nthe cat")
    assert [tokenizer.tokens[i] for i in ids] == ["a", "dog", ".", EOS, "the", "cat"]


def test_unknown_characters_are_an_error_without_unk():
    with pytest.raises(ValueError, match=r"`text`.*'z'"):
        char_tokenizer(CORPUS).encode("zebra")
    tokenizer = char_tokenizer(CORPUS, unknown=True)
    assert tokenizer.encode("z").tolist() == [tokenizer.unk_id]


def test_bad_corpus_and_ids():
    with pytest.raises(ValueError, match="`corpus` is empty"):
        word_tokenizer("  \n")
    with pytest.raises(TypeError, match="`corpus`"):
        char_tokenizer(["a", "b"])
    with pytest.raises(ValueError, match="`min_count`"):
        word_tokenizer(CORPUS, min_count=0)
    with pytest.raises(ValueError, match="`ids`"):
        word_tokenizer(CORPUS).decode([0, 999])


def test_tbptt_batches_are_parallel_contiguous_streams():
    ids = np.arange(103)
    inputs, targets = tbptt_batches(ids, 4, 5)
    assert inputs.shape == targets.shape == (5, 4, 5)  # 102 // 4 = 25 per stream: 5 chunks
    np.testing.assert_array_equal(targets, inputs + 1)
    # Stream 1 is the second quarter of the text, in order across chunks.
    np.testing.assert_array_equal(inputs[:, 1].reshape(-1), np.arange(25, 50))
    with pytest.raises(ValueError, match="`ids`"):
        tbptt_batches(np.arange(10), 4, 5)
    with pytest.raises(ValueError, match="`seq_len`"):
        tbptt_batches(ids, 4, 0)


@pytest.fixture(scope="module")
def small_lm():
    tokenizer = char_tokenizer(CORPUS)
    model = text_lm(tokenizer, gru(16), embed_size=8)
    _, params, _ = model.init(jax.random.key(0), (7,))
    return tokenizer, model, params


def test_perplexity_carries_the_state_through_the_whole_stream(small_lm):
    tokenizer, model, params = small_lm
    ids = tokenizer.encode(CORPUS * 2)
    usable = (ids.size - 1) // 10 * 10
    # One pass over the stream without chunks, written from the model's parts.
    e = params["embedding"]["table"][ids[None, :usable]]
    _, hs = unroll(gru(16), params["rnn"]["layer_0"], e)
    logits = hs[0] @ params["head"]["w"] + params["head"]["b"][None]
    log_p = jax.nn.log_softmax(logits)[np.arange(usable), ids[1 : usable + 1]]
    expected = math.exp(-float(log_p.mean()))
    assert lm_perplexity(model, params, ids, seq_len=10) == pytest.approx(expected, rel=1e-4)


def test_unigram_perplexity_of_a_uniform_stream_is_the_vocabulary_size():
    ids = np.tile(np.arange(7), 50)
    assert unigram_perplexity(ids, ids, 7) == pytest.approx(7.0)


def test_sampling_is_reproducible_and_cold_sampling_is_greedy(small_lm):
    _tokenizer, model, params = small_lm
    a = model.sample(params, "the ", 30, temperature=1.0, key=jax.random.key(5))
    b = model.sample(params, "the ", 30, temperature=1.0, key=jax.random.key(5))
    assert a == b and len(a) <= 30 and set(a) <= set(CORPUS)
    greedy = model.sample(params, "the ", 30, temperature=0)
    cold = model.sample(params, "the ", 30, temperature=1e-5, key=jax.random.key(6))
    assert greedy == cold


def test_sampling_stops_at_eos(small_lm):
    tokenizer, model, params = small_lm
    eos_always = jax.tree.map(jnp.zeros_like, params)
    eos_always["head"]["b"] = eos_always["head"]["b"].at[tokenizer.eos_id].set(10.0)
    assert model.sample(eos_always, "the", 20, temperature=0) == ""


def test_sample_arguments_are_checked(small_lm):
    _, model, params = small_lm
    with pytest.raises(ValueError, match=r"`prompt`.*'Z'"):
        model.sample(params, "Zoo", 5, temperature=0)
    with pytest.raises(ValueError, match="`length`"):
        model.sample(params, "the", 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`temperature`"):
        model.sample(params, "the", 5, temperature=-1.0, key=jax.random.key(0))


def test_word_prompts_map_unknown_words_to_unk():
    tokenizer = word_tokenizer(CORPUS)
    model = text_lm(tokenizer, gru(8), embed_size=4)
    _, params, _ = model.init(jax.random.key(0), (3,))
    text = model.sample(params, "the zebra", 5, key=jax.random.key(1))
    assert set(text.split()) <= set(tokenizer.tokens)


def test_char_lm_beats_the_unigram_baseline_on_held_out_text():
    corpus = licence_corpus()
    tokenizer = char_tokenizer(corpus["train"], unknown=True)
    train = tokenizer.encode(corpus["train"][:60000])
    test = tokenizer.encode(corpus["test"][:5000])
    model = text_lm(tokenizer, lstm(64), embed_size=16)
    _, params, _ = model.init(jax.random.key(0), (40,))
    result = fit_lm(
        model, params, optax.adam(1e-2), train, epochs=2, batch_size=32, seq_len=40,
        key=jax.random.key(1), validation_ids=test,
    )  # fmt: skip
    baseline = unigram_perplexity(train, test, tokenizer.vocab_size)
    assert baseline > 20
    assert result.history.val_metric[-1] < 0.5 * baseline
    assert result.history.loss[-1] < result.history.loss[0]
    # The engine's validation (one pass over the held-out stream) is lm_perplexity's.
    np.testing.assert_allclose(
        result.history.val_metric[-1],
        lm_perplexity(model, result.params, test, seq_len=len(test) - 1),
        rtol=1e-4,
    )
    text = model.sample(result.params, "The ", 100, temperature=0.8, key=jax.random.key(2))
    assert text.isprintable() or set(text) <= set(corpus["train"])


def test_initial_carry_is_the_cells_own():
    from jaxnets.models import language_model

    model = language_model(11, lstm(6), num_layers=2)
    _, params, _ = model.init(jax.random.key(0), (4,))
    carry = initial_carry(model, params, 3)
    assert len(carry) == 2 and carry[1].c.shape == (3, 6) and not np.asarray(carry[1].c).any()
