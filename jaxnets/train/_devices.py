"""How a batch splits over the devices: the one rule training and prediction share."""

import jax
import numpy as np
from jax.sharding import Mesh


def device_count(where: str, devices: int | None) -> int:
    """The devices a batch is split over: ``devices``, or every device of every process
    (``jax.device_count()``: the local ones, and under ``jax.distributed`` the other
    processes' as well)."""
    available = jax.device_count()
    if devices is None:
        return available
    if not isinstance(devices, int) or isinstance(devices, bool) or not 1 <= devices <= available:
        raise ValueError(
            f"{where}: `devices` must be an int in [1, {available}] (the devices JAX sees), "
            f"got {devices!r}."
        )
    return devices


def batch_mesh(where: str, devices: int | None, x, *, pad: bool = False) -> Mesh | None:
    """A 1-D mesh (axis ``"batch"``) over the first ``devices`` devices (default: all),
    or ``None`` when the batch stays on one device.

    ``x`` is a pytree of arrays with N rows (under ``jax.distributed``, global arrays:
    N counts every process's rows). N must divide over the devices: a ``ValueError``
    names both numbers, never a silent single device. ``pad=True`` (prediction, where
    rows are independent) lets the caller pad the batch instead.
    """
    count = device_count(where, devices)
    rows = jax.tree.leaves(x)[0].shape[0]
    if count == 1:
        return None
    if rows % count and not pad:
        raise ValueError(
            f"{where}: a batch of {rows} rows does not split over {count} devices; use a "
            f"batch size that is a multiple of {count}, or pass `devices` that divides it "
            f"(devices=1 for one device)."
        )
    return Mesh(np.array(jax.devices()[:count]), ("batch",))
