"""The LSTM as oneDNN's LSTM primitives (forward and backward, the kernel behind
``torch.nn.LSTM`` on CPU), called through ``jax.ffi``.

The C++ handlers (``_onednn/lstm.cc``) are compiled from source by ``pip install``
when a C++ compiler is there; oneDNN itself comes with ``pip install "jaxnets[onednn]"``
(PyPI's ``onednn-cpu-gomp``). Where either is missing, ``available()`` says why and the
kernel is never chosen: the pure-JAX kernels run instead.

Each call splits the batch into slices, one single-threaded oneDNN primitive per slice,
each on its own thread: as many slices as the process's cores per JAX device (one
slice per device when there are as many devices as cores).
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

# PyPI's oneDNN build for OpenMP (GNU's runtime); its headers, at build time, from
# "onednn-devel-cpu-gomp" of the same version.
ONEDNN = "onednn-cpu-gomp"
_EXTENSION = "_onednn_lstm_ffi"
_TARGETS = {
    "jaxnets_lstm_infer": "JaxnetsLstmInfer",
    "jaxnets_lstm_train": "JaxnetsLstmTrain",
    "jaxnets_lstm_backward": "JaxnetsLstmBackward",
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
    handlers.jaxnets_lstm_workspace_bytes.restype = ctypes.c_int64
    handlers.jaxnets_lstm_workspace_bytes.argtypes = [ctypes.c_int64] * 5 + [ctypes.c_bool] * 2
    for target, symbol in _TARGETS.items():
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(handlers, symbol)), "cpu")
    return handlers, None


def available() -> str | None:
    """``None`` when the oneDNN LSTM can run here, else why not."""
    return _load()[1]


class Layout(NamedTuple):
    """How a call runs: ``slices`` of the batch on threads; the sequence from its last
    step to its first when ``reverse`` (hs stay in input order, as ``unroll`` returns
    them); xs and hs (N, T, C) when ``batch_major``, else (T, N, C)."""

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

    Measured with ``python benchmarks/peers.py --models lstm`` (2-core AMD EPYC, jax
    0.10.2, one JAX device): see ``benchmarks/README.md``, "The LSTM at PyTorch's speed".
    """
    del mask, unroll, options  # never given lengths; oneDNN runs its own loop
    steps, *batch, features = xs.shape
    rows = math.prod(batch)
    hidden = carry.h.shape[-1]
    # oneDNN reads the batch-major array through strides: these transposes cancel
    # unroll's own (B, T, D) <-> (T, B, D) ones inside XLA, so no copy is made.
    hs, h, c = _lstm(
        params["w_x"],
        params["w_h"],
        params["b"],
        carry.h.reshape(rows, hidden),
        carry.c.reshape(rows, hidden),
        xs.reshape(steps, rows, features).transpose(1, 0, 2),
        Layout(_slices(), reverse, batch_major=True),
    )
    shape = (*batch, hidden)
    hs = hs.transpose(1, 0, 2).reshape(steps, *shape)
    return type(carry)(h.reshape(shape), c.reshape(shape)), hs


def _outputs(xs, h0):
    hidden = h0.shape[-1]
    return (
        jax.ShapeDtypeStruct((*xs.shape[:2], hidden), xs.dtype),
        jax.ShapeDtypeStruct(h0.shape, xs.dtype),
        jax.ShapeDtypeStruct(h0.shape, xs.dtype),
    )


def _call(target, outputs, *args, layout):
    return jax.ffi.ffi_call(target, outputs, vmap_method="sequential")(
        *args,
        parts=np.int64(layout.slices),
        reverse=bool(layout.reverse),
        batch_major=bool(layout.batch_major),
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _lstm(w_x, w_h, b, h0, c0, xs, layout):
    return _call("jaxnets_lstm_infer", _outputs(xs, h0), xs, h0, c0, w_x, w_h, b, layout=layout)


def _lstm_fwd(w_x, w_h, b, h0, c0, xs, layout):
    rows, hidden = h0.shape
    steps = xs.shape[1] if layout.batch_major else xs.shape[0]
    size = _load()[0].jaxnets_lstm_workspace_bytes(
        steps, rows, xs.shape[-1], hidden, layout.slices, layout.reverse, layout.batch_major
    )
    if size < 0:
        raise ValueError(f"lstm_onednn: oneDNN has no LSTM for xs of shape {xs.shape}.")
    outputs = (*_outputs(xs, h0), jax.ShapeDtypeStruct((size,), jnp.uint8))
    hs, h, c, workspace = _call(
        "jaxnets_lstm_train", outputs, xs, h0, c0, w_x, w_h, b, layout=layout
    )
    return (hs, h, c), (w_x, w_h, b, h0, c0, xs, hs, h, c, workspace)


def _lstm_bwd(layout, residuals, cotangents):
    w_x, w_h, b, h0, c0, xs, *_ = residuals
    outputs = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (xs, h0, c0, w_x, w_h, b))
    dhs, dh, dc = cotangents
    dxs, dh0, dc0, dw_x, dw_h, db = _call(
        "jaxnets_lstm_backward",
        outputs,
        xs,
        h0,
        c0,
        w_x,
        w_h,
        b,
        *residuals[6:],
        dhs,
        dh,
        dc,
        layout=layout,
    )
    return dw_x, dw_h, db, dh0, dc0, dxs


_lstm.defvjp(_lstm_fwd, _lstm_bwd)
