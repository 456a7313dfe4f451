"""One optimization step and one epoch of a Layer, pure and jit-able."""

import inspect
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import PartitionSpec as P

from jaxnets.core import cast_floats
from jaxnets.rnn import step_mask

from ._devices import batch_mesh
from ._mixed import cast_for_compute, loss_scale
from ._regularization import l1_penalty, l2_penalty


class TrainState(NamedTuple):
    """Everything a training step changes: params, layer state, optimizer state."""

    params: dict
    state: dict
    opt_state: optax.OptState


def loss_mask(y_pred, x, lengths=None, mask=None):
    """The mask a loss or metric gets for a batch, or ``None`` when every entry counts.

    Targets are per step when ``lengths`` is given and the model's output has the
    leading (B, T) axes of ``x`` (a many-to-many model or a language model): the mask
    is then (B, T), True at each sequence's valid steps (and rows). Otherwise targets
    are per sequence and the mask is the (B,) row mask (``None`` without one).
    """
    per_step = (
        lengths is not None
        and jnp.ndim(y_pred) >= 3
        and y_pred.shape[:2] == jax.tree.leaves(x)[0].shape[:2]
    )
    if not per_step:
        return mask
    valid = step_mask(lengths, y_pred.shape[1])
    return valid if mask is None else valid & mask[:, None]


