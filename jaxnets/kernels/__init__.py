"""Kernels: faster implementations beside the plain ones, chosen in one place.

A kernel computes what a reference computes (a cell's ``step`` run by ``lax.scan``, a
layer's ``lax`` operation), faster on the backends and dtypes it is registered for.
``KERNELS`` is the one registry; ``choose`` is the one place that picks, for
``jaxnets.rnn.unroll(impl=...)`` and the layers' ``impl=``: ``"auto"`` takes the first
registered kernel that applies (else the reference), ``"reference"`` never one, and a
kernel's name forces it (a ``ValueError`` naming the kernel and what it supports where it
does not apply). ``jaxnets.rnn.check_kernel`` is the suite that proves a cell kernel
equal to its cell; ``tests/test_kernels.py`` runs it on every registered kernel.

Registered here (measured by ``python benchmarks/kernels.py``; figures in each
function's docstring):

  lstm_blocks   ``jaxnets.cells.lstm`` without peepholes or projection
  gru_fused     ``jaxnets.cells.gru`` with ``reset_after=True``
  elman_fused   ``jaxnets.cells.elman`` with a named activation
  pool_tiled    max and average pooling with stride == window, unpadded
  conv_patches  1-d and 2-d convolution as patches times weights

all on CPU in float32 and float64; the cell kernels mask padded steps (``lengths``).
"""

from ._conv import conv_patches
from ._fused import elman, elman_supports, gru, gru_supports
from ._lstm import lstm, lstm_supports
from ._pool import tiled_pool, tiled_pool_supports
from ._registry import IMPLS as IMPLS
from ._registry import KERNELS as KERNELS
from ._registry import Kernel as Kernel
from ._registry import check_impl as check_impl
from ._registry import choose as choose
from ._registry import register as register

_CPU = ("cpu",)
_FLOATS = ("float32", "float64")

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
        supports="strides == window, no padding",
        check=tiled_pool_supports,
    )
)
register(Kernel("conv_patches", "conv", conv_patches, _CPU, _FLOATS))

__all__ = ["IMPLS", "KERNELS", "Kernel", "check_impl", "choose", "register"]
