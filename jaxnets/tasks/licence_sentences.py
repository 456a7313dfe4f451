"""Which licence family a sentence comes from: a real variable-length text task.

The licence texts on every Debian machine (``/usr/share/common-licenses``) come in
several versions per family. The model reads sentences of the older versions and is
tested on every sentence of the newest version of each family, files it has never seen:
GFDL-1.2 -> GFDL-1.3, GPL-1 and GPL-2 -> GPL-3, LGPL-2 and LGPL-2.1 -> LGPL-3, MPL-1.1
-> MPL-2.0. Sentences are 3 to 1,000 words long; ``max_words`` cuts the longest.
"""

import pathlib
import re

import jax
import numpy as np

from jaxnets.cells import gru
from jaxnets.core import Layer, check_input_shape
from jaxnets.layers import embedding
from jaxnets.text import LICENCES, word_tokenizer
from jaxnets.train import accuracy, softmax_cross_entropy

from ._task import Task, rnn_classifier, rnn_options

CLASSES = ("GFDL", "GPL", "LGPL", "MPL")
TRAIN_FILES = {"GFDL": ("GFDL-1.2",), "GPL": ("GPL-1", "GPL-2"),
               "LGPL": ("LGPL-2", "LGPL-2.1"), "MPL": ("MPL-1.1",)}  # fmt: skip
TEST_FILES = {"GFDL": ("GFDL-1.3",), "GPL": ("GPL-3",), "LGPL": ("LGPL-3",), "MPL": ("MPL-2.0",)}
_END = re.compile(r"(?<=[.;:!?])\s+(?=\S)")


def sentences(text: str, *, min_words: int = 3) -> list:
    """The sentences of ``text``: split after . ; : ! or ? and white space, spaces
    collapsed, those of fewer than ``min_words`` words left out."""
    flat = " ".join(text.split())
    return [s for s in _END.split(flat) if len(s.split()) >= min_words]


def _read(directory, files):
    found = {}
    for family, names in files.items():
        for name in names:
            path = pathlib.Path(directory) / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"licence_sentences: no {path}; Debian and Ubuntu ship the licence texts in "
                    "the base-files package (apt-get install --reinstall base-files)."
                )
            text = path.read_text(encoding="utf-8", errors="replace")
            found.setdefault(family, []).extend(sentences(text))
    return found


def _encode(tokenizer, by_family, max_words):
    rows, labels = [], []
    for label, family in enumerate(CLASSES):
        for sentence in by_family[family]:
            rows.append(tokenizer.encode(sentence)[:max_words])
            labels.append(label)
    lengths = np.array([len(r) for r in rows], np.int32)
    ids = np.zeros((len(rows), max_words), np.int32)  # padding: id 0, masked by lengths
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, lengths, np.array(labels, np.int32)


def data(*, seed: int = 0, max_words: int = 64, min_count: int = 2, directory=LICENCES) -> dict:
    """Word ids of every sentence, padded to ``max_words``, with lengths and labels.

    ``seed`` is unused: the sentences are the data. Words seen fewer than
    ``min_count`` times in the training sentences are ``<unk>``.

    Returns:
      ``{"x", "lengths", "y", "x_test", "lengths_test", "y_test", "tokenizer"}``: ids
      (N, max_words) int32, lengths (N,) in [1, max_words], labels (N,) indexing
      ``CLASSES``.
    """
    del seed
    train, test = _read(directory, TRAIN_FILES), _read(directory, TEST_FILES)
    corpus = "\n".join(s for family in CLASSES for s in train[family])
    tokenizer = word_tokenizer(corpus, min_count=min_count)
    x, lengths, y = _encode(tokenizer, train, max_words)
    x_test, lengths_test, y_test = _encode(tokenizer, test, max_words)
    return {"x": x, "lengths": lengths, "y": y, "x_test": x_test, "lengths_test": lengths_test,
            "y_test": y_test, "tokenizer": tokenizer}  # fmt: skip


def sentence_classifier(
    vocab_size: int, cell, num_classes: int, *, embed_size: int = 32, num_layers: int = 1,
    bidirectional: bool = False, name: str = "sentence_classifier", **rnn,
) -> Layer:  # fmt: skip
    """Word ids (B, T) and ``lengths`` -> class logits (B, K): an embedding, then
    ``rnn_classifier`` (the top RNN's output at each sentence's last valid word, both
    directions' final outputs when bidirectional). Params: ``embedding``, ``classifier``."""
    embed = embedding(vocab_size, embed_size, name=f"{name}.embedding")
    classify = rnn_classifier(
        cell, num_classes, num_layers=num_layers, bidirectional=bidirectional, **rnn
    )

    def init(key, input_shape):
        (steps,) = check_input_shape(f"{name}.init", input_shape, rank=1)
        k_embed, k_rnn = jax.random.split(key)
        _, embed_params, _ = embed.init(k_embed, (steps,))
        out_shape, rnn_params, _ = classify.init(k_rnn, (steps, embed_size))
        return out_shape, {"embedding": embed_params, "classifier": rnn_params}, {}

    def apply(params, state, ids, *, key=None, train=False, lengths=None):
        e, _ = embed.apply(params["embedding"], {}, ids)
        y, _ = classify.apply(params["classifier"], {}, e, key=key, train=train, lengths=lengths)
        return y, state

    return Layer(init, apply, name)


@rnn_options
def model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, vocab_size=None, **rnn):
    """A ``sentence_classifier`` with GRU(64) by default, over this machine's vocabulary
    (``data()["tokenizer"].vocab_size`` unless ``vocab_size`` is given)."""
    vocab_size = vocab_size or data()["tokenizer"].vocab_size
    return sentence_classifier(vocab_size, cell or gru(64), len(CLASSES), num_layers=num_layers,
                               bidirectional=bidirectional, **rnn)  # fmt: skip


def bag_of_words_baseline(data: dict, *, c: float = 1.0) -> float:
    """Test accuracy of a logistic regression on word counts (scikit-learn), the
    baseline the recurrent models should beat: it sees which words a sentence has,
    not their order."""
    from sklearn.linear_model import LogisticRegression

    vocab = int(max(data["x"].max(), data["x_test"].max())) + 1

    def counts(ids, lengths):
        valid = np.arange(ids.shape[1])[None, :] < lengths[:, None]
        rows = np.repeat(np.arange(len(ids)), valid.sum(1))
        out = np.zeros((len(ids), vocab))
        np.add.at(out, (rows, ids[valid]), 1.0)
        return out

    classifier = LogisticRegression(C=c, max_iter=2000)
    classifier.fit(counts(data["x"], data["lengths"]), data["y"])
    return float(classifier.score(counts(data["x_test"], data["lengths_test"]), data["y_test"]))


task = Task(
    "licence_sentences",
    data,
    model,
    softmax_cross_entropy,
    accuracy,
    "accuracy",
    "max",
    len(CLASSES),
)
