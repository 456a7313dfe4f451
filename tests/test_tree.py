"""Recursive networks and Tree-LSTMs over batches of trees against a Python recursion
over single trees in NumPy (Tai et al.'s equations), gradients against finite
differences, heights, and named errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxnets.cells import recursive_cell, tree_lstm
from jaxnets.rnn import recursive, tree_heights

D, H, K = 3, 4, 2


def random_tree(rng, depth):
    """A nested (input, children) tree: a node has 0..K children, each a subtree."""
    arity = 0 if depth == 0 else int(rng.integers(0, K + 1))
    return (rng.normal(size=D), [random_tree(rng, depth - 1) for _ in range(arity)])


def post_order(tree, xs, children):
    """Append the tree's nodes children first; returns the root's index."""
    x, kids = tree
    indices = [post_order(kid, xs, children) for kid in kids]
    xs.append(x)
    children.append(indices + [-1] * (K - len(indices)))
    return len(xs) - 1


def batch(trees, num_nodes):
    xs = np.zeros((len(trees), num_nodes, D))
    children = -np.ones((len(trees), num_nodes, K), np.int32)
    lengths = []
    for b, tree in enumerate(trees):
        node_xs, node_children = [], []
        post_order(tree, node_xs, node_children)
        xs[b, : len(node_xs)] = node_xs
        children[b, : len(node_xs)] = node_children
        lengths.append(len(node_xs))
    return jnp.asarray(xs, jnp.float32), jnp.asarray(children), jnp.asarray(lengths)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_node(kind, p, tree):
    """(h, c) of a tree's root by recursion, from the equations."""
    x, kids = tree
    states = [np_node(kind, p, kid) for kid in kids]
    states += [(np.zeros(H), np.zeros(H))] * (K - len(states))
    hs = [h for h, _ in states]
    if kind == "recursive":
        h = np.tanh(x @ p["w_x"] + sum(hk @ p["w_h"][k] for k, hk in enumerate(hs)) + p["b"])
        return h, h
    if kind == "child_sum":
        iou = x @ p["w_x"] + sum(hs) @ p["u_h"] + p["b"]
        fs = [_sigmoid(x @ p["w_f"] + hk @ p["u_f"] + p["b_f"]) for hk in hs]
    else:
        iou = x @ p["w_x"] + sum(hj @ p["u_h"][j] for j, hj in enumerate(hs)) + p["b"]
        fs = [
            _sigmoid(x @ p["w_f"] + sum(hj @ p["u_f"][j, k] for j, hj in enumerate(hs)) + p["b_f"])
            for k in range(K)
        ]
    i, o, u = np.split(iou, 3)
    c = _sigmoid(i) * np.tanh(u) + sum(f * ck for f, (_, ck) in zip(fs, states))
    return _sigmoid(o) * np.tanh(c), c


CELLS = {
    "recursive": lambda: recursive_cell(H, arity=K),
    "n_ary": lambda: tree_lstm(H, arity=K),
    "child_sum": lambda: tree_lstm(H, arity=K, child_sum=True),
}


def _noisy(params, seed=1):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda a: a + jnp.asarray(rng.normal(0, 0.3, a.shape), a.dtype), params)


@pytest.mark.parametrize("kind", list(CELLS))
def test_batched_trees_equal_a_python_recursion(kind):
    rng = np.random.default_rng(0)
    trees = [random_tree(rng, depth) for depth in (0, 1, 3, 4, 2)]
    xs, children, lengths = batch(trees, 32)
    layer = recursive(CELLS[kind]())
    _, params, _ = layer.init(jax.random.key(0), (32, D))
    params = _noisy(params)
    roots, _ = layer.apply(params, {}, xs, children=children, lengths=lengths)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    want = np.stack([np_node(kind, p, tree)[0] for tree in trees])
    np.testing.assert_allclose(roots, want, rtol=1e-5, atol=1e-6)
    # Every node's output is its subtree's root output; padding nodes are zeros.
    nodes, _ = recursive(CELLS[kind](), return_nodes=True, max_height=4).apply(
        params, {}, xs, children=children, lengths=lengths
    )
    np.testing.assert_allclose(nodes[jnp.arange(5), lengths - 1], want, rtol=1e-5, atol=1e-6)
    assert not np.asarray(nodes[0, 1:]).any()


def test_a_jitted_layer_serves_trees_of_any_shape():
    rng = np.random.default_rng(1)
    layer = recursive(tree_lstm(H, arity=K), max_height=5)
    _, params, _ = layer.init(jax.random.key(1), (40, D))
    traces = []

    def roots_of(p, x, c, n):
        traces.append(1)  # runs once per trace, not per call
        return layer.apply(p, {}, x, children=c, lengths=n)[0]

    run = jax.jit(roots_of)
    for depths in ((5, 1, 2), (3, 3, 0)):
        trees = [random_tree(rng, d) for d in depths]
        roots = run(params, *batch(trees, 40))
        p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
        want = np.stack([np_node("n_ary", p, t)[0] for t in trees])
        np.testing.assert_allclose(roots, want, rtol=1e-5, atol=1e-6)
    assert len(traces) == 1


