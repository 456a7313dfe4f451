"""The LSTM and the GRU as oneDNN's RNN primitives (forward and backward, the kernels
behind ``torch.nn.LSTM`` and ``torch.nn.GRU`` on CPU), called through ``jax.ffi``.

The C++ handlers (``_onednn/rnn.cc``) are compiled from source by ``pip install`` when
a C++ compiler is there; oneDNN itself comes with ``pip install "jaxnets[onednn]"``
(PyPI's ``onednn-cpu-gomp``). Where either is missing, ``available()`` says why and the
kernels are never chosen: the pure-JAX kernels run instead.

Each call cuts the batch into slices, one single-threaded oneDNN primitive per slice,
each on its own thread: as many slices as the process's cores per JAX device (one
slice per device when there are as many devices as cores). Sequences are read and
written batch-major in place, so ``unroll``'s own transposes cancel inside XLA.
"""

import ctypes
import functools
import importlib.machinery
import importlib.metadata
import math
import os
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.core import gate_columns

# PyPI's oneDNN build for OpenMP (GNU's runtime); its headers, at build time, from
# "onednn-devel-cpu-gomp" of the same version.
ONEDNN = "onednn-cpu-gomp"
_EXTENSION = "_onednn_rnn_ffi"
_HANDLERS = {
    f"jaxnets_{cell}_{call}": f"Jaxnets{cell.capitalize()}{call.capitalize()}"
    for cell in ("lstm", "gru")
    for call in ("infer", "train", "backward")
}


@functools.cache
def _load():
    """(the extension as a ctypes library, None), or (None, why it cannot run)."""
    here = Path(__file__).parent
    built = [here / f"{_EXTENSION}{end}" for end in importlib.machinery.EXTENSION_SUFFIXES]
    extension = next((path for path in built if path.exists()), None)
    if extension is None:
        return None, (
            "its C++ extension was not built (pip install compiles it when a C++ compiler "
            "is present)"
        )
    try:
        files = importlib.metadata.distribution(ONEDNN).files or ()
    except importlib.metadata.PackageNotFoundError:
        return None, f"oneDNN is not installed (pip install 'jaxnets[onednn]' adds {ONEDNN})"
    library = next((f for f in files if f.name == "libdnnl.so.3"), None)
    if library is None:
        return None, f"{ONEDNN} is installed without libdnnl.so.3"
    try:
        # Global, so that the extension's oneDNN symbols resolve to it.
        ctypes.CDLL(str(library.locate()), mode=ctypes.RTLD_GLOBAL)
        handlers = ctypes.CDLL(str(extension))
    except OSError as error:
        return None, f"its libraries do not load ({error})"
    handlers.jaxnets_rnn_workspace_bytes.restype = ctypes.c_int64
    handlers.jaxnets_rnn_workspace_bytes.argtypes = [ctypes.c_int64] * 5 + [ctypes.c_bool] * 3
    for target, symbol in _HANDLERS.items():
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(handlers, symbol)), "cpu")
    return handlers, None


def available() -> str | None:
    """``None`` when the oneDNN kernels can run here, else why not."""
    return _load()[1]


class Layout(NamedTuple):
    """How a call runs: the ``cell`` ("lstm" or "gru"); ``slices`` of the batch on
    threads; the sequence from its last step to its first when ``reverse`` (hs stay in
    input order, as ``unroll`` returns them); xs and hs (N, T, C) when ``batch_major``,
    else (T, N, C)."""

    cell: str
    slices: int
    reverse: bool = False
    batch_major: bool = False


