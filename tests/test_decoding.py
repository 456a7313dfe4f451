"""Greedy, sampled and beam-search generation against a Markov chain worked in NumPy."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.models import beam_search, choose_token, generate

V, EOS = 5, 4


@pytest.fixture
def chain(rng):
    """A first-order Markov chain: logits of the next token given the current one."""
    logits = rng.normal(size=(V, V)).astype(np.float32) * 2

    def step(carry, token):
        return carry + 1, jnp.asarray(logits)[token]

    return logits, step


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_greedy_generation_follows_the_argmax_chain(chain):
    logits, step = chain
    start = jnp.array([0, 1, 2])
    tokens, steps_taken = generate(step, jnp.zeros(3), start, 6)
    for b, token in enumerate([0, 1, 2]):
        expected = []
        for _ in range(6):
            token = int(logits[token].argmax())
            expected.append(token)
        np.testing.assert_array_equal(tokens[b], expected)
    np.testing.assert_array_equal(steps_taken, 6)


def test_rows_stop_at_eos(chain):
    logits, step = chain
    logits[:, EOS] = -10
    logits[2, EOS] = 10  # token 2 is always followed by the end marker
    tokens, _ = generate(step, 0, jnp.array([2, 2]), 5, eos_id=EOS)
    np.testing.assert_array_equal(tokens, np.full((2, 5), EOS))


def test_low_temperature_sampling_equals_greedy_and_the_key_fixes_the_sample(chain):
    _, step = chain
    start = jnp.arange(V)
    greedy, _ = generate(step, 0, start, 8)
    cold, _ = generate(step, 0, start, 8, key=jax.random.key(0), temperature=1e-4)
    np.testing.assert_array_equal(cold, greedy)
    a, _ = generate(step, 0, start, 8, key=jax.random.key(1), temperature=1.0)
    b, _ = generate(step, 0, start, 8, key=jax.random.key(1), temperature=1.0)
    np.testing.assert_array_equal(a, b)


def test_top_k_samples_only_among_the_k_most_likely(rng):
    logits = jnp.asarray(rng.normal(size=(4, 20)).astype(np.float32))
    keys = jax.random.split(jax.random.key(0), 500)
    samples = jax.vmap(lambda k: choose_token(logits, k, temperature=2.0, top_k=3))(keys)
    top3 = np.argsort(-np.asarray(logits), axis=-1)[:, :3]
    for row in range(4):
        assert set(np.asarray(samples[:, row]).tolist()) == set(top3[row].tolist())


def test_sampling_frequencies_follow_the_softmax(rng):
    logits = jnp.asarray([[0.0, 1.0, 2.0]])
    keys = jax.random.split(jax.random.key(3), 20000)
    samples = np.asarray(jax.vmap(lambda k: choose_token(logits, k, temperature=1.0))(keys))
    expected = np.exp(_log_softmax(np.asarray(logits)[0]))
    np.testing.assert_allclose(
        np.bincount(samples[:, 0], minlength=3) / 20000, expected, atol=0.015
    )


def _sequence_logp(logits, start, tokens):
    logp, token = 0.0, start
    for t in tokens:
        logp += _log_softmax(logits[token])[t]
        token = t
    return logp


def test_beam_search_as_wide_as_all_sequences_finds_the_most_likely_one(chain):
    logits, step = chain
    length = 3
    tokens, scores = beam_search(step, jnp.zeros(2), jnp.array([0, 3]), length, beam_size=V**length)
    for b, start in enumerate([0, 3]):
        every = {
            seq: _sequence_logp(logits, start, seq)
            for seq in itertools.product(range(V), repeat=length)
        }
        best = max(every, key=every.get)
        np.testing.assert_array_equal(tokens[b, 0], best)
        np.testing.assert_allclose(scores[b, 0], every[best], rtol=1e-5)
        # Every returned beam is a distinct sequence scored by its true log probability.
        for k in range(5):
            np.testing.assert_allclose(
                scores[b, k], every[tuple(np.asarray(tokens[b, k]))], rtol=1e-5
            )
        assert np.all(np.diff(np.asarray(scores[b])) <= 1e-6)


def test_beam_of_one_is_greedy(chain):
    _, step = chain
    greedy, _ = generate(step, 0, jnp.arange(V), 7)
    beam, _ = beam_search(step, jnp.zeros(V), jnp.arange(V), 7, beam_size=1)
    np.testing.assert_array_equal(beam[:, 0], greedy)


def test_finished_beams_stay_finished(chain):
    logits, step = chain
    logits[1, EOS] = 8.0  # from 1 the end is near-certain
    tokens, scores = beam_search(step, jnp.zeros(1), jnp.array([1]), 4, beam_size=3, eos_id=EOS)
    best = np.asarray(tokens[0, 0])
    assert best[0] == EOS and (best == EOS).all()
    np.testing.assert_allclose(scores[0, 0], _log_softmax(logits[1])[EOS], rtol=1e-5)


def test_generation_arguments_are_checked():
    from jaxnets.models._decoding import check_generation

    with pytest.raises(ValueError, match="`length`"):
        check_generation("sample", 0, 1.0, None, jax.random.key(0))
    with pytest.raises(ValueError, match="`temperature`"):
        check_generation("sample", 5, -0.5, None, jax.random.key(0))
    with pytest.raises(ValueError, match="`top_k`"):
        check_generation("sample", 5, 1.0, 0, jax.random.key(0))
    with pytest.raises(ValueError, match="`key`"):
        check_generation("sample", 5, 1.0, None, None)
    with pytest.raises(ValueError, match="`beam_size`"):
        beam_search(lambda c, t: (c, jnp.zeros((1, V))), 0, jnp.array([0]), 3, beam_size=0)
