"""A character language model of the licence texts on the machine."""

from jaxnets.cells import lstm
from jaxnets.text import char_tokenizer, licence_corpus, text_lm


def data() -> dict:
    """The tokenizer and the id streams: ``train`` (13 licences), ``test`` (MPL-2.0).

    The vocabulary has ``<unk>`` for characters the training texts never use.
    """
    corpus = licence_corpus()
    tokenizer = char_tokenizer(corpus["train"], unknown=True)
    return {
        "tokenizer": tokenizer,
        "train": tokenizer.encode(corpus["train"], add_eos=True),
        "test": tokenizer.encode(corpus["test"], add_eos=True),
    }


def model(tokenizer, cell=None, *, num_layers: int = 1):
    """A ``text_lm`` with LSTM(256) and 32-dimensional character embeddings by default."""
    return text_lm(tokenizer, cell or lstm(256), embed_size=32, num_layers=num_layers)
