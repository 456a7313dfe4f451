"""Fashion-MNIST (Xiao et al., 2017) from Debian's dataset-fashion-mnist package."""

import os

import numpy as np

from ._idx import read_idx

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def fashion_mnist(
    split: str = "train",
    *,
    root: str | None = None,
    as_float: bool = False,
    cache_dir: str | None = None,
):
    """The 60,000 training or 10,000 test images of Fashion-MNIST, 28x28 grey.

    Args:
      split: "train" or "test".
      root: the folder of the four IDX gzip files; Debian's package puts them in
        /usr/share/datasets/fashion-mnist (``apt-get install dataset-fashion-mnist``).
      as_float: return images as float32 in [0, 1] with a channel axis, (N, 28, 28, 1).
      cache_dir: with ``as_float``, keep that conversion as .npy files there and read
        them back next time.

    Returns:
      ``(images, labels)``: images (N, 28, 28) uint8 (or float32 as above), labels (N,)
      int32 in 0..9 (``CLASSES`` names them).
    """
    if split not in FILES:
        raise ValueError(f"fashion_mnist: `split` must be 'train' or 'test', got {split!r}.")
    root = root or DEBIAN_DIR
    image_file, label_file = (os.path.join(root, name) for name in FILES[split])
    if not os.path.exists(image_file) or not os.path.exists(label_file):
        raise FileNotFoundError(
            f"fashion_mnist: no {FILES[split][0]} in {root}. Install Debian's package with "
            "`apt-get update && apt-get install dataset-fashion-mnist`, or pass root= the "
            "folder holding the IDX files."
        )
    cached = os.path.join(cache_dir, f"fashion_mnist_{split}_float32.npy") if cache_dir else None
    labels = read_idx(label_file).astype(np.int32)
    if as_float and cached and os.path.exists(cached):
        return np.load(cached, allow_pickle=False), labels
    images = read_idx(image_file)
    if images.shape != (len(labels), 28, 28):
        raise ValueError(
            f"fashion_mnist: {image_file} holds images of shape {images.shape}, expected "
            f"({len(labels)}, 28, 28) to match {label_file}."
        )
    if not as_float:
        return images, labels
    images = (images.astype(np.float32) / 255.0)[..., None]
    if cached:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{cached}.tmp.npy"
        np.save(tmp, images)
        os.replace(tmp, cached)
    return images, labels
