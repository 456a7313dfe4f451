"""seq2seq with stacked and bidirectional encoders, input feeding and every score, against
NumPy written from the equations; stacked_cell against stacked_rnn; decoding consistent
with teacher forcing; variants that learn; named errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.cells import gru, lstm
from jaxnets.models import seq2seq
from jaxnets.rnn import stacked_cell, stacked_rnn, unroll

BOS, EOS = 0, 1


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_gru(p, h, x):
    """torch.nn.GRU's step from its equations (jaxnets' params: b holds both r, z biases)."""
    hidden = h.shape[-1]
    gx, gh = x @ p["w_x"] + p["b"], h @ p["w_h"]
    r = _sigmoid(gx[:hidden] + gh[:hidden])
    z = _sigmoid(gx[hidden : 2 * hidden] + gh[hidden : 2 * hidden])
    n = np.tanh(gx[2 * hidden :] + r * (gh[2 * hidden :] + p["b_hn"]))
    return (1 - z) * n + z * h


def np_run(p, xs, length, reverse):
    """One direction over one sequence's valid steps: outputs (zeros past length), final h."""
    h = np.zeros(p["w_h"].shape[0])
    ys = np.zeros((len(xs), len(h)))
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        h = np_gru(p, h, xs[t])
        ys[t] = h
    return ys, h


def np_attend(score, att, query, memory, length):
    if score == "dot":
        e = memory[:length] @ query
    elif score == "general":
        e = memory[:length] @ (query @ att["w_a"])
    else:
        e = np.tanh(query @ att["w_q"] + memory[:length] @ att["w_m"]) @ att["v"]
    a = np.exp(e - e.max())
    a /= a.sum()
    return a @ memory[:length]


