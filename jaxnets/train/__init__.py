"""Training and evaluation on optax: one engine (``fit``, ``fit_seeds``, truncated BPTT,
variable-length data, streams of batches), losses, regularization, evaluation protocols,
standardization and checkpoints."""

from ._checkpoint import atomic_write as atomic_write
from ._checkpoint import checkpoint_fingerprint as checkpoint_fingerprint
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._engine import Trainer as Trainer
from ._evaluation import Estimate as Estimate
from ._evaluation import bootstrap_evaluate as bootstrap_evaluate
from ._evaluation import cross_validate as cross_validate
from ._fit import evaluate as evaluate
from ._fit import evaluate_seeds as evaluate_seeds
from ._fit import fit as fit
from ._fit import fit_seeds as fit_seeds
from ._fit import init_and_fit_key as init_and_fit_key
from ._loop import EarlyStopping as EarlyStopping
from ._loop import FitResult as FitResult
from ._loop import History as History
from ._losses import accuracy as accuracy
from ._losses import binary_cross_entropy as binary_cross_entropy
from ._losses import mse as mse
from ._losses import perplexity as perplexity
from ._losses import softmax_cross_entropy as softmax_cross_entropy
from ._mixed import LossScaleState as LossScaleState
from ._mixed import loss_scaled as loss_scaled
from ._optimizer import OPTIMIZERS as OPTIMIZERS
from ._optimizer import optimizer as optimizer
from ._predict import predictor as predictor
from ._regularization import l1_penalty as l1_penalty
from ._regularization import l2_penalty as l2_penalty
from ._regularization import weights_mask as weights_mask
from ._standardize import Scaler as Scaler
from ._standardize import fit_minmax as fit_minmax
from ._standardize import fit_zscore as fit_zscore
from ._standardize import inverse_transform as inverse_transform
from ._standardize import transform as transform
from ._step import TrainState as TrainState
from ._step import keywords as keywords
from ._step import train_epoch as train_epoch
from ._step import train_step as train_step
from ._step import truncated_bptt as truncated_bptt

__all__ = [
    "OPTIMIZERS",
    "EarlyStopping",
    "Estimate",
    "FitResult",
    "History",
    "LossScaleState",
    "Scaler",
    "TrainState",
    "Trainer",
    "accuracy",
    "atomic_write",
    "binary_cross_entropy",
    "bootstrap_evaluate",
    "checkpoint_fingerprint",
    "cross_validate",
    "evaluate",
    "evaluate_seeds",
    "fit",
    "fit_minmax",
    "fit_seeds",
    "fit_zscore",
    "init_and_fit_key",
    "inverse_transform",
    "keywords",
    "l1_penalty",
    "l2_penalty",
    "load_checkpoint",
    "loss_scaled",
    "mse",
    "optimizer",
    "perplexity",
    "predictor",
    "save_checkpoint",
    "softmax_cross_entropy",
    "train_epoch",
    "train_step",
    "transform",
    "truncated_bptt",
    "weights_mask",
]
