"""The one compiled part of jaxnets: the oneDNN LSTM and GRU handlers for ``jax.ffi``
(``jaxnets/kernels/_onednn/rnn.cc``), built from source by ``pip install`` with this
machine's C++ compiler. The build needs jaxlib's FFI headers and oneDNN's (both listed
in ``[build-system] requires``); running the kernel also needs oneDNN's library,
``pip install "jaxnets[onednn]"``. The extension is optional: where it cannot be built
(no compiler, another platform), jaxnets installs without it and runs its pure-JAX
kernels."""

import importlib.metadata
import importlib.util
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "jaxnets/kernels/_onednn/rnn.cc"


def _header_dir(distribution: str, header: str) -> str | None:
    """The include directory of ``header`` as installed by ``distribution``."""
    try:
        files = importlib.metadata.distribution(distribution).files or ()
    except importlib.metadata.PackageNotFoundError:
        return None
    found = next((f for f in files if str(f).replace("\\", "/").endswith(header)), None)
    if found is None:
        return None
    path = Path(found.locate())
    return str(path.parents[len(Path(header).parts) - 1])


def _extensions() -> list[Extension]:
    jaxlib = importlib.util.find_spec("jaxlib")
    ffi = Path(jaxlib.origin).parent / "include" if jaxlib and jaxlib.origin else None
    onednn = _header_dir("onednn-devel-cpu-gomp", "oneapi/dnnl/dnnl.hpp")
    if ffi is None or not (ffi / "xla/ffi/api/ffi.h").exists() or onednn is None:
        print("jaxnets: the oneDNN RNN extension is not built (no FFI or oneDNN headers)")
        return []
    return [
        Extension(
            "jaxnets.kernels._onednn_rnn_ffi",
            sources=[SOURCE],
            include_dirs=[str(ffi), onednn],
            language="c++",
            extra_compile_args=["-std=c++17", "-O2", "-Wno-attributes"],
            # oneDNN's symbols resolve at load time, from the library jaxnets loads first
            # (jaxnets/kernels/_onednn_rnn.py); OpenMP's thread count is set per call.
            libraries=["gomp"],
            optional=True,
        )
    ]


setup(ext_modules=_extensions())