def np_seq2seq(p, source, target, lengths, *, layers, bidirectional, score, feeding):
    """Teacher-forced logits (B, T, V), one example at a time, loops over layers and time."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
    logits = []
    for src, tgt, length in zip(source, target, lengths):
        xs, carries = p["source_embedding"][src], []
        for i in range(layers):
            layer = p["encoder"][f"layer_{i}"]
            if bidirectional:
                f_ys, f_h = np_run(layer["forward"], xs, length, False)
                b_ys, b_h = np_run(layer["backward"], xs, length, True)
                xs, h = np.concatenate([f_ys, b_ys], -1), np.concatenate([f_h, b_h])
            else:
                xs, h = np_run(layer, xs, length, False)
            carries.append(h)
        enc, out, row_logits = xs, np.zeros(p["head"]["w"].shape[0]), []
        for token in [BOS, *tgt[:-1]]:
            x = p["target_embedding"][token]
            if feeding:
                x = np.concatenate([x, out])
            for i in range(layers):
                carries[i] = np_gru(p["decoder"][f"layer_{i}"], carries[i], x)
                x = carries[i]
            out = x
            if score:
                context = np_attend(score, p["attention"], x, enc, length)
                out = np.tanh(np.concatenate([context, x]) @ p["attention"]["w_c"])
            row_logits.append(out @ p["head"]["w"] + p["head"]["b"])
        logits.append(row_logits)
    return np.asarray(logits)


VARIANTS = {
    "two_layers_bidirectional_feeding_general": (8, 16, 2, True, "general", True),
    "two_layers_no_attention": (8, 8, 2, False, None, False),
    "bidirectional_dot": (6, 12, 1, True, "dot", False),
    "feeding_additive": (8, 8, 1, False, "additive", True),
}


def _model(variant):
    enc, dec, layers, bidirectional, score, feeding = VARIANTS[variant]
    return seq2seq(
        gru(enc), gru(dec), 7, 9, bos_id=BOS, eos_id=EOS, embed_size=5, attention=score or False,
        attention_units=6, num_layers=layers, bidirectional=bidirectional, input_feeding=feeding,
    )  # fmt: skip


def _noisy(params, seed):
    # Every param away from init (zero biases included), so each term of the equations counts.
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda a: a + jnp.asarray(rng.normal(0, 0.2, a.shape), a.dtype), params)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_teacher_forcing_equals_numpy_equations(rng, variant):
    model = _model(variant)
    _, params, _ = model.init(jax.random.key(0), ((6,), (4,)))
    params = _noisy(params, 1)
    source = rng.integers(0, 7, size=(3, 6))
    target = rng.integers(0, 9, size=(3, 4))
    lengths = np.array([6, 2, 4])
    logits, _ = model.apply(params, {}, (source, target), source_lengths=jnp.asarray(lengths))
    _, _, layers, bidirectional, score, feeding = VARIANTS[variant]
    want = np_seq2seq(
        params, source, target, lengths, layers=layers, bidirectional=bidirectional,
        score=score, feeding=feeding,
    )  # fmt: skip
    np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_greedy_decoding_agrees_with_teacher_forcing(rng, variant):
    # The step-by-step decoder (stacked_cell, attention in the loop) and the teacher-forced
    # pass (stacked_rnn over all steps) are two routes to the same logits.
    model = _model(variant)
    _, params, _ = model.init(jax.random.key(2), ((6,), (5,)))
    params = _noisy(params, 3)
    source = jnp.asarray(rng.integers(0, 7, size=(4, 6)))
    tokens = np.asarray(model.decode(params, source, max_length=5))
    logits, _ = model.apply(params, {}, (source, jnp.asarray(tokens)))
    chosen = np.asarray(logits).argmax(-1)
    for row, want in zip(chosen, tokens):
        stop = list(want).index(EOS) + 1 if EOS in want else len(want)
        np.testing.assert_array_equal(row[:stop], want[:stop])


@pytest.mark.parametrize(
    "make", [lambda: gru(5), lambda: lstm(5, proj_size=3)], ids=["gru", "lstm"]
)
def test_stacked_cell_equals_stacked_rnn(rng, make):
    cell, deep = stacked_cell(make(), 3), stacked_rnn(make(), 3, return_carry=True)
    params = cell.init(jax.random.key(4), 4)
    _, layer_params, _ = deep.init(jax.random.key(4), (6, 4))
    jax.tree.map(np.testing.assert_array_equal, params, layer_params)
    xs = jnp.asarray(rng.normal(size=(2, 6, 4)), jnp.float32)
    lengths = jnp.array([6, 3])
    carry, ys = unroll(cell, params, xs, lengths=lengths)
    (want_ys, want_carry), _ = deep.apply(params, {}, xs, lengths=lengths)
    np.testing.assert_allclose(ys, want_ys, rtol=1e-5, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), carry, want_carry
    )


@pytest.mark.parametrize(
    "options",
    [{"num_layers": 2}, {"bidirectional": True, "input_feeding": True}],
    ids=["two_layers", "bidirectional_feeding"],
)
def test_variants_learn_to_reverse(options):
    import optax

    from jaxnets.train import fit, softmax_cross_entropy

    decoder = gru(32) if options.get("bidirectional") else gru(16)
    model = seq2seq(
        gru(16), decoder, 6, 6, bos_id=0, eos_id=1, embed_size=8, attention=True, **options
    )
    source = np.random.default_rng(0).integers(2, 6, size=(256, 5))
    target = source[:, ::-1]
    _, params, state = model.init(jax.random.key(0), ((5,), (5,)))
    result = fit(
        model, params, state, optax.adam(1e-2), softmax_cross_entropy, (source, target),
        target, epochs=15, batch_size=32, key=jax.random.key(1),
    )  # fmt: skip
    tokens = model.decode(result.params, source[:64], max_length=5)
    assert (np.asarray(tokens) == target[:64]).mean() > 0.9


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="`input_feeding` feeds the attentional output back"):
        seq2seq(gru(4), gru(4), 5, 5, bos_id=0, eos_id=1, input_feeding=True)
    with pytest.raises(ValueError, match="forward and backward concatenated, so their carries"):
        seq2seq(gru(4), gru(4), 5, 5, bos_id=0, eos_id=1, bidirectional=True).init(
            jax.random.key(0), ((3,), (3,))
        )
    with pytest.raises(ValueError, match=r"`num_layers` must be an int >= 1, got 0"):
        seq2seq(gru(4), gru(4), 5, 5, bos_id=0, eos_id=1, num_layers=0)
    with pytest.raises(TypeError, match="`bidirectional` must be a bool, got 'yes'"):
        seq2seq(gru(4), gru(4), 5, 5, bos_id=0, eos_id=1, bidirectional="yes")
