"""Text: tokenizers and vocabularies, language models with sampling, truncated BPTT."""

from ._corpus import LICENCES as LICENCES
from ._corpus import licence_corpus as licence_corpus
from ._tbptt import fit_lm as fit_lm
from ._tbptt import lm_perplexity as lm_perplexity
from ._tbptt import tbptt_batches as tbptt_batches
from ._tbptt import unigram_perplexity as unigram_perplexity
from ._text_lm import TextLM as TextLM
from ._text_lm import text_lm as text_lm
from ._tokenizer import EOS as EOS
from ._tokenizer import UNK as UNK
from ._tokenizer import Tokenizer as Tokenizer
from ._tokenizer import char_tokenizer as char_tokenizer
from ._tokenizer import word_tokenizer as word_tokenizer

__all__ = [
    "EOS",
    "LICENCES",
    "UNK",
    "TextLM",
    "Tokenizer",
    "char_tokenizer",
    "fit_lm",
    "licence_corpus",
    "lm_perplexity",
    "tbptt_batches",
    "text_lm",
    "unigram_perplexity",
    "word_tokenizer",
]
