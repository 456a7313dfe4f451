"""Feed-forward layers and combinators, each a ``Layer(init, apply)`` pair.

Contract (batch axis excluded from ``input_shape``):

  init(key, input_shape) -> (output_shape, params, state)
  apply(params, state, x, *, key=None, train=False) -> (y, new_state)
"""

from ._combinators import parallel as parallel
from ._combinators import residual as residual
from ._combinators import serial as serial
from ._conv import conv1d as conv1d
from ._conv import conv2d as conv2d
from ._conv import conv_transpose1d as conv_transpose1d
from ._conv import conv_transpose2d as conv_transpose2d
from ._dense import dense as dense
from ._dropout import dropout as dropout
from ._embedding import embedding as embedding
from ._embedding import lookup as lookup
from ._norm import batch_norm as batch_norm
from ._norm import layer_norm as layer_norm
from ._norm import rms_norm as rms_norm
from ._pool import avg_pool1d as avg_pool1d
from ._pool import avg_pool2d as avg_pool2d
from ._pool import global_avg_pool as global_avg_pool
from ._pool import global_max_pool as global_max_pool
from ._pool import max_pool1d as max_pool1d
from ._pool import max_pool2d as max_pool2d
from ._reshape import activation as activation
from ._reshape import flatten as flatten
from ._summary import summary as summary

__all__ = [
    "activation",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "dense",
    "dropout",
    "embedding",
    "flatten",
    "global_avg_pool",
    "global_max_pool",
    "layer_norm",
    "lookup",
    "max_pool1d",
    "max_pool2d",
    "parallel",
    "residual",
    "rms_norm",
    "serial",
    "summary",
]
