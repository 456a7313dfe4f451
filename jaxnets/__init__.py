"""jaxnets: classic neural networks as pure JAX functions."""

from . import cells as cells
from . import core as core
from . import data as data
from . import diagnostics as diagnostics
from . import interop as interop
from . import layers as layers
from . import models as models
from . import rnn as rnn
from . import tasks as tasks
from . import text as text
from . import train as train
from .core import Cell as Cell
from .core import Layer as Layer

__version__ = "0.1.0"
