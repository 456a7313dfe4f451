"""Evaluate arithmetic expressions mod 10: a task for recursive networks, generated offline.

An expression is a binary tree: leaves are digits 0-9, inner nodes the operators + and
- (and * on request), evaluated modulo 10 (the label, 10 classes). A tree model reads
the tree itself (its nodes in post-order, each node's children by index); a sequential
model reads the same tokens written out in infix with brackets, ``((3+4)*2)``, and must find the
structure itself. Like ``char_lm``, not a ``Task`` of ``TASKS``: its inputs are trees.
"""

import numpy as np

from jaxnets.cells import gru, tree_lstm

DIGITS = "0123456789"
OPERATORS = "+-*"
TOKENS = DIGITS + OPERATORS + "()"  # id = index: digits 0-9, + 10, - 11, * 12, ( 13, ) 14
VOCAB_SIZE = len(TOKENS)
_APPLY = {"+": lambda a, b: (a + b) % 10, "-": lambda a, b: (a - b) % 10,
          "*": lambda a, b: (a * b) % 10}  # fmt: skip


def expression(rng, max_depth: int, *, operators: str = "+-", leaf_probability: float = 0.25):
    """A random tree: a digit (str), or (operator, left, right) with an operator drawn
    from ``operators``; the root is always an operator when ``max_depth`` > 0, any other
    node a leaf with ``leaf_probability``."""
    if max_depth == 0:
        return DIGITS[rng.integers(10)]
    left, right = (
        DIGITS[rng.integers(10)] if rng.random() < leaf_probability
        else expression(rng, max_depth - 1, operators=operators,
                        leaf_probability=leaf_probability)
        for _ in range(2)
    )  # fmt: skip
    return (operators[rng.integers(len(operators))], left, right)


def value(tree) -> int:
    """The expression's value modulo 10."""
    if isinstance(tree, str):
        return int(tree)
    op, left, right = tree
    return _APPLY[op](value(left), value(right))


def infix(tree) -> str:
    """The expression written out, every operation in brackets: ``((3+4)*2)``."""
    if isinstance(tree, str):
        return tree
    op, left, right = tree
    return f"({infix(left)}{op}{infix(right)})"


def _post_order(tree, tokens, children):
    if isinstance(tree, str):
        tokens.append(TOKENS.index(tree))
        children.append((-1, -1))
    else:
        op, left, right = tree
        kids = (_post_order(left, tokens, children), _post_order(right, tokens, children))
        tokens.append(TOKENS.index(op))
        children.append(kids)
    return len(tokens) - 1


def encode(trees, max_depth: int) -> dict:
    """Trees as padded arrays, both ways.

    Returns:
      ``{"tokens" (n, N), "children" (n, N, 2), "nodes" (n,), "sequence" (n, T),
      "sequence_lengths" (n,), "y" (n,)}``: nodes in post-order (N = 2^(max_depth+1) - 1,
      padding id 0, children -1), the infix token ids (padding 0) and the values.
    """
    num_nodes = 2 ** (max_depth + 1) - 1
    steps = 2 * num_nodes - 1  # every inner node adds two brackets
    out = {
        "tokens": np.zeros((len(trees), num_nodes), np.int32),
        "children": np.full((len(trees), num_nodes, 2), -1, np.int32),
        "nodes": np.zeros(len(trees), np.int32),
        "sequence": np.zeros((len(trees), steps), np.int32),
        "sequence_lengths": np.zeros(len(trees), np.int32),
        "y": np.array([value(t) for t in trees], np.int32),
    }
    for i, tree in enumerate(trees):
        tokens, children = [], []
        _post_order(tree, tokens, children)
        out["tokens"][i, : len(tokens)] = tokens
        out["children"][i, : len(tokens)] = children
        out["nodes"][i] = len(tokens)
        text = [TOKENS.index(c) for c in infix(tree)]
        out["sequence"][i, : len(text)] = text
        out["sequence_lengths"][i] = len(text)
    return out


def data(
    *, seed: int = 0, max_depth: int = 5, operators: str = "+-", n_train: int = 10000,
    n_test: int = 2000,
) -> dict:  # fmt: skip
    """``{"train": encode(...), "test": encode(...)}`` of independent random expressions
    of depth up to ``max_depth`` over ``operators`` (any of "+-*"; the test set from
    another seed)."""
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"arithmetic_trees: `max_depth` must be an int >= 1, got {max_depth!r}.")
    if not isinstance(operators, str) or not operators or set(operators) - set(OPERATORS):
        raise ValueError(
            f"arithmetic_trees: `operators` must be a non-empty str of {OPERATORS!r}, got "
            f"{operators!r}."
        )
    rng, rng_test = np.random.default_rng(seed), np.random.default_rng(seed + 1_000_003)
    draw = lambda rng: expression(rng, max_depth, operators=operators)  # noqa: E731
    return {
        "train": encode([draw(rng) for _ in range(n_train)], max_depth),
        "test": encode([draw(rng_test) for _ in range(n_test)], max_depth),
    }


def tree_model(cell=None, *, max_depth: int = 5, embed_size: int = 32):
    """``tree_classifier`` over the tokens' tree: N-ary Tree-LSTM(64) by default."""
    from jaxnets.models import tree_classifier

    return tree_classifier(
        cell or tree_lstm(64), VOCAB_SIZE, 10, embed_size=embed_size, max_height=max_depth
    )


def sequence_model(cell=None, *, embed_size: int = 32):
    """The same tokens in infix, read left to right: GRU(64) by default."""
    from .licence_sentences import sentence_classifier

    return sentence_classifier(VOCAB_SIZE, cell or gru(64), 10, embed_size=embed_size)
