"""Character and word tokenizers with a vocabulary built from a corpus."""

import collections
import re
from typing import NamedTuple

import numpy as np

UNK = "<unk>"
EOS = "<eos>"
_WORDS = re.compile(r"\w+|[^\w\s]")


class Tokenizer(NamedTuple):
    """A vocabulary and the rule that splits text into its tokens.

    ``level`` is ``"char"`` (every character a token) or ``"word"`` (words and
    punctuation marks; a line break is ``<eos>``). ``tokens[i]`` is the token of id
    i; the special tokens come first: ``<eos>`` (id 0), then ``<unk>`` (id 1) when
    the vocabulary has one.
    """

    tokens: tuple
    level: str
    lowercase: bool

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def eos_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int | None:
        return 1 if len(self.tokens) > 1 and self.tokens[1] == UNK else None

    def split(self, text: str) -> list:
        """The tokens of ``text``, before the vocabulary is consulted."""
        if not isinstance(text, str):
            raise TypeError(f"tokenizer: `text` must be a str, got {type(text).__name__}.")
        if self.lowercase:
            text = text.lower()
        if self.level == "char":
            return list(text)
        tokens = []
        for i, line in enumerate(text.split("\n")):
            tokens += [EOS] if i else []
            tokens += _WORDS.findall(line)
        return tokens

    def encode(self, text: str, *, add_eos: bool = False) -> np.ndarray:
        """Token ids (N,) int32 of ``text``, with ``<eos>`` appended when ``add_eos``.

        Words outside the vocabulary map to ``<unk>``; so do characters when the
        vocabulary has ``<unk>``, otherwise an unknown character is a ``ValueError``.
        """
        index = {token: i for i, token in enumerate(self.tokens)}
        unk = self.unk_id
        ids = []
        for token in self.split(text):
            i = index.get(token, unk)
            if i is None:
                raise ValueError(
                    f"tokenizer.encode: `text` holds {token!r}, which is not in the "
                    f"{self.level} vocabulary (and it has no {UNK}); build the tokenizer "
                    f"with unknown=True or from a corpus that contains it."
                )
            ids.append(i)
        if add_eos:
            ids.append(self.eos_id)
        return np.asarray(ids, np.int32)

    def decode(self, ids) -> str:
        """Text from ids: characters joined (``<eos>`` dropped), or words joined by
        spaces with ``<eos>`` as a line break, so ``decode(encode(text))`` gives back
        the text (for words: its tokens, single-spaced, lowercased if the tokenizer is)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.tokens)):
            raise ValueError(
                f"tokenizer.decode: `ids` must lie in [0, {len(self.tokens) - 1}], got values "
                f"from {ids.min()} to {ids.max()}."
            )
        tokens = [self.tokens[i] for i in ids]
        if self.level == "char":
            return "".join(t for t in tokens if t != EOS)
        lines, line = [], []
        for token in tokens:
            if token == EOS:
                lines.append(" ".join(line))
                line = []
            else:
                line.append(token)
        return "\n".join([*lines, " ".join(line)])


def _vocabulary(where, counts, specials, min_count, max_size) -> tuple:
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"{where}: `min_count` must be an int >= 1, got {min_count!r}.")
    if max_size is not None and (not isinstance(max_size, int) or max_size <= len(specials)):
        raise ValueError(
            f"{where}: `max_size` must be an int > {len(specials)} (the special tokens) or "
            f"None, got {max_size!r}."
        )
    kept = sorted(
        (t for t, c in counts.items() if c >= min_count and t not in specials),
        key=lambda t: (-counts[t], t),
    )
    if max_size is not None:
        kept = kept[: max_size - len(specials)]
    return (*specials, *kept)


def _check_corpus(where, corpus):
    if not isinstance(corpus, str):
        raise TypeError(f"{where}: `corpus` must be a str, got {type(corpus).__name__}.")
    if not corpus.strip():
        raise ValueError(f"{where}: `corpus` is empty; a vocabulary needs some text.")


def char_tokenizer(
    corpus: str, *, min_count: int = 1, unknown: bool = False, lowercase: bool = False
) -> Tokenizer:
    """A character vocabulary: ``<eos>``, ``<unk>`` if ``unknown``, then the corpus's
    characters seen at least ``min_count`` times, most frequent first."""
    _check_corpus("char_tokenizer", corpus)
    counts = collections.Counter(corpus.lower() if lowercase else corpus)
    specials = (EOS, UNK) if unknown else (EOS,)
    tokens = _vocabulary("char_tokenizer", counts, specials, min_count, None)
    return Tokenizer(tokens, "char", lowercase)


def word_tokenizer(
    corpus: str, *, min_count: int = 1, max_size: int | None = None, lowercase: bool = True
) -> Tokenizer:
    """A word vocabulary: ``<eos>``, ``<unk>``, then the corpus's words and punctuation
    marks seen at least ``min_count`` times (the ``max_size`` most frequent in all).

    Words are runs of letters, digits and underscores; every other non-space
    character is a token of its own; a line break ends a line with ``<eos>``.
    """
    _check_corpus("word_tokenizer", corpus)
    splitter = Tokenizer((EOS, UNK), "word", lowercase)
    counts = collections.Counter(splitter.split(corpus))
    tokens = _vocabulary("word_tokenizer", counts, (EOS, UNK), min_count, max_size)
    return Tokenizer(tokens, "word", lowercase)
