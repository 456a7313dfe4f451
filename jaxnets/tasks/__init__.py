"""Sequence tasks with offline data, each a module with ``data``, ``model`` and ``task``.

``TASKS`` maps each name to its ``Task``, which ``jaxnets.train.fit`` can train. Tasks
of variable-length sequences (``licence_sentences``) also give ``lengths`` and
``lengths_test``. The character language model (``char_lm``) trains with truncated BPTT
instead. ``digits`` and ``fashion_mnist`` are images: feed-forward models read them
whole, a cell row by row.

``arithmetic_trees`` (expressions to evaluate) gives trees for recursive networks and
the same tokens as sequences, is not a ``Task``. ``moving_digits`` forecasts frames
(flattened images, for ``conv_lstm``).

``TASKS`` is the one registry of built-in tasks that the sweeps, their reports and the
tests read: a new task is a module with a ``task`` and one line here.
"""

from . import adding as adding
from . import arithmetic_trees as arithmetic_trees
from . import char_lm as char_lm
from . import copy_memory as copy_memory
from . import digits as digits
from . import digits_rows as digits_rows
from . import fashion_mnist as fashion_mnist
from . import licence_sentences as licence_sentences
from . import mnist1d as mnist1d
from . import moving_digits as moving_digits
from . import reverse_digits as reverse_digits
from . import waveform as waveform
from ._task import Task as Task
from ._task import rnn_classifier as rnn_classifier

TASKS = {
    module.task.name: module.task
    for module in (
        adding,
        copy_memory,
        digits,
        digits_rows,
        fashion_mnist,
        licence_sentences,
        mnist1d,
        moving_digits,
        reverse_digits,
        waveform,
    )
}

__all__ = [
    "TASKS",
    "Task",
    "adding",
    "arithmetic_trees",
    "char_lm",
    "copy_memory",
    "digits",
    "digits_rows",
    "fashion_mnist",
    "licence_sentences",
    "mnist1d",
    "moving_digits",
    "reverse_digits",
    "rnn_classifier",
    "waveform",
]
