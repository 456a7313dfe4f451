"""The Clockwork RNN paper's generation task: emit a given waveform from no input."""

import numpy as np

from jaxnets.cells import clockwork
from jaxnets.models import one_to_many
from jaxnets.train import mse

from ._task import Task


def waveform(length: int = 320) -> np.ndarray:
    """A fixed 1-D signal of ``length`` samples, (length,) float32, zero mean, max |y| 1.

    Koutnik et al. (2014) used 320 samples of a music recording; this is a synthetic
    stand-in with the same difficulty: partials whose periods span 10 to 160 steps,
    with a slow amplitude envelope, so that matching it needs both short and long
    time scales.
    """
    t = np.arange(length) / length
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t)
    y = envelope * (
        np.sin(2 * np.pi * 2 * t)
        + 0.6 * np.sin(2 * np.pi * 7 * t + 1.0)
        + 0.35 * np.sin(2 * np.pi * 19 * t + 2.0)
        + 0.25 * np.sin(2 * np.pi * 32 * t + 0.5)
    )
    y = y - y.mean()
    return (y / np.abs(y).max()).astype(np.float32)


def data(*, seed: int = 0, length: int = 320) -> dict:
    """One example: no input (x is (1, 0)) and the waveform y (1, length, 1); the test
    pair is the same (the task is to reproduce it). ``seed`` is unused: the data is fixed."""
    x = np.zeros((1, 0), np.float32)
    y = waveform(length)[None, :, None]
    return {"x": x, "y": y, "x_test": x, "y_test": y}


def model(cell=None, *, num_layers: int = 1, bidirectional: bool = False, length: int = 320):
    """``one_to_many`` without feedback: the cell reads only a start flag and emits a
    linear output per step. Clockwork(160, periods 1..128) by default."""
    if num_layers != 1 or bidirectional:
        raise ValueError(
            "waveform.model: generation runs one forward layer; got "
            f"num_layers={num_layers}, bidirectional={bidirectional}."
        )
    cell = cell or clockwork(160, periods=tuple(2**i for i in range(8)))
    return one_to_many(cell, 1, length, feedback=False)


def normalized_mse(predictions, targets):
    """MSE divided by the target's variance: 1 for predicting its mean, 0 when exact."""
    return mse(predictions, targets) / targets.var()


task = Task("waveform", data, model, mse, normalized_mse, "nmse", "min", 1)
