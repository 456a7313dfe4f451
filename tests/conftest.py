import os

import jax
import numpy as np
import pytest

# Implicit rank promotion hides axis mistakes; make it an error in our tests.
jax.config.update("jax_numpy_rank_promotion", "raise")
# The suite compares with float32 and float64 references to 1e-5 and tighter: pin exact
# matmuls, so that it passes unchanged where JAX's default is TF32 (GPUs) or bfloat16
# passes (TPUs). On CPU this is JAX's default already. The environment variable carries
# it to the processes tests start, so their traced programs match this one's.
os.environ["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
