"""The one registry of kernels and the one place that chooses among them."""

import contextlib
import contextvars
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp

IMPLS = ("auto", "reference")


def _any_options(options) -> str | None:
    return None


class Kernel(NamedTuple):
    """A faster implementation of one kind of computation, beside its plain reference.

    ``name``: what ``impl=`` names. ``kind``: what it computes: a cell's tag kind
    (``"lstm"``, see ``jaxnets.core.tag_cell``) or a layer operation (``"pool"``,
    ``"conv"``). ``run``: the computation; its signature is the kind's (for cells:
    ``run(params, carry, xs, *, mask, reverse, unroll, options) -> (carry, ys)`` over
    time-major xs (T, *batch, D), ``mask`` (T, *batch) bool or ``None``). ``backends``
    and ``dtypes``: where it was measured to win (``jax.default_backend()`` names,
    dtype names). ``supports``: the options it covers, in words; ``check(options)``
    returns why it does not cover ``options``, or ``None``. ``lengths``: a cell kernel
    that masks padded steps itself (``mask``: True on a prefix of each sequence, and
    then ``reverse`` is False: ``unroll`` reverses within lengths itself); one that does
    not is never given lengths. ``parallel``: a parallel form (a prefix scan over time),
    run by ``unroll="associative"`` and never chosen by ``impl="auto"`` otherwise.
    ``vmaps``: False for a kernel whose calls run one after another under ``jax.vmap``
    (a foreign function); ``impl="auto"`` passes over it inside ``vmapped_models()``.
    """

    name: str
    kind: str
    run: Callable
    backends: tuple[str, ...]
    dtypes: tuple[str, ...]
    supports: str = "every option"
    check: Callable[[Mapping], str | None] = _any_options
    lengths: bool = False
    parallel: bool = False
    vmaps: bool = True

    def describe(self) -> str:
        masks = ", padded steps (lengths) included" if self.lengths else ""
        masks += ", a parallel form" if self.parallel else ""
        return (
            f"{self.kind} ({self.supports}) on {'/'.join(self.backends)} in "
            f"{'/'.join(self.dtypes)}{masks}"
        )


KERNELS: dict[str, Kernel] = {}

_VMAPPED = contextvars.ContextVar("jaxnets_vmapped_models", default=False)


@contextlib.contextmanager
def vmapped_models():
    """While this block traces a program, ``impl="auto"`` passes over kernels that run
    model after model under ``jax.vmap`` (``Kernel.vmaps`` False): wrap the tracing of a
    ``jax.vmap`` over models (seeds, sweeps) in it, as ``jaxnets.train.fit_seeds`` does.
    A foreign call in a vmapped program runs once per model; for small models the
    pure-JAX kernels, batched over the models, were 1.4-2x faster. It acts at tracing:
    a function ``jax.jit`` traced before, outside the block, keeps its kernels."""
    token = _VMAPPED.set(True)
    try:
        yield
    finally:
        _VMAPPED.reset(token)


def register(kernel: Kernel) -> Kernel:
    """Add ``kernel`` to ``KERNELS``; ``impl="auto"`` prefers kernels registered first."""
    if not isinstance(kernel, Kernel):
        raise TypeError(
            f"register: expected a jaxnets.kernels.Kernel, got {type(kernel).__name__}."
        )
    if kernel.name in IMPLS or kernel.name in KERNELS:
        raise ValueError(
            f"register: kernel name {kernel.name!r} is taken; names in use: "
            f"{sorted((*IMPLS, *KERNELS))}."
        )
    KERNELS[kernel.name] = kernel
    return kernel


def check_impl(where: str, impl) -> None:
    """Raise unless ``impl`` is ``"auto"``, ``"reference"`` or a registered kernel."""
    if not (isinstance(impl, str) and (impl in IMPLS or impl in KERNELS)):
        raise ValueError(
            f"{where}: `impl` must be 'auto', 'reference' or a registered kernel "
            f"{sorted(KERNELS)}, got {impl!r}."
        )


def _why_not(kernel, kind, options, dtype, lengths, backend, parallel) -> str | None:
    if parallel and not kernel.parallel:
        return "unroll='associative' needs a parallel form and it is a sequential one"
    if kind != kernel.kind:
        return f"it computes {kernel.kind!r}, not " + (repr(kind) if kind else "an untagged cell")
    if backend not in kernel.backends:
        return f"the backend is {backend!r}"
    if dtype is None or jnp.dtype(dtype).name not in kernel.dtypes:
        return f"the dtype is {dtype if dtype is None else jnp.dtype(dtype).name}"
    if lengths and not kernel.lengths:
        return "it does not mask padded steps (`lengths`)"
    return kernel.check(options)


def choose(
    where: str,
    kind: str | None,
    options: Mapping,
    *,
    dtype,
    impl: str = "auto",
    lengths: bool = False,
    blocked: str | None = None,
    parallel: bool = False,
) -> Kernel | None:
    """The kernel to run, or ``None`` for the plain reference computation.

    ``impl="auto"``: the first registered kernel of ``kind`` that covers ``options``,
    the backend (``jax.default_backend()``), ``dtype`` (``None``: mixed dtypes, which
    no kernel takes) and ``lengths``; ``"reference"``: ``None``; a kernel's name: that
    kernel, or a ``ValueError`` naming it, why it does not apply and what it supports.
    ``blocked``: a reason from the caller that rules every kernel out (e.g. a Python
    loop over time was asked for). ``parallel``: only parallel forms (``"auto"`` picks
    one only when asked for one).
    """
    check_impl(where, impl)
    if impl == "reference":
        return None
    backend = jax.default_backend()
    if impl == "auto":
        if blocked is not None:
            return None
        for kernel in KERNELS.values():
            if kernel.parallel != parallel or (_VMAPPED.get() and not kernel.vmaps):
                continue
            if _why_not(kernel, kind, options, dtype, lengths, backend, parallel) is None:
                return kernel
        return None
    kernel = KERNELS[impl]
    why = blocked or _why_not(kernel, kind, options, dtype, lengths, backend, parallel)
    if why is not None:
        raise ValueError(
            f"{where}: kernel {impl!r} does not apply: {why}. It supports {kernel.describe()}."
        )
    return kernel
