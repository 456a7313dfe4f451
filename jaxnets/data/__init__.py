"""Offline data sets and splits. One-hot labels: ``jax.nn.one_hot(y, num_classes)``."""

from ._datasets import digits as digits
from ._datasets import mnist1d as mnist1d
from ._datasets import train_test_split as train_test_split