def _slices() -> int:
    """Batch slices per call: the cores this process may use, shared by its devices."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // jax.local_device_count())


def lstm(params, carry, xs, *, mask, reverse, unroll, options):
    """The LSTM (``jaxnets.cells.lstm`` without peepholes, projection or layer norm)
    over time-major xs (T, *batch, D) from ``carry``: ``(carry, hs)``, as oneDNN's LSTM
    forward primitive and, under ``jax.grad``, its backward primitive. Float32 on CPU;
    padded batches (``lengths``) go to ``lstm_blocks``, which masks them.

    Measured with ``python benchmarks/peers.py`` (2-core AMD EPYC, jax 0.10.2, one JAX
    device): see ``benchmarks/README.md``, "The LSTM at PyTorch's speed".
    """
    del mask, unroll, options  # never given lengths; oneDNN runs its own loop
    weights = (params["w_x"], params["w_h"], params["b"])
    hs, (h, c) = _run("lstm", weights, (carry.h, carry.c), xs, reverse)
    return type(carry)(h, c), hs


def gru(params, carry, xs, *, mask, reverse, unroll, options):
    """The GRU (``jaxnets.cells.gru`` with ``reset_after=True``, no layer norm) over
    time-major xs (T, *batch, D) from ``carry``: ``(carry, hs)``, as oneDNN's
    linear-before-reset GRU primitives (its gates u, r, o are jaxnets' z, r, n; its
    fourth bias is ``b_hn``). Float32 on CPU; padded batches go to ``gru_fused``.
    """
    del mask, unroll, options
    # jaxnets' gates r, z, n as oneDNN's u (= z), r, o (= n).
    w_x, w_h, b = (gate_columns(params[name], 3) for name in ("w_x", "w_h", "b"))
    weights = tuple(jnp.concatenate([w[1], w[0], w[2]], axis=-1) for w in (w_x, w_h))
    bias = jnp.concatenate([b[1], b[0], b[2], params["b_hn"]])
    hs, (h,) = _run("gru", (*weights, bias), (carry,), xs, reverse)
    return h, hs


def _run(cell, weights, carry, xs, reverse):
    steps, *batch, features = xs.shape
    rows = math.prod(batch)
    hidden = carry[0].shape[-1]
    # oneDNN reads the batch-major array through strides: these transposes cancel
    # unroll's own (B, T, D) <-> (T, B, D) ones inside XLA, so no copy is made.
    hs, carry = _rnn(
        weights,
        tuple(c.reshape(rows, hidden) for c in carry),
        xs.reshape(steps, rows, features).transpose(1, 0, 2),
        Layout(cell, _slices(), reverse, batch_major=True),
    )
    shape = (*batch, hidden)
    hs = hs.transpose(1, 0, 2).reshape(steps, *shape)
    return hs, tuple(c.reshape(shape) for c in carry)


def _like(*arrays):
    return tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in arrays)


def _call(call, layout, outputs, *args):
    return jax.ffi.ffi_call(f"jaxnets_{layout.cell}_{call}", outputs, vmap_method="sequential")(
        *args,
        parts=np.int64(layout.slices),
        reverse=bool(layout.reverse),
        batch_major=bool(layout.batch_major),
    )


def _hs(xs, carry):
    return jax.ShapeDtypeStruct((*xs.shape[:2], carry[0].shape[-1]), xs.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _rnn(weights, carry, xs, layout):
    """(hs, final carry): weights (w_x, w_h, b), carry (h,) or (h, c) of (N, H)."""
    hs, *last = _call("infer", layout, (_hs(xs, carry), *_like(*carry)), xs, *carry, *weights)
    return hs, tuple(last)


def _rnn_fwd(weights, carry, xs, layout):
    rows, hidden = carry[0].shape
    steps = xs.shape[1] if layout.batch_major else xs.shape[0]
    size = _load()[0].jaxnets_rnn_workspace_bytes(
        steps,
        rows,
        xs.shape[-1],
        hidden,
        layout.slices,
        layout.reverse,
        layout.batch_major,
        layout.cell == "gru",
    )
    if size < 0:
        raise ValueError(f"{layout.cell}_onednn: oneDNN has no kernel for xs of {xs.shape}.")
    workspace = jax.ShapeDtypeStruct((size,), jnp.uint8)
    outputs = (_hs(xs, carry), *_like(*carry), workspace)
    hs, *last, workspace = _call("train", layout, outputs, xs, *carry, *weights)
    return (hs, tuple(last)), (weights, carry, xs, hs, tuple(last), workspace)


def _rnn_bwd(layout, residuals, cotangents):
    weights, carry, xs, hs, last, workspace = residuals
    dhs, dlast = cotangents
    grads = _call(
        "backward",
        layout,
        _like(xs, *carry, *weights),
        *(xs, *carry, *weights, hs, *last, workspace, dhs, *dlast),
    )
    dxs, dcarry, dweights = grads[0], grads[1 : 1 + len(carry)], grads[1 + len(carry) :]
    return tuple(dweights), tuple(dcarry), dxs


_rnn.defvjp(_rnn_fwd, _rnn_bwd)