def keywords(fn: Callable, skip=()) -> list | None:
    """The keyword arguments ``fn`` accepts, sorted, ``skip`` left out; None when any
    is (it takes ``**kwargs``) or it has no signature to read."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return sorted(
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in skip
    )


def takes(fn: Callable, *names: str) -> bool:
    """Whether ``fn`` accepts these keyword arguments (True when it has no signature to
    read: the call will say)."""
    accepted = keywords(fn)
    return accepted is None or set(names) <= set(accepted)


def masked_call(where: str, name: str, fn: Callable, y_pred, y, mask):
    """``fn(y_pred, y)``, or ``fn(y_pred, y, mask)`` when a mask applies; a TypeError
    naming ``fn`` when it takes no mask."""
    if mask is None:
        return fn(y_pred, y)
    try:
        inspect.signature(fn).bind(y_pred, y, mask)
    except TypeError as error:
        raise TypeError(
            f"{where}: `{name}` must take a third argument, the mask of the valid "
            f"entries (B,) or (B, T), for variable-length data or masked rows "
            f"(as jaxnets.train's losses do): {error}."
        ) from None
    except ValueError:  # no signature (a builtin): let the call say
        pass
    return fn(y_pred, y, mask)


def train_step(
    apply: Callable,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    *,
    l1: float = 0.0,
    l2: float = 0.0,
    devices: int | None = None,
    stateful: bool = False,
    compute_dtype=None,
):
    """Build ``step(train_state, x, y, key, *, lengths=None, mask=None) -> (train_state,
    metrics)``.

    The objective is ``loss(apply(params, state, x, key=key, train=True), y)`` plus
    ``l1 * l1_penalty(params) + l2 * l2_penalty(params)`` (weights only). ``metrics``
    holds ``loss`` (the data loss, without penalties) and ``grad_norm``, the global
    norm of the gradient before the optimizer (and so before any clipping), which
    makes exploding gradients visible. Pure: ``jax.jit`` it at the call site.

    Variable-length batches: ``lengths`` (B,) goes to ``apply(..., lengths=)`` and, for
    per-step targets, the loss gets the (B, T) mask of valid steps as a third
    argument (see ``loss_mask``); ``mask`` (B,) drops rows (a bucket's filler rows).

    Mixed precision: ``compute_dtype`` (e.g. ``jnp.bfloat16``) casts the params to it
    for the forward and backward passes, while ``train_state`` keeps them, and the
    optimizer state, in their own dtype (float32 masters); the model's outputs are cast
    back to at least float32 for the loss. Layers and cells built without a ``dtype``
    compute in the dtype their params arrive in (``jaxnets.core.precision_policy``).
    With an optimizer wrapped in ``loss_scaled`` (float16 needs it), the loss is
    multiplied by the state's scale before differentiation; ``metrics`` report the
    unscaled loss and gradient norm.

    ``stateful=True`` (truncated BPTT): the step takes the carry the chunk starts
    from, calls ``apply(..., carry=carry, return_carry=True) -> ((y, carry), state)``
    and returns ``(train_state, metrics, carry)``, the new carry with its gradient
    stopped.

    Data parallelism: with ``devices`` = n > 1 (default: every device JAX sees, so one
    CPU device does nothing new), the batch is split over n devices with
    ``shard_map``; a batch size that n does not divide is a ``ValueError`` naming both
    (pass ``devices=1`` to stay on one device). Under ``jax.distributed`` the devices
    of every process take part: each process passes the global batch as a
    ``jax.Array`` (``jax.make_array_from_process_local_data``) and gets the same
    replicated result. Each device each computes the gradient of its rows' loss (dropout
    keys folded with the device index) and the gradients, losses and layer states
    are averaged across devices. For losses that average over rows, without batch
    norm, this is the full batch's gradient; batch norm normalizes with each device's
    own batch statistics (as PyTorch's DistributedDataParallel without SyncBatchNorm)
    and its running averages are averaged. With masks, each device's gradient and loss
    weigh by its count of valid entries, so the result is the whole batch's. Expose a
    CPU's cores as devices by setting
    ``jax_num_cpu_devices`` (or ``XLA_FLAGS=--xla_force_host_platform_device_count``)
    before JAX starts; several GPUs need nothing.
    """

    compute_dtype = cast_for_compute("train_step", compute_dtype)

    def objective(params, state, x, y, key, lengths, mask, carry, scale):
        extra = {} if lengths is None else {"lengths": lengths}
        if stateful:
            extra.update(carry=carry, return_carry=True)
        # Mixed precision: the float32 master params, cast for the forward pass; their
        # gradients come back through the cast in float32.
        run = params if compute_dtype is None else cast_floats(params, compute_dtype)
        out, new_state = apply(run, state, x, key=key, train=True, **extra)
        y_pred, new_carry = out if stateful else (out, None)
        if compute_dtype is not None:  # the loss in at least float32
            y_pred = cast_floats(y_pred, jnp.promote_types(compute_dtype, jnp.float32))
        weights = loss_mask(y_pred, x, lengths, mask)
        data_loss = masked_call("train_step", "loss", loss, y_pred, y, weights)
        total = data_loss
        if l1:
            total = total + l1 * l1_penalty(params)
        if l2:
            total = total + l2 * l2_penalty(params)
        # How many entries the loss averages over: devices with more valid entries
        # weigh more, so the split batch has the whole batch's gradient.
        count = jax.tree.leaves(y)[0].shape[0] if weights is None else weights.sum()
        if scale is not None:  # loss scaling: gradients scaled up, unscaled by loss_scaled
            total = total * scale
        return total, (data_loss, new_state, new_carry, jnp.asarray(count, jnp.float32))

    def gradients(params, state, x, y, key, lengths, mask, carry, scale):
        (_, aux), grads = jax.value_and_grad(objective, has_aux=True)(
            params, state, x, y, key, lengths, mask, carry, scale
        )
        return grads, *aux

    def sharded_gradients(mesh, params, state, x, y, key, lengths, mask, carry, scale):
        def local(params, state, x, y, key, lengths, mask, carry, scale):
            key = None if key is None else jax.random.fold_in(key, lax.axis_index("batch"))
            grads, data_loss, state, carry, count = gradients(
                params, state, x, y, key, lengths, mask, carry, scale
            )
            total = lax.psum(count, "batch")
            share = count / jnp.maximum(total, 1.0)
            weighted = jax.tree.map(lambda a: lax.psum(a * share, "batch"), (grads, data_loss))
            return *weighted, lax.pmean(state, "batch"), carry, total

        rows = P("batch")
        # check_vma=False: scan carries built from zeros are replicated while the loop
        # makes them per-device, which the varying-axes check would reject.
        return jax.shard_map(
            local, mesh=mesh, in_specs=(P(), P(), rows, rows, P(), rows, rows, rows, P()),
            out_specs=(P(), P(), P(), rows, P()), check_vma=False,
        )(params, state, x, y, key, lengths, mask, carry, scale)  # fmt: skip

    def step(train_state: TrainState, x, y, key, *, lengths=None, mask=None, carry=None):
        params, state, opt_state = train_state
        mesh = batch_mesh("train_step", devices, x)
        scale = loss_scale(opt_state)
        args = (params, state, x, y, key, lengths, mask, carry, scale)
        if mesh is None:
            grads, data_loss, state, carry, _ = gradients(*args)
        else:
            grads, data_loss, state, carry, _ = sharded_gradients(mesh, *args)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        new = TrainState(optax.apply_updates(params, updates), state, opt_state)
        grad_norm = optax.tree.norm(grads)
        if scale is not None:
            grad_norm = grad_norm / scale
        metrics = {"loss": data_loss, "grad_norm": grad_norm}
        return (new, metrics, lax.stop_gradient(carry)) if stateful else (new, metrics)

    return step


def augmented(step: Callable, augment: Callable | None) -> Callable:
    """``step`` whose batch inputs first go through ``augment(key, x) -> x``, with a
    key split from the step's (``step`` itself when ``augment`` is None)."""
    if augment is None:
        return step
    if not callable(augment):
        raise TypeError(f"train: `augment` must be callable(key, x) or None, got {augment!r}.")

    def step_augmented(train_state, x, y, key, **batch):
        k_augment, key = jax.random.split(key)
        return step(train_state, augment(k_augment, x), y, key, **batch)

    return step_augmented


def truncated_bptt(step: Callable, apply: Callable, chunk: int) -> Callable:
    """A batch of whole sequences as consecutive chunks of ``chunk`` steps, one
    optimizer update each: truncated backpropagation through time.

    ``step`` is a ``train_step(..., stateful=True)``. The first chunk starts from the
    model's initial carry (``apply`` over zero steps); each chunk's final carry, its
    gradient stopped, starts the next, so the model sees the whole past while
    gradients flow back at most ``chunk`` steps. Targets are per step (B, T, ...);
    with ``lengths`` each chunk gets its own, clipped to [0, chunk], and steps past a
    sequence's end neither change its carry nor count in the loss. A last chunk of
    T mod ``chunk`` steps is one more, shorter, update.

    Returns:
      ``update(train_state, x, y, key, *, lengths=None, mask=None) -> (train_state,
      metrics)``, metrics with one entry per chunk.
    """

    def update(train_state, x, y, key, *, lengths=None, mask=None):
        num_steps = jax.tree.leaves(x)[0].shape[1]
        full, tail = divmod(num_steps, chunk)
        train_state = TrainState(*train_state)
        params, state, _ = train_state
        cut = lambda t0, width: lambda a: lax.dynamic_slice_in_dim(a, t0, width, axis=1)  # noqa: E731
        (_, carry), _ = apply(
            params, state, jax.tree.map(cut(0, 0), x), carry=None, return_carry=True
        )
        keys = jax.random.split(key, full + 1)

        def one(state_carry, t0, width, k):
            train_state, carry = state_carry
            xs, ys = jax.tree.map(cut(t0, width), (x, y))
            batch = {"mask": mask}
            if lengths is not None:
                batch["lengths"] = jnp.clip(lengths - t0, 0, width)
            train_state, metrics, carry = step(train_state, xs, ys, k, carry=carry, **batch)
            return (train_state, carry), metrics

        (train_state, carry), metrics = lax.scan(
            lambda sc, tk: one(sc, tk[0], chunk, tk[1]),
            (train_state, lax.stop_gradient(carry)),
            (jnp.arange(full) * chunk, keys[:full]),
        )
        if tail:
            (train_state, _), last = one((train_state, carry), full * chunk, tail, keys[full])
            metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), metrics, last)
        return train_state, metrics

    return update