@pytest.mark.parametrize("kind", ["n_ary", "child_sum"])
def test_gradients_match_finite_differences(kind):
    jax.config.update("jax_enable_x64", True)
    try:
        rng = np.random.default_rng(2)
        trees = [random_tree(rng, 2), random_tree(rng, 3)]
        xs, children, lengths = batch(trees, 16)
        layer = recursive(CELLS[kind](), max_height=3)
        _, params, _ = layer.init(jax.random.key(2), (16, D))
        params = jax.tree.map(lambda a: a.astype(jnp.float64), _noisy(params))

        def f(params, xs):
            return layer.apply(params, {}, xs, children=children, lengths=lengths)[0].sum()

        check_grads(f, (params, xs.astype(jnp.float64)), order=1, modes=["rev"], atol=1e-6)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_heights():
    children = jnp.array([[[-1, -1], [-1, -1], [0, 1], [-1, -1], [2, 3]]])
    np.testing.assert_array_equal(tree_heights(children), [[0, 0, 1, 0, 2]])


def test_bad_trees_are_named():
    layer = recursive(tree_lstm(H, arity=K), max_height=1)
    _, params, _ = layer.init(jax.random.key(0), (3, D))
    xs = jnp.zeros((1, 3, D))
    with pytest.raises(ValueError, match=r"tree 0, node 1 has child 0 = 2"):
        layer.apply(params, {}, xs, children=jnp.array([[[-1, -1], [2, -1], [-1, -1]]]))
    with pytest.raises(ValueError, match=r"height 2 is taller than `max_height` = 1"):
        layer.apply(params, {}, xs, children=jnp.array([[[-1, -1], [0, -1], [1, -1]]]))
    with pytest.raises(ValueError, match=r"`children` must have shape"):
        layer.apply(params, {}, xs, children=jnp.full((1, 3, 3), -1))
    with pytest.raises(TypeError, match="`cell` must be a jaxnets TreeCell, got Cell"):
        from jaxnets.cells import lstm

        recursive(lstm(3))
    # Under jit a tree taller than max_height is NaN, never a valid-looking answer.
    deep = jnp.array([[[-1, -1], [0, -1], [1, -1]]])
    roots = jax.jit(lambda c: layer.apply(params, {}, xs, children=c)[0])(deep)
    assert np.isnan(np.asarray(roots)).all()


def test_arithmetic_trees_are_encoded_both_ways():
    from jaxnets.tasks import arithmetic_trees as task

    tree = ("-", ("+", "3", "9"), "5")
    assert task.value(tree) == (3 + 9 - 5) % 10 and task.infix(tree) == "((3+9)-5)"
    out = task.encode([tree], 2)
    tokens = "".join(task.TOKENS[i] for i in out["tokens"][0, : out["nodes"][0]])
    assert tokens == "39+5-"  # post-order
    np.testing.assert_array_equal(
        out["children"][0, :5], [[-1, -1], [-1, -1], [0, 1], [-1, -1], [2, 3]]
    )
    text = out["sequence"][0, : out["sequence_lengths"][0]]
    assert "".join(task.TOKENS[i] for i in text) == "((3+9)-5)"
    with pytest.raises(ValueError, match="`operators` must be a non-empty str"):
        task.data(operators="/")


def test_a_tree_lstm_learns_to_evaluate_expressions():
    # Depth-2 expressions mod 10: the tree model reads the structure and learns it.
    import optax

    from jaxnets.tasks import arithmetic_trees as task
    from jaxnets.train import accuracy, evaluate, fit, softmax_cross_entropy

    data = task.data(max_depth=2, n_train=5000, n_test=500)
    train, test = data["train"], data["test"]
    model = task.tree_model(tree_lstm(32), max_depth=2)
    x = (train["tokens"], train["children"])
    _, params, state = model.init(jax.random.key(0), ((7,), (7, 2)))
    result = fit(
        model, params, state, optax.adam(1e-2), softmax_cross_entropy, x, train["y"],
        lengths=train["nodes"], epochs=10, batch_size=32, key=jax.random.key(1),
    )  # fmt: skip
    score = evaluate(
        model, result.params, result.state, (test["tokens"], test["children"]), test["y"],
        accuracy, lengths=test["nodes"],
    )  # fmt: skip
    assert score > 0.9  # chance is about 0.1
