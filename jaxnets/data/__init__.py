"""Offline data sets and seeded splits. One-hot labels: ``jax.nn.one_hot(y, num_classes)``."""

from ._adding import adding_problem as adding_problem
from ._datasets import digits as digits
from ._datasets import mnist1d as mnist1d
from ._splits import bootstrap as bootstrap
from ._splits import holdout as holdout
from ._splits import kfold as kfold
from ._splits import train_test_split as train_test_split

__all__ = [
    "adding_problem",
    "bootstrap",
    "digits",
    "holdout",
    "kfold",
    "mnist1d",
    "train_test_split",
]
