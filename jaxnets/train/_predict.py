"""Predictions in evaluation mode, the batch split over the local devices."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from ._devices import batch_mesh


def predictor(apply: Callable, *, devices: int | None = None) -> Callable:
    """Build ``predict(params, state, x, lengths=None) -> y``: ``apply`` with
    ``train=False`` (and ``lengths=`` when given).

    With ``devices`` = n > 1 (default: every device), the batch is split over n devices
    with ``shard_map`` and the outputs are put back together; a batch that n does not
    divide is padded with copies of its first row, whose outputs are dropped. On one
    device this is ``apply`` itself. Pure: ``jax.jit`` it.
    """

    def run(params, state, x, lengths):
        return apply(params, state, x, **({} if lengths is None else {"lengths": lengths}))[0]

    def predict(params, state, x, lengths=None):
        mesh = batch_mesh("predict", devices, x, pad=True)
        if mesh is None:
            return run(params, state, x, lengths)
        # Rows are independent in evaluation: pad to a multiple of the devices with
        # copies of the first row and drop their outputs.
        rows = jax.tree.leaves(x)[0].shape[0]
        extra = -rows % mesh.size
        x, lengths = jax.tree.map(lambda a: _pad_rows(a, extra), (x, lengths))
        # check_vma=False: see train_step; each device runs its rows independently.
        split = P("batch")
        y = jax.shard_map(
            run, mesh=mesh, in_specs=(P(), P(), split, split), out_specs=split, check_vma=False
        )(params, state, x, lengths)
        return jax.tree.map(lambda a: a[:rows], y)

    return predict


def _pad_rows(a, extra):
    if extra == 0:
        return a
    return jnp.concatenate([a, jnp.repeat(a[:1], extra, axis=0)], axis=0)
