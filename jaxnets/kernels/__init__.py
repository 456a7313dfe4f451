"""Kernels: faster implementations beside the plain ones, chosen in one place.

A kernel computes what a reference computes (a cell's ``step`` run by ``lax.scan``, a
layer's ``lax`` operation), faster on the backends and dtypes it is registered for.
``KERNELS`` is the one registry; ``choose`` is the one place that picks, for
``jaxnets.rnn.unroll(impl=...)`` and the layers' ``impl=``: ``"auto"`` takes the first
registered kernel that applies (else the reference), ``"reference"`` never one, and a
kernel's name forces it (a ``ValueError`` naming the kernel and what it supports where it
does not apply). ``jaxnets.rnn.check_kernel`` is the suite that proves a cell kernel
equal to its cell; ``tests/test_kernels.py`` runs it on every registered kernel.

First, on CPU in float32, where the optional oneDNN extension is installed (``pip install
"jaxnets[onednn]"``; ``onednn_available()`` says why not where it is not):

  lstm_onednn   ``jaxnets.cells.lstm`` without peepholes, projection or layer norm
  gru_onednn    ``jaxnets.cells.gru`` with ``reset_after=True``, no layer norm
                both oneDNN's RNN primitives forward and backward (the CPU kernels of
                torch.nn.LSTM and torch.nn.GRU) through ``jax.ffi``; padded batches
                (``lengths``) go to ``lstm_blocks`` and ``gru_fused``, and so do
                programs traced inside ``vmapped_models()`` (``fit_seeds``): under
                ``jax.vmap`` a foreign call runs once per model

Then, for CPU in float32, float64, bfloat16 and float16, where ``python
benchmarks/kernels.py [--dtype bfloat16]`` measured them to win (train step against the
reference, on this project's 2-core CPU; each ``KERNELS[name].run`` docstring has the
float32 figures, ``benchmarks/README.md`` the 16-bit ones: 1.3-5x in train steps, the
convnet's whole bfloat16 train step twice as fast as without them):

  lstm_blocks   ``jaxnets.cells.lstm`` without peepholes or projection: 1.3-1.5x
  gru_fused     ``jaxnets.cells.gru`` with ``reset_after=True``: 1.2-1.5x
  elman_fused   ``jaxnets.cells.elman`` with a named activation: 1.4-2.4x
  pool_tiled    max pooling, strides == window, unpadded: 4x
  conv_patches  1-d and 2-d convolution, patches of >= 16 values: 1.2-2.2x

On NVIDIA GPUs, in float32:
  lstm_cudnn    ``jaxnets.cells.lstm`` without peepholes or projection: one cuDNN call
                (``jax.experimental.rnn``) for the whole sequence, forward and backward
Elsewhere (other GPU cells, convolutions, TPUs) XLA's own code runs.
``convolve`` is every convolution's entry point (the conv layers', ``conv_lstm``'s):
``conv_patches`` where it applies, else ``lax.conv_general_dilated``.
The cell kernels mask padded steps (``lengths``) and run under ``remat``. One more is a
parallel form rather than a faster copy, chosen only by ``unroll="associative"``, on
every backend and float dtype:

  associative_scan  cells linear in their state (``jaxnets.cells.linear_recurrence``:
                    min_gru, min_lstm, lru, diagonal_rnn) in O(log T) depth
"""

from ._associative import associative_scan, associative_supports
from ._conv import MIN_PATCH, conv_patches, conv_patches_supports
from ._convolve import convolve as convolve
from ._cudnn import cudnn_weights, lstm_cudnn
from ._cudnn import reference_call as cudnn_reference_call
from ._fused import elman, elman_supports, gru, gru_supports
from ._lstm import lstm, lstm_supports
from ._onednn_rnn import available as onednn_available
from ._onednn_rnn import gru as gru_onednn
from ._onednn_rnn import lstm as lstm_onednn
from ._pool import tiled_pool, tiled_pool_supports
from ._registry import IMPLS as IMPLS
from ._registry import KERNELS as KERNELS
from ._registry import Kernel as Kernel
from ._registry import check_impl as check_impl
from ._registry import choose as choose
from ._registry import register as register
from ._registry import vmapped_models as vmapped_models

_CPU = ("cpu",)
_FLOATS = ("float32", "float64", "bfloat16", "float16")


def _lstm_onednn_supports(options):
    return lstm_supports(options) or onednn_available()


def _gru_onednn_supports(options):
    return gru_supports(options) or onednn_available()


register(
    Kernel(
        "lstm_onednn",
        "lstm",
        lstm_onednn,
        _CPU,
        ("float32",),
        supports="no peephole, no proj_size, no layer_norm; with jaxnets[onednn] installed",
        check=_lstm_onednn_supports,
        vmaps=False,
    )
)
register(
    Kernel(
        "gru_onednn",
        "gru",
        gru_onednn,
        _CPU,
        ("float32",),
        supports="reset_after=True, no layer_norm; with jaxnets[onednn] installed",
        check=_gru_onednn_supports,
        vmaps=False,
    )
)
register(
    Kernel(
        "lstm_blocks",
        "lstm",
        lstm,
        _CPU,
        _FLOATS,
        supports="no peephole, no proj_size",
        check=lstm_supports,
        lengths=True,
    )
)
register(
    Kernel(
        "lstm_cudnn",
        "lstm",
        lstm_cudnn,
        ("gpu",),
        ("float32",),
        supports="no peephole, no proj_size",
        check=lstm_supports,
        lengths=True,
    )
)
register(
    Kernel(
        "gru_fused",
        "gru",
        gru,
        _CPU,
        _FLOATS,
        supports="reset_after=True",
        check=gru_supports,
        lengths=True,
    )
)
register(
    Kernel(
        "elman_fused",
        "elman",
        elman,
        _CPU,
        _FLOATS,
        supports="activation 'tanh', 'relu' or 'sigmoid'",
        check=elman_supports,
        lengths=True,
    )
)
register(
    Kernel(
        "pool_tiled",
        "pool",
        tiled_pool,
        _CPU,
        _FLOATS,
        supports="max pooling, strides == window, no padding",
        check=tiled_pool_supports,
    )
)
register(
    Kernel(
        "conv_patches",
        "conv",
        conv_patches,
        _CPU,
        _FLOATS,
        supports=f"patches of >= {MIN_PATCH} values (kernel size times input channels)",
        check=conv_patches_supports,
    )
)

register(
    Kernel(
        "associative_scan",
        "linear_recurrence",
        associative_scan,
        ("cpu", "gpu", "tpu"),
        _FLOATS,
        supports="cells built with jaxnets.cells.linear_recurrence",
        check=associative_supports,
        lengths=True,
        parallel=True,
    )
)

__all__ = [
    "IMPLS",
    "KERNELS",
    "Kernel",
    "check_impl",
    "choose",
    "convolve",
    "cudnn_reference_call",
    "cudnn_weights",
    "lstm_cudnn",
    "onednn_available",
    "register",
    "vmapped_models",
]
