"""Moving digits: forecast the next frame of handwritten digits drifting across a canvas.

A small offline cousin of Moving MNIST (Srivastava et al. 2015), the task Shi et al.
(2015) introduced the ConvLSTM on: scikit-learn's 8x8 digits (the first 1,500 images
for training sequences, the other 297 for test ones), each moving at a constant
velocity on a 16x16 canvas and bouncing off its edges; two digits per sequence,
overlapping by maximum. The model reads frames 0..T-2 and predicts frames 1..T-1 (each
pixel's intensity in [0, 1]). Frames travel flattened, (T, 256) per sequence, as every
cell takes them; ``conv_lstm`` sees the images inside.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.cells import conv_lstm
from jaxnets.core import Layer, cell_tag, check_input_shape
from jaxnets.data import digits
from jaxnets.layers import dense
from jaxnets.rnn import stacked_rnn
from jaxnets.train import binary_cross_entropy, mse

from ._task import Task

SIZE = 16
TRAIN_IMAGES = 1500


def sequences(images, n: int, *, length: int = 10, num_digits: int = 2, seed: int = 0):
    """(n, length, SIZE, SIZE) frames of ``num_digits`` of ``images`` (8x8) in motion."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, length, SIZE, SIZE), np.float32)
    room = SIZE - 8
    for i in range(n):
        for _ in range(num_digits):
            image = images[rng.integers(len(images))]
            pos = rng.uniform(0, room, 2)
            vel = rng.uniform(-1.5, 1.5, 2)
            for t in range(length):
                y, x = np.round(pos).astype(int)
                window = frames[i, t, y : y + 8, x : x + 8]
                np.maximum(window, image, out=window)
                pos = pos + vel
                for axis in range(2):  # bounce off the edges
                    if not 0 <= pos[axis] <= room:
                        vel[axis] = -vel[axis]
                        pos[axis] = np.clip(pos[axis], 0, room) * 2 - pos[axis]
    return frames


def data(*, seed: int = 0, length: int = 10, n_train: int = 4000, n_test: int = 500) -> dict:
    """``{"x", "y", "x_test", "y_test"}``: x frames 0..T-2, y frames 1..T-1, each
    (n, T - 1, 256) float32 in [0, 1]; test sequences move the held-out digit images."""
    if not isinstance(length, int) or length < 2:
        raise ValueError(f"moving_digits: `length` must be an int >= 2, got {length!r}.")
    images = digits()[0][..., 0]
    train = sequences(images[:TRAIN_IMAGES], n_train, length=length, seed=seed)
    test = sequences(images[TRAIN_IMAGES:], n_test, length=length, seed=seed + 1_000_003)
    flat = lambda f: f.reshape(*f.shape[:2], SIZE * SIZE)  # noqa: E731
    return {"x": flat(train[:, :-1]), "y": flat(train[:, 1:]), "x_test": flat(test[:, :-1]),
            "y_test": flat(test[:, 1:])}  # fmt: skip


def forecaster(
    cell=None, *, num_layers: int = 1, bidirectional: bool = False, name: str = "forecaster"
) -> Layer:
    """Frames (B, T, 256) -> next-frame logits (B, T, 256) (sigmoid: intensities).

    ``cell``: ``conv_lstm`` (default: 16 filters, 3x3 over the 16x16 canvas) or any
    cell. A ConvLSTM's (16, 16, F) maps are read out per pixel by one F -> 1 dense (a
    1x1 convolution); any other cell's state by a dense layer to all 256 pixels.
    """
    if bidirectional:
        raise ValueError(
            f"{name}: a forecaster reads frames up to t to predict frame t + 1, so it cannot "
            "be bidirectional; got bidirectional=True."
        )
    cell = cell or conv_lstm(16, 3, (SIZE, SIZE))
    tag = cell_tag(cell)
    conv = tag is not None and tag.kind == "conv_lstm"
    if conv and tag.options["spatial_shape"] != (SIZE, SIZE):
        raise ValueError(
            f"{name}: the conv_lstm's `spatial_shape` must be the canvas ({SIZE}, {SIZE}), "
            f"got {tag.options['spatial_shape']}."
        )
    rnn = stacked_rnn(cell, num_layers, name=f"{name}.rnn")
    readout = dense(1 if conv else SIZE * SIZE, name=f"{name}.readout")

    def init(key, input_shape):
        steps, features = check_input_shape(f"{name}.init", input_shape, rank=2)
        k_rnn, k_out = jax.random.split(key)
        (_, out), rnn_params, _ = rnn.init(k_rnn, (steps, features))
        _, out_params, _ = readout.init(k_out, (out // (SIZE * SIZE) if conv else out,))
        return (steps, SIZE * SIZE), {"rnn": rnn_params, "readout": out_params}, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None):
        ys, _ = rnn.apply(params["rnn"], {}, x, key=key, train=train, lengths=lengths)
        if conv:  # each pixel's F channels -> its logit
            maps = ys.reshape(*ys.shape[:-1], SIZE * SIZE, -1)
            return readout.apply(params["readout"], {}, maps)[0][..., 0], state
        return readout.apply(params["readout"], {}, ys)[0], state

    return Layer(init, apply, name)


def last_frame_mse(x, y) -> float:
    """The baseline that predicts no motion: each next frame is the current one."""
    return float(jnp.mean((jnp.asarray(x) - jnp.asarray(y)) ** 2))


def pixel_mse(logits, frames, mask=None):
    """Mean squared error of the predicted intensities, sigmoid(logits), per pixel."""
    return mse(jax.nn.sigmoid(logits), frames, mask)


task = Task(
    "moving_digits",
    data,
    forecaster,
    binary_cross_entropy,
    pixel_mse,
    "pixel_mse",
    "min",
    SIZE * SIZE,
)
