"""Predictions in evaluation mode, the batch split over the local devices."""

from collections.abc import Callable

import jax
from jax.sharding import PartitionSpec as P

from ._devices import batch_mesh


def predictor(apply: Callable, *, devices: int | None = None) -> Callable:
    """Build ``predict(params, state, x, lengths=None) -> y``: ``apply`` with
    ``train=False`` (and ``lengths=`` when given).

    With ``devices`` = n > 1 (default: every local device), a batch whose size n
    divides is split over n devices with ``shard_map`` and the outputs are put back
    together; on one device this is ``apply`` itself. Pure: ``jax.jit`` it.
    """

    def run(params, state, x, lengths):
        return apply(params, state, x, **({} if lengths is None else {"lengths": lengths}))[0]

    def predict(params, state, x, lengths=None):
        mesh = batch_mesh(devices, x)
        if mesh is None:
            return run(params, state, x, lengths)
        # check_vma=False: see train_step; each device runs its rows independently.
        rows = P("batch")
        return jax.shard_map(
            run, mesh=mesh, in_specs=(P(), P(), rows, rows), out_specs=rows, check_vma=False
        )(params, state, x, lengths)

    return predict
