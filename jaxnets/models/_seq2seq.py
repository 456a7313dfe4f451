"""Encoder-decoder (seq2seq) over any two cells: stacked, a bidirectional encoder,
attention with any score, input feeding."""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.nn.initializers import glorot_uniform, normal

from jaxnets.core import Cell, cell_output_size, check_ids, check_shape
from jaxnets.layers import lookup
from jaxnets.rnn import (
    attend,
    attention_params,
    check_score,
    stacked_cell,
    stacked_rnn,
    step_mask,
    unroll,
)

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
    num_layers: int = 1,
    bidirectional: bool = False,
    input_feeding: bool = False,
    name: str = "seq2seq",
) -> Seq2Seq:
    """Encoder-decoder RNN (Sutskever et al. 2014; Cho et al. 2014), T_y != T_x.

    The encoder reads the embedded source; its final carries initialise the decoder,
    layer by layer (so both cells must have carries of the same structure and sizes).
    In training the decoder reads the target shifted right, ``bos_id`` first (teacher
    forcing), and predicts every target token:

      carry, enc  = stacked_rnn(encoder)(E_s[source])                enc (B, S, H_enc)
      _, dec      = stacked_rnn(decoder)(E_t[[bos, y_0 .. y_{T-2}]], carry)  (B, T, H)
      logits      = dec w_o + b_o                                   (B, T, V)

    ``num_layers`` stacks that many layers in the encoder and in the decoder (layer i of
    the decoder starts from layer i of the encoder). With ``bidirectional`` each encoder
    layer also reads the source backwards; enc is both directions' outputs
    concatenated (H_enc is twice the encoder cell's size) and each decoder layer starts
    from the forward and backward final carries concatenated leaf by leaf, so the
    decoder's cell has twice the encoder's size (OpenNMT's bidirectional encoder).

    With ``attention`` (Luong et al. 2015; ``True`` is their "general" score), every
    decoder output attends over the encoder outputs of the valid source steps, with any
    score of ``jaxnets.rnn.attend`` (e_ts = dec_t w_a enc_s for "general"):

      a_ts   = softmax_s(e_ts),             ctx_t = sum_s a_ts enc_s
      out_t  = tanh([ctx_t, dec_t] w_c),    logits_t = out_t w_o + b_o

    Without input feeding attention reads the decoder's outputs, not its inputs, so the
    decoder runs layer by layer over all steps, each layer's input projection one
    matmul. With ``input_feeding`` (Luong et al. 2015, section 3.3) the decoder reads
    [E_t[y_{t-1}], out_{t-1}] (out_{-1} = 0), so it knows what it attended to before;
    then every step runs the whole decoder stack and attention in the loop.

    Args:
      encoder: a Cell for the source.
      decoder: a Cell for the target, with the encoder's carry structure (leaves of
        twice the size with ``bidirectional``).
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
      num_layers: layers in the encoder and in the decoder.
      bidirectional: a bidirectional encoder.
      input_feeding: feed the last attentional output to the decoder; needs attention.
      name: label for errors.

    Returns:
      A ``Seq2Seq``. Params: ``source_embedding`` (V_s, E), ``target_embedding``
      (V, E), ``encoder`` (``stacked_rnn``'s: ``layer_0``, ... each a cell's params or
      with ``bidirectional`` ``{"forward", "backward"}``), ``decoder`` (``layer_0``,
      ...), ``head`` (``w`` (H, V), ``b`` (V,)) and, with attention, ``attention`` (the
      score's params, e.g. ``w_a`` (H, H_enc) for "general", and ``w_c``
      (H_enc + H, H)).
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
    for arg, value in (("bidirectional", bidirectional), ("input_feeding", input_feeding)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: `{arg}` must be a bool, got {value!r}.")
    if input_feeding and not score:
        raise ValueError(
            f"{name}: `input_feeding` feeds the attentional output back, so it needs "
            f"`attention`; got attention={attention!r}."
        )
    encoder_rnn = stacked_rnn(
        encoder, num_layers, bidirectional=bidirectional, return_carry=True, name=f"{name}.encoder"
    )
    decoder_rnn = stacked_rnn(decoder, num_layers, return_carry=True, name=f"{name}.decoder")
    decoder_cell = stacked_cell(decoder, num_layers, name=f"{name}.decoder")

    def init(key, input_shape):
        (source_shape, target_shape) = input_shape
        keys = jax.random.split(key, 6)
        params = {
            "source_embedding": normal(1.0)(keys[0], (source_vocab, embed_size)),
            "target_embedding": normal(1.0)(keys[1], (target_vocab, embed_size)),
        }
        (enc_shape, _), params["encoder"], _ = encoder_rnn.init(keys[2], (1, embed_size))
        probe = jax.eval_shape(partial(decoder.init, input_size=embed_size), keys[3])
        hidden = cell_output_size(decoder, probe, embed_size)
        feed = hidden if input_feeding else 0
        params["decoder"] = decoder_cell.init(keys[3], embed_size + feed)
        carries = [
            jax.eval_shape(lambda p: encode(p, jnp.zeros((1, 1), jnp.int32), None)[0], params),
            jax.eval_shape(lambda p: decoder_cell.initial_carry(p, (1,)), params["decoder"]),
        ]
        if jax.tree.structure(carries[0]) != jax.tree.structure(carries[1]) or any(
            a.shape != b.shape for a, b in zip(*map(jax.tree.leaves, carries))
        ):
            raise ValueError(
                f"{name}.init: the encoder's final carries initialise the decoder"
                + (", forward and backward concatenated" if bidirectional else "")
                + f", so their carries must match; got {carries[0]} and {carries[1]}."
            )
        if score:
            enc_size = enc_shape[-1]
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
        ids = (_ids_like(source_shape), _ids_like(target_shape))
        logits = jax.eval_shape(lambda p, x: apply(p, {}, x)[0], params, ids)
        return tuple(logits.shape[1:]), params, {}

    def bridge(carries):
        """The decoder's initial carry from the encoder's final carries."""
        if not bidirectional:
            return carries
        return tuple(
            jax.tree.map(lambda f, b: jnp.concatenate([f, b], axis=-1), forward, backward)
            for forward, backward in carries
        )

    def encode(params, source, source_lengths):
        check_token_ids(f"{name}", "source", source, source_vocab)
        embedded = lookup(params["source_embedding"], source)
        (enc, carries), _ = encoder_rnn.apply(
            params["encoder"], {}, embedded, lengths=source_lengths
        )
        num_steps = source.shape[1]
        lengths = (
            jnp.full(source.shape[:1], num_steps) if source_lengths is None else source_lengths
        )
        return bridge(carries), enc, step_mask(lengths, num_steps)

    def attentional(params, dec, enc, valid):
        """out (B, T, H) from decoder outputs dec (B, T, H), encoder outputs (B, S, H_enc)."""
        if not score:
            return dec
        att = params["attention"]
        context, _ = attend(att, score, dec, enc, valid)
        return jnp.tanh(jnp.concatenate([context, dec], axis=-1) @ att["w_c"])

    def head(params, out):
        b = params["head"]["b"]
        return out @ params["head"]["w"] + b.reshape((1,) * (out.ndim - 1) + b.shape)

    def fed_step(params, enc, valid):
        """One decoder step with input feeding: carry (stack carries, out_{t-1})."""

        def step(carry, e_t):
            stack, out = carry
            stack, dec = decoder_cell.step(
                params["decoder"], stack, jnp.concatenate([e_t, out], axis=-1)
            )
            out = attentional(params, dec[:, None], enc, valid)[:, 0]
            return (stack, out), out

        return step

    def start_carry(params, carry):
        if not input_feeding:
            return carry
        rows = jax.tree.leaves(carry)[0].shape[0]
        return carry, jnp.zeros((rows, params["head"]["w"].shape[0]), params["head"]["w"].dtype)

    def apply(params, state, x, *, key=None, train=False, source_lengths=None):
        source, target = x
        check_token_ids(f"{name}.apply", "target", target, target_vocab)
        target = jnp.asarray(target)
        if target.shape[0] != source.shape[0]:
            raise ValueError(
                f"{name}.apply: `source` and `target` must have the same batch size, got "
                f"{source.shape[0]} and {target.shape[0]}."
            )
        carry, enc, valid = encode(params, source, source_lengths)
        inputs = jnp.concatenate(
            [jnp.full((*target.shape[:1], 1), bos_id, target.dtype), target[:, :-1]], axis=1
        )
        embedded = lookup(params["target_embedding"], inputs)
        if input_feeding:
            step = fed_step(params, enc, valid)
            fed = Cell(None, None, lambda _, c, e: step(c, e))
            _, out = unroll(fed, None, embedded, carry=start_carry(params, carry))
        else:
            (dec, _), _ = decoder_rnn.apply(params["decoder"], {}, embedded, carry=carry)
            out = attentional(params, dec, enc, valid)
        return head(params, out), state

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
            e_t = lookup(params["target_embedding"], token)
            if input_feeding:
                carry, out = fed_step(params, enc, valid)(carry, e_t)
            else:
                carry, dec = decoder_cell.step(params["decoder"], carry, e_t)
                out = attentional(params, dec[:, None], enc, valid)[:, 0]
            return carry, head(params, out)

        carry = start_carry(params, carry)
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
