"""One optimization step and one epoch of a Layer, pure and jit-able."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import PartitionSpec as P

from ._devices import batch_mesh
from ._regularization import l1_penalty, l2_penalty


class TrainState(NamedTuple):
    """Everything a training step changes: params, layer state, optimizer state."""

    params: dict
    state: dict
    opt_state: optax.OptState


def train_step(
    apply: Callable,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    *,
    l1: float = 0.0,
    l2: float = 0.0,
    devices: int | None = None,
):
    """Build ``step(train_state, x, y, key) -> (train_state, metrics)``.

    The objective is ``loss(apply(params, state, x, key=key, train=True), y)`` plus
    ``l1 * l1_penalty(params) + l2 * l2_penalty(params)`` (weights only). ``metrics``
    holds ``loss`` (the data loss, without penalties) and ``grad_norm``, the global
    norm of the gradient before the optimizer (and so before any clipping), which
    makes exploding gradients visible. Pure: ``jax.jit`` it at the call site.

    Data parallelism: with ``devices`` = n > 1 (default: every local device, so one
    CPU device does nothing new), a batch whose size n divides is split over n
    devices with ``shard_map``; each computes the gradient of its rows' loss (dropout
    keys folded with the device index) and the gradients, losses and layer states
    are averaged across devices. For losses that average over rows, without batch
    norm, this is the full batch's gradient; batch norm normalizes with each device's
    own batch statistics (as PyTorch's DistributedDataParallel without SyncBatchNorm)
    and its running averages are averaged. Expose a CPU's cores as devices by setting
    ``jax_num_cpu_devices`` (or ``XLA_FLAGS=--xla_force_host_platform_device_count``)
    before JAX starts; several GPUs need nothing.
    """

    def objective(params, state, x, y, key):
        y_pred, new_state = apply(params, state, x, key=key, train=True)
        data_loss = loss(y_pred, y)
        total = data_loss
        if l1:
            total = total + l1 * l1_penalty(params)
        if l2:
            total = total + l2 * l2_penalty(params)
        return total, (data_loss, new_state)

    def gradients(params, state, x, y, key):
        (_, (data_loss, state)), grads = jax.value_and_grad(objective, has_aux=True)(
            params, state, x, y, key
        )
        return grads, data_loss, state

    def sharded_gradients(mesh, params, state, x, y, key):
        def local(params, state, x, y, key):
            key = None if key is None else jax.random.fold_in(key, lax.axis_index("batch"))
            return lax.pmean(gradients(params, state, x, y, key), "batch")

        # check_vma=False: scan carries built from zeros are replicated while the loop
        # makes them per-device, which the varying-axes check would reject.
        return jax.shard_map(
            local, mesh=mesh, in_specs=(P(), P(), P("batch"), P("batch"), P()),
            out_specs=P(), check_vma=False,
        )(params, state, x, y, key)  # fmt: skip

    def step(train_state: TrainState, x, y, key):
        params, state, opt_state = train_state
        mesh = batch_mesh(devices, x)
        if mesh is None:
            grads, data_loss, state = gradients(params, state, x, y, key)
        else:
            grads, data_loss, state = sharded_gradients(mesh, params, state, x, y, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        new = TrainState(optax.apply_updates(params, updates), state, opt_state)
        return new, {"loss": data_loss, "grad_norm": optax.tree.norm(grads)}

    return step


def train_epoch(step: Callable, batch_size: int, augment: Callable | None = None):
    """Build ``epoch(train_state, key, x, y) -> (train_state, metrics)``: one pass.

    The permutation and the per-step keys come from ``key``; batches are taken with
    ``lax.scan`` inside one program, and the last partial batch is dropped so every
    step has the same shape. ``x`` and ``y`` are pytrees of arrays with N rows.
    ``metrics`` holds each step's metrics, (N // batch_size,) arrays.
    ``augment(key, x_batch) -> x_batch`` (see ``jaxnets.data.random_flip``) transforms
    each batch's inputs before the step, with a key split from the step's.
    """
    if augment is not None and not callable(augment):
        raise TypeError(
            f"train_epoch: `augment` must be callable(key, x) or None, got {augment!r}."
        )

    def epoch(train_state, key, x, y):
        n = jax.tree.leaves(x)[0].shape[0]
        steps = n // batch_size
        k_perm, k_steps = jax.random.split(key)
        order = jax.random.permutation(k_perm, n)[: steps * batch_size]

        def body(train_state, batch):
            idx, k = batch
            pick = lambda a: jnp.take(a, idx, axis=0)  # noqa: E731
            xb = jax.tree.map(pick, x)
            if augment is not None:
                k_augment, k = jax.random.split(k)
                xb = augment(k_augment, xb)
            return step(train_state, xb, jax.tree.map(pick, y), k)

        batches = (order.reshape(steps, batch_size), jax.random.split(k_steps, steps))
        return lax.scan(body, train_state, batches)

    return epoch
