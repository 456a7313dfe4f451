"""How a batch splits over the local devices: the one rule training and prediction share."""

import jax
import numpy as np
from jax.sharding import Mesh


def batch_mesh(devices: int | None, x) -> Mesh | None:
    """A 1-D mesh (axis ``"batch"``) over the first ``devices`` local devices
    (default: all of them) when there are more than one and they divide the batch of
    ``x`` (a pytree of arrays with N rows); ``None`` when the batch stays on one device."""
    count = jax.local_device_count() if devices is None else devices
    rows = jax.tree.leaves(x)[0].shape[0]
    if count <= 1 or rows % count:
        return None
    return Mesh(np.array(jax.local_devices()[:count]), ("batch",))
