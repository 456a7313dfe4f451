"""Classify trees: node embeddings, a recursive network, a dense head on the root."""

import jax

from jaxnets.core import Layer, TreeCell
from jaxnets.layers import dense, embedding
from jaxnets.rnn import recursive

from ._seq2seq import check_token_ids


def tree_classifier(
    cell: TreeCell,
    vocab_size: int,
    num_classes: int,
    *,
    embed_size: int = 32,
    max_height: int | None = None,
    name: str = "tree_classifier",
) -> Layer:
    """Token trees -> class logits: every node's token embedded, ``cell`` run over the
    tree from the leaves up (``jaxnets.rnn.recursive``), the root's output through a
    dense layer.

    ``apply(params, state, (tokens, children), *, lengths=None, key=None, train=False)``:
    tokens (B, N) ids in [0, ``vocab_size``) of the nodes in post-order, children
    (B, N, K) each node's children's indices (-1: none), ``lengths`` (B,) node counts
    (a tree's root is its last node). ``init(key, ((N,), (N, K)))``.

    Returns:
      A Layer giving logits (B, ``num_classes``). Params: ``embedding``, ``tree`` (the
      cell's), ``head``.
    """
    embed = embedding(vocab_size, embed_size, name=f"{name}.embedding")
    tree = recursive(cell, max_height=max_height, name=f"{name}.tree")
    head = dense(num_classes, name=f"{name}.head")

    def init(key, input_shape):
        (num_nodes,), _ = input_shape
        k_embed, k_tree, k_head = jax.random.split(key, 3)
        _, embed_params, _ = embed.init(k_embed, (num_nodes,))
        (hidden,), tree_params, _ = tree.init(k_tree, (num_nodes, embed_size))
        out_shape, head_params, _ = head.init(k_head, (hidden,))
        params = {"embedding": embed_params, "tree": tree_params, "head": head_params}
        return out_shape, params, {}

    def apply(params, state, x, *, lengths=None, key=None, train=False):
        tokens, children = x
        check_token_ids(f"{name}.apply", "tokens", tokens, vocab_size)
        e, _ = embed.apply(params["embedding"], {}, tokens)
        root, _ = tree.apply(params["tree"], {}, e, children=children, lengths=lengths)
        return head.apply(params["head"], {}, root)[0], state

    return Layer(init, apply, name)
