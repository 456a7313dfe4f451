"""Offline data sets, seeded splits and batch augmentation.

One-hot labels: ``jax.nn.one_hot(y, num_classes)``.

``AUGMENTATIONS`` names the built-in augmentations of NHWC image batches that a sweep's
``fit.augment`` can name: ``flip`` (left-right, p = 0.5), ``shift`` (up to 2 pixels
each way) and ``flip_shift`` (both).
"""

from ._adding import adding_problem as adding_problem
from ._augment import chain as chain
from ._augment import random_flip as random_flip
from ._augment import random_shift as random_shift
from ._batches import Batch as Batch
from ._batches import BucketBatches as BucketBatches
from ._batches import bucket_batches as bucket_batches
from ._datasets import digits as digits
from ._datasets import mnist1d as mnist1d
from ._fashion_mnist import CLASSES as FASHION_MNIST_CLASSES
from ._fashion_mnist import fashion_mnist as fashion_mnist
from ._idx import read_idx as read_idx
from ._idx import write_idx as write_idx
from ._splits import bootstrap as bootstrap
from ._splits import holdout as holdout
from ._splits import kfold as kfold
from ._splits import train_test_split as train_test_split

AUGMENTATIONS = {
    "flip": random_flip(2),
    "shift": random_shift(2),
    "flip_shift": chain(random_flip(2), random_shift(2)),
}

__all__ = [
    "AUGMENTATIONS",
    "FASHION_MNIST_CLASSES",
    "Batch",
    "BucketBatches",
    "adding_problem",
    "bootstrap",
    "bucket_batches",
    "chain",
    "digits",
    "fashion_mnist",
    "holdout",
    "kfold",
    "mnist1d",
    "random_flip",
    "random_shift",
    "read_idx",
    "train_test_split",
    "write_idx",
]
