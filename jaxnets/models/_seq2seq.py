"""Encoder-decoder (seq2seq) over any two cells, with optional attention."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform, normal

from jaxnets.core import Cell, cell_output_size, check_ids, check_shape
from jaxnets.layers import lookup
from jaxnets.rnn import attend, attention_params, check_score, step_mask, unroll

from ._decoding import beam_search, check_generation, generate

METHODS = ("greedy", "sample", "beam")


class Seq2Seq(NamedTuple):
    """A Layer-like encoder-decoder whose ``apply`` trains and ``decode`` generates.

    ``init(key, input_shape) -> (output_shape, params, state)``, input_shape ((S,), (T,))
    ``apply(params, state, (source, target), *, key=None, train=False,
    source_lengths=None) -> (logits (B, T, V), state)``: teacher forcing.
    ``decode(params, source, *, max_length, method="greedy", ...) -> tokens``.
    """

    init: Callable
    apply: Callable
    name: str
    children: tuple
    decode: Callable


def seq2seq(
    encoder: Cell,
    decoder: Cell,
    source_vocab: int,
    target_vocab: int,
    *,
    bos_id: int,
    eos_id: int,
    embed_size: int = 32,
    attention: bool | str = False,
    attention_units: int | None = None,
    name: str = "seq2seq",
) -> Seq2Seq:
    """Encoder-decoder RNN (Sutskever et al. 2014; Cho et al. 2014), T_y != T_x.

    The encoder reads the embedded source; its final carry initialises the decoder
    (so both cells must have carries of the same structure and sizes). In training
    the decoder reads the target shifted right, ``bos_id`` first (teacher forcing),
    and predicts every target token:

      carry, enc  = unroll(encoder, E_s[source])                    enc (B, S, H)
      _, dec      = unroll(decoder, E_t[[bos, y_0 .. y_{T-2}]], carry)  dec (B, T, H)
      logits      = dec w_o + b_o                                   (B, T, V)

    With ``attention`` (Luong et al. 2015; ``True`` is their "general" score), every
    decoder output attends over the encoder outputs of the valid source steps, with any
    score of ``jaxnets.rnn.attend`` (e_ts = dec_t w_a enc_s for "general"):

      a_ts   = softmax_s(e_ts),             ctx_t = sum_s a_ts enc_s
      out_t  = tanh([ctx_t, dec_t] w_c),    logits_t = out_t w_o + b_o

    Attention reads the decoder's outputs, not its inputs, so the decoder's input
    projection still runs as one matmul over all steps.

    Args:
      encoder: a Cell for the source.
      decoder: a Cell for the target, with the encoder's carry structure.
      source_vocab: V_s, source token ids in [0, V_s).
      target_vocab: V, target ids in [0, V), ``bos_id`` and ``eos_id`` included. Ids
        outside either vocabulary are a ``ValueError`` naming the id where their values
        are known; under ``jit`` they embed as NaN, so their logits are NaN.
      bos_id: the decoder's first input.
      eos_id: the end marker; decoding stops a row at it.
      embed_size: E of both embeddings.
      attention: ``False`` (none), ``True`` ("general") or a score of
        ``jaxnets.rnn.attend``: "dot", "general" or "additive".
      attention_units: the additive score's hidden size.

    Returns:
      A ``Seq2Seq``. Params: ``source_embedding`` (V_s, E), ``target_embedding``
      (V, E), ``encoder``, ``decoder``, ``head`` (``w`` (H, V), ``b`` (V,)) and, with
      attention, ``attention`` (the score's params, e.g. ``w_a`` (H, H_enc) for
      "general", and ``w_c`` (H_enc + H, H)).
    """
    for arg, value in (("source_vocab", source_vocab), ("target_vocab", target_vocab)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: `{arg}` must be a positive int, got {value!r}.")
    for arg, value in (("bos_id", bos_id), ("eos_id", eos_id)):
        if not isinstance(value, int) or not 0 <= value < target_vocab:
            raise ValueError(
                f"{name}: `{arg}` must be an int in [0, {target_vocab}), got {value!r}."
            )
    if attention is True:
        score = "general"
    elif attention is False or attention is None:
        score = None
    else:
        check_score(name, attention, attention_units)
        score = attention
    if not isinstance(encoder, Cell) or not isinstance(decoder, Cell):
        raise TypeError(
            f"{name}: `encoder` and `decoder` must be Cells, got {encoder!r}, {decoder!r}."
        )

    def init(key, input_shape):
        (_source_shape, target_shape) = input_shape
        keys = jax.random.split(key, 6)
        params = {
            "source_embedding": normal(1.0)(keys[0], (source_vocab, embed_size)),
            "target_embedding": normal(1.0)(keys[1], (target_vocab, embed_size)),
            "encoder": encoder.init(keys[2], embed_size),
            "decoder": decoder.init(keys[3], embed_size),
        }
        shapes = [
            jax.eval_shape(lambda p, c=cell: c.initial_carry(p, (1,)), params[part])
            for part, cell in (("encoder", encoder), ("decoder", decoder))
        ]
        if jax.tree.structure(shapes[0]) != jax.tree.structure(shapes[1]) or any(
            a.shape != b.shape for a, b in zip(*map(jax.tree.leaves, shapes))
        ):
            raise ValueError(
                f"{name}.init: the encoder's final carry initialises the decoder, so their "
                f"carries must match; got {shapes[0]} and {shapes[1]}."
            )
        hidden = cell_output_size(decoder, params["decoder"], embed_size)
        if score:
            enc_size = cell_output_size(encoder, params["encoder"], embed_size)
            if score == "dot" and enc_size != hidden:
                raise ValueError(
                    f"{name}.init: attention='dot' needs encoder and decoder outputs of one "
                    f"size, got {enc_size} and {hidden}."
                )
            params["attention"] = {
                **attention_params(keys[4], score, hidden, enc_size, attention_units, jnp.float32),
                "w_c": glorot_uniform()(keys[5], (enc_size + hidden, hidden)),
            }
        params["head"] = {
            "w": glorot_uniform()(jax.random.fold_in(key, 7), (hidden, target_vocab)),
            "b": jnp.zeros((target_vocab,)),
        }
        # The output shape from apply itself, traced on a batch of one pair of id rows.
        ids = (_ids_like(_source_shape), _ids_like(target_shape))
        logits = jax.eval_shape(lambda p, x: apply(p, {}, x)[0], params, ids)
        return tuple(logits.shape[1:]), params, {}

    def encode(params, source, source_lengths):
        check_token_ids(f"{name}", "source", source, source_vocab)
        embedded = lookup(params["source_embedding"], source)
        carry, enc = unroll(encoder, params["encoder"], embedded, lengths=source_lengths)
        num_steps = source.shape[1]
        lengths = (
            jnp.full(source.shape[:1], num_steps) if source_lengths is None else source_lengths
        )
        return carry, enc, step_mask(lengths, num_steps)

    def logits_of(params, dec, enc, valid):
        """Logits from decoder outputs dec (B, T, H) given encoder outputs (B, S, H_enc)."""
        if score:
            att = params["attention"]
            context, _ = attend(att, score, dec, enc, valid)
            dec = jnp.tanh(jnp.concatenate([context, dec], axis=-1) @ att["w_c"])
        return dec @ params["head"]["w"] + params["head"]["b"][None, None, :]

    def apply(params, state, x, *, key=None, train=False, source_lengths=None):
        source, target = x
        check_token_ids(f"{name}.apply", "target", target, target_vocab)
        if target.shape[0] != source.shape[0]:
            raise ValueError(
                f"{name}.apply: `source` and `target` must have the same batch size, got "
                f"{source.shape[0]} and {target.shape[0]}."
            )
        carry, enc, valid = encode(params, source, source_lengths)
        inputs = jnp.concatenate(
            [jnp.full((*target.shape[:1], 1), bos_id, target.dtype), target[:, :-1]], axis=1
        )
        _, dec = unroll(
            decoder, params["decoder"], lookup(params["target_embedding"], inputs), carry=carry
        )
        return logits_of(params, dec, enc, valid), state

    def decode(
        params,
        source,
        *,
        max_length: int,
        method: str = "greedy",
        source_lengths=None,
        key=None,
        temperature: float = 1.0,
        top_k: int | None = None,
        beam_size: int = 4,
        length_penalty: float = 0.0,
    ):
        """Generate up to ``max_length`` target tokens per source sequence.

        ``method`` is ``"greedy"`` (argmax at every step), ``"sample"`` (from
        softmax(logits / temperature), optionally among the ``top_k`` best; needs
        ``key``) or ``"beam"`` (``beam_search`` with ``beam_size`` and
        ``length_penalty``, the best beam returned). Rows stop at ``eos_id`` and are
        padded with it.

        Returns:
          (B, max_length) token ids.
        """
        if method not in METHODS:
            raise ValueError(f"{name}.decode: `method` must be one of {METHODS}, got {method!r}.")
        sampling = method == "sample"
        check_generation(f"{name}.decode", max_length, temperature if sampling else 0.0, top_k, key)
        carry, enc, valid = encode(params, source, source_lengths)
        start = jnp.full(source.shape[:1], bos_id, jnp.int32)
        if method == "beam":
            enc, valid = (jnp.repeat(a, beam_size, axis=0) for a in (enc, valid))

        def step(carry, token):
            carry, y = decoder.step(
                params["decoder"], carry, lookup(params["target_embedding"], token)
            )
            return carry, logits_of(params, y[:, None], enc, valid)[:, 0]

        if method == "beam":
            tokens, _ = beam_search(
                step, carry, start, max_length, beam_size=beam_size, eos_id=eos_id,
                length_penalty=length_penalty,
            )  # fmt: skip
            return tokens[:, 0]
        tokens, _ = generate(
            step, carry, start, max_length, key=key, eos_id=eos_id,
            temperature=temperature if sampling else 0.0, top_k=top_k,
        )  # fmt: skip
        return tokens

    return Seq2Seq(init, apply, name, (), decode)


def _ids_like(shape):
    return jax.ShapeDtypeStruct((1, *tuple(shape)), jnp.int32)


def check_token_ids(where: str, name: str, ids, vocab_size: int) -> None:
    """Token ids must be a (B, T) int array of ids in [0, ``vocab_size``) (checked where
    concrete; under ``jit`` ids out of range embed as NaN)."""
    check_shape(where, name, ids, (None, None))
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise TypeError(f"{where}: `{name}` must hold integer token ids, got dtype {ids.dtype}.")
    check_ids(where, name, ids, vocab_size)
