"""A toy translation for seq2seq: a sequence of digits to the same digits reversed."""

import numpy as np

from jaxnets.cells import gru
from jaxnets.models import seq2seq
from jaxnets.train import accuracy, softmax_cross_entropy

from ._task import Task

BOS, EOS = 10, 11  # target ids: digits 0-9, then the start and end markers


def pairs(n: int, length: int, *, seed: int = 0):
    """Sources (n, length) digits and targets (n, length + 1): reversed, then EOS."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"reverse_digits: `length` must be an int >= 1, got {length!r}.")
    source = np.random.default_rng(seed).integers(0, 10, (n, length)).astype(np.int32)
    target = np.concatenate([source[:, ::-1], np.full((n, 1), EOS, np.int32)], axis=1)
    return source, target


def data(*, seed: int = 0, length: int = 10, n_train: int = 10000, n_test: int = 1000) -> dict:
    """x = (source, target) for teacher forcing, y = target."""
    source, target = pairs(n_train, length, seed=seed)
    source_test, target_test = pairs(n_test, length, seed=seed + 1_000_003)
    return {
        "x": (source, target), "y": target,
        "x_test": (source_test, target_test), "y_test": target_test,
    }  # fmt: skip


def model(
    cell=None,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    attention: bool | str = True,
    input_feeding: bool = False,
    decoder=None,
):
    """A GRU(64) encoder-decoder with attention by default; decode with ``model.decode``.

    ``cell`` encodes and, unless ``decoder`` is given, decodes. A ``bidirectional``
    encoder hands the decoder its two directions' carries side by side, so it needs a
    ``decoder`` cell of twice ``cell``'s size.
    """
    cell = cell or gru(64)
    if bidirectional and decoder is None:
        raise ValueError(
            "reverse_digits.model: a bidirectional encoder needs a `decoder` cell of twice "
            "the encoder cell's size (its carry is both directions' side by side); got "
            "decoder=None."
        )
    return seq2seq(
        cell, decoder or cell, 10, 12, bos_id=BOS, eos_id=EOS, attention=attention,
        attention_units=64 if attention == "additive" else None, num_layers=num_layers,
        bidirectional=bidirectional, input_feeding=input_feeding,
    )  # fmt: skip


task = Task(
    "reverse_digits", data, model, softmax_cross_entropy, accuracy, "token_accuracy", "max", 12
)