def train_epoch(step: Callable, batch_size: int, augment: Callable | None = None):
    """Build ``epoch(train_state, key, x, y, lengths=None) -> (train_state, metrics)``:
    one pass.

    The permutation and the per-step keys come from ``key``; batches are taken with
    ``lax.scan`` inside one program, and the last partial batch is dropped so every
    step has the same shape. ``x`` and ``y`` are pytrees of arrays with N rows,
    ``lengths`` (N,) ints for padded sequences, passed to ``step`` batch by batch.
    ``metrics`` holds each step's metrics, (N // batch_size,) arrays (with a second
    axis of chunks for ``truncated_bptt``).
    ``augment(key, x_batch) -> x_batch`` (see ``jaxnets.data.random_flip``) transforms
    each batch's inputs before the step, with a key split from the step's.
    """
    step = augmented(step, augment)

    def epoch(train_state, key, x, y, lengths=None):
        n = jax.tree.leaves(x)[0].shape[0]
        steps = n // batch_size
        k_perm, k_steps = jax.random.split(key)
        order = jax.random.permutation(k_perm, n)[: steps * batch_size]

        def body(train_state, batch):
            idx, k = batch
            pick = lambda a: jnp.take(a, idx, axis=0)  # noqa: E731
            extra = {} if lengths is None else {"lengths": pick(lengths)}
            return step(train_state, jax.tree.map(pick, x), jax.tree.map(pick, y), k, **extra)

        batches = (order.reshape(steps, batch_size), jax.random.split(k_steps, steps))
        return lax.scan(body, train_state, batches)

    return epoch
