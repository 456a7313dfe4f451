"""Small data sets that need no network: sklearn's digits and generated mnist1d."""

import numpy as np


def digits(*, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits shipped inside scikit-learn.

    Args:
      size: side of the returned images: 8 (as stored), or larger (28 for the Keras
        convnet, 32 for LeNet-5), bilinearly resized from 8x8.

    Returns:
      ``(x, y)``: x (N, size, size, 1) float32 in [0, 1], y (N,) int32 in 0..9.
    """
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"digits: `size` must be an int >= 8, got {size!r}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("digits needs scikit-learn: pip install 'jaxnets[data]'") from error
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    if size != 8:
        import jax

        x = np.asarray(jax.image.resize(x, (x.shape[0], size, size, 1), "linear"))
    return x, y.astype(np.int32)


def mnist1d(*, num_samples: int = 5000, seed: int = 42) -> dict[str, np.ndarray]:
    """The mnist1d data set (Greydanus, 2020), generated offline from its templates.

    Args:
      num_samples: total number of sequences (80% train, 20% test).
      seed: the generator's seed; 42 gives the published data set.

    Returns:
      A dict with ``x`` (N, 40) and ``x_test`` float32 sequences, ``y`` and
      ``y_test`` (N,) int32 labels in 0..9.
    """
    if not isinstance(num_samples, int) or num_samples < 10:
        raise ValueError(f"mnist1d: `num_samples` must be an int >= 10, got {num_samples!r}.")
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:
        raise ImportError(
            "mnist1d needs the mnist1d package: pip install 'jaxnets[data]'"
        ) from error
    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    # make_dataset reseeds NumPy's global generator; give the caller's back.
    saved = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(saved)
    return {
        "x": data["x"].astype(np.float32),
        "y": data["y"].astype(np.int32),
        "x_test": data["x_test"].astype(np.float32),
        "y_test": data["y_test"].astype(np.int32),
    }
