"""Predictions in evaluation mode, the batch split over the local devices."""

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P


def predictor(apply: Callable, *, devices: int | None = None) -> Callable:
    """Build ``predict(params, state, x) -> y``: ``apply`` with ``train=False``.

    With ``devices`` = n > 1 (default: every local device), a batch whose size n
    divides is split over n devices with ``shard_map`` and the outputs are put back
    together; on one device this is ``apply`` itself. Pure: ``jax.jit`` it.
    """

    def predict(params, state, x):
        count = jax.local_device_count() if devices is None else devices
        rows = jax.tree.leaves(x)[0].shape[0]
        if count <= 1 or rows % count:
            return apply(params, state, x)[0]
        mesh = Mesh(np.array(jax.local_devices()[:count]), ("batch",))
        # check_vma=False: see train_step; each device runs its rows independently.
        return jax.shard_map(
            lambda p, s, xb: apply(p, s, xb)[0], mesh=mesh, in_specs=(P(), P(), P("batch")),
            out_specs=P("batch"), check_vma=False,
        )(params, state, x)  # fmt: skip

    return predict
