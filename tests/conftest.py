import jax
import numpy as np
import pytest

# Implicit rank promotion hides axis mistakes; make it an error in our tests.
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
