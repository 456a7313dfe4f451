"""Train a task's model with Adam and early stopping; used by the example scripts."""

import time

import jax

from jaxnets.data import holdout
from jaxnets.train import EarlyStopping, evaluate, fit, optimizer


def train_and_test(task, model, data, *, epochs, lr, batch_size=64, clip_norm=1.0, seed=0):
    """Fit on 90% of the training split, pick the epoch on the other 10% (early
    stopping, best params restored), then score the test split once.

    Returns:
      ``(result, test_metric, params_count, seconds)``.
    """
    n = len(jax.tree.leaves(data["y"])[0])
    train, val = holdout(n, test_fraction=0.1, seed=seed) if n > 1 else ([0], [0])
    rows = lambda tree, idx: jax.tree.map(lambda a: a[idx], tree)  # noqa: E731
    in_shape = jax.tree.map(lambda a: a.shape[1:], data["x"])
    _, params, state = model.init(jax.random.key(seed), in_shape)
    started = time.perf_counter()
    result = fit(
        model, params, state, optimizer("adam", lr, clip_norm=clip_norm), task.loss,
        rows(data["x"], train), rows(data["y"], train), epochs=epochs,
        batch_size=min(batch_size, len(train)), key=jax.random.key(seed + 1),
        validation=(rows(data["x"], val), rows(data["y"], val)), metric=task.metric,
        early_stopping=EarlyStopping(patience=max(5, epochs // 4), mode=task.mode),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    score = evaluate(
        model, result.params, result.state, data["x_test"], data["y_test"], task.metric
    )
    count = sum(leaf.size for leaf in jax.tree.leaves(result.params))
    return result, score, count, seconds
