"""Training: optax train step, minibatch fit loop, losses and metrics."""

from ._fit import evaluate as evaluate
from ._fit import fit as fit
from ._losses import accuracy as accuracy
from ._losses import softmax_cross_entropy as softmax_cross_entropy
from ._step import TrainState as TrainState
from ._step import train_step as train_step
