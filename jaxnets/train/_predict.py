"""Predictions in evaluation mode, the batch split over the local devices."""

from collections.abc import Callable

import jax
from jax.sharding import PartitionSpec as P

from ._devices import batch_mesh


def predictor(apply: Callable, *, devices: int | None = None) -> Callable:
    """Build ``predict(params, state, x) -> y``: ``apply`` with ``train=False``.

    With ``devices`` = n > 1 (default: every local device), a batch whose size n
    divides is split over n devices with ``shard_map`` and the outputs are put back
    together; on one device this is ``apply`` itself. Pure: ``jax.jit`` it.
    """

    def predict(params, state, x):
        mesh = batch_mesh(devices, x)
        if mesh is None:
            return apply(params, state, x)[0]
        # check_vma=False: see train_step; each device runs its rows independently.
        return jax.shard_map(
            lambda p, s, xb: apply(p, s, xb)[0], mesh=mesh, in_specs=(P(), P(), P("batch")),
            out_specs=P("batch"), check_vma=False,
        )(params, state, x)  # fmt: skip

    return predict
