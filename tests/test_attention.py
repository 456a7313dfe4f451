"""Attention layers against float64 NumPy written from Luong's and Bahdanau's equations:
context and weights, length masks, gradients; seq2seq with every score."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxnets.cells import elman, gru
from jaxnets.models import seq2seq
from jaxnets.rnn import attention

B, TQ, S, Q, M, U = 3, 4, 6, 5, 5, 7


def np_attention(params, score, query, memory, lengths):
    out, all_weights = np.zeros((B, TQ, M)), np.zeros((B, TQ, S))
    for b in range(B):
        for t in range(TQ):
            q = query[b, t]
            e = np.full(S, -np.inf)
            for s in range(lengths[b]):
                m = memory[b, s]
                if score == "dot":
                    e[s] = q @ m
                elif score == "general":
                    e[s] = q @ params["w_a"] @ m
                else:
                    e[s] = params["v"] @ np.tanh(q @ params["w_q"] + m @ params["w_m"])
            a = np.exp(e - e.max())
            a /= a.sum()
            out[b, t] = a @ memory[b]
            all_weights[b, t] = a
    return out, all_weights


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_attention_matches_numpy_equations_with_lengths(rng, score):
    layer = attention(score, units=U, return_weights=True)
    (shape, weights_shape), params, state = layer.init(jax.random.key(0), ((TQ, Q), (S, M)))
    assert shape == (TQ, M) and weights_shape == (TQ, S)
    query = rng.normal(size=(B, TQ, Q)).astype(np.float32)
    memory = rng.normal(size=(B, S, M)).astype(np.float32)
    lengths = np.array([6, 1, 3])
    (context, weights), _ = layer.apply(params, state, (query, memory), lengths=lengths)
    p64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    want, want_weights = np_attention(p64, score, query, memory, lengths)
    np.testing.assert_allclose(context, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights, want_weights, rtol=1e-5, atol=1e-6)
    # Padded memory steps get weight 0 exactly, so their values cannot leak in.
    assert not np.asarray(weights)[1, :, 1:].any()
    poisoned = memory.copy()
    poisoned[1, 1:] = 1e6
    again, _ = layer.apply(params, state, (query, poisoned), lengths=lengths)
    np.testing.assert_array_equal(again[0][1], context[1])


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_attention_gradients_match_finite_differences(rng, score):
    layer = attention(score, units=3)
    _, params, state = layer.init(jax.random.key(0), ((2, 4), (3, 4)))
    with jax.enable_x64(True):
        query = jnp.asarray(rng.normal(size=(2, 2, 4)), jnp.float64)
        memory = jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float64)
        params64 = jax.tree.map(lambda a: a.astype(jnp.float64), params)

        def f(params, query, memory):
            return layer.apply(params, state, (query, memory), lengths=np.array([3, 2]))[0]

        check_grads(f, (params64, query, memory), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_attention_rejects_bad_input():
    with pytest.raises(
        ValueError, match=r"`score` must be one of \('dot', 'general', 'additive'\)"
    ):
        attention("cosine")
    with pytest.raises(ValueError, match="score='additive' needs `units`"):
        attention("additive")
    with pytest.raises(ValueError, match="score='dot' needs queries and memory of one size"):
        attention("dot").init(jax.random.key(0), ((2, 4), (3, 5)))
    layer = attention()
    _, params, state = layer.init(jax.random.key(0), ((2, 4), (3, 5)))
    x = (jnp.zeros((2, 2, 4)), jnp.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"`lengths` must lie in \[1, T\] = \[1, 3\]"):
        layer.apply(params, state, x, lengths=np.array([3, 4]))
    with pytest.raises(
        ValueError, match=r"`memory` must have shape \(2, \?, \?\), got \(3, 3, 5\)"
    ):
        layer.apply(params, state, (x[0], jnp.zeros((3, 3, 5))))


@pytest.mark.parametrize("score", [True, "dot", "general", "additive"])
def test_seq2seq_takes_every_score_and_learns_to_copy(score):
    """A copy task (target = source) trained a few hundred steps: every variant learns it."""
    import optax

    from jaxnets.train import fit, softmax_cross_entropy

    model = seq2seq(
        gru(16), gru(16), 6, 6, bos_id=0, eos_id=1, embed_size=8, attention=score,
        attention_units=8,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    source = rng.integers(2, 6, size=(256, 5))
    _, params, state = model.init(jax.random.key(0), ((5,), (5,)))
    result = fit(
        model, params, state, optax.adam(1e-2), softmax_cross_entropy, (source, source),
        source, epochs=15, batch_size=32, key=jax.random.key(1),
    )  # fmt: skip
    tokens = model.decode(result.params, source[:64], max_length=5)
    assert (np.asarray(tokens) == source[:64]).mean() > 0.9
    with pytest.raises(ValueError, match="attention='dot' needs encoder and decoder outputs"):
        seq2seq(elman(4, output_size=3), elman(4), 5, 5, bos_id=0, eos_id=1,
                attention="dot").init(jax.random.key(0), ((3,), (3,)))  # fmt: skip
