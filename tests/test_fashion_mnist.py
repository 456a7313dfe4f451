"""IDX files and Fashion-MNIST from Debian's package (installed by .ci/run)."""

import gzip
import struct

import jax
import numpy as np
import optax
import pytest

from jaxnets.data import fashion_mnist, read_idx, write_idx
from jaxnets.models import keras_convnet
from jaxnets.train import accuracy, evaluate, fit, softmax_cross_entropy


def _idx_bytes(array, code):
    # Written from the format's description, independently of write_idx.
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_matches_a_file_written_by_hand(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    values = np.array([[1.5, -2.0], [3.25, 0.0]], np.float32)
    for name, array, code in (("u8", images, 0x08), ("f32", values, 0x0D)):
        raw = _idx_bytes(array, code)
        path = tmp_path / f"{name}.idx"
        path.write_bytes(gzip.compress(raw) if compress else raw)
        loaded = read_idx(path)
        assert loaded.dtype == array.dtype
        np.testing.assert_array_equal(loaded, array)
    write_idx(tmp_path / "again.idx", values)
    np.testing.assert_array_equal(read_idx(tmp_path / "again.idx"), values)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    raw = _idx_bytes(np.zeros((4, 5), np.uint8), 0x08)
    short = tmp_path / "short.idx"
    short.write_bytes(raw[:-3])
    with pytest.raises(
        ValueError, match=r"short\.idx holds 17 data bytes, but its header \(4, 5\)"
    ):
        read_idx(short)
    gz = tmp_path / "cut.idx.gz"
    gz.write_bytes(gzip.compress(raw)[:-8])
    with pytest.raises(ValueError, match=r"cut\.idx\.gz is a truncated or corrupted gzip file"):
        read_idx(gz)
    foreign = tmp_path / "foreign.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + raw)
    with pytest.raises(ValueError, match=r"foreign\.png is not an IDX file"):
        read_idx(foreign)
    bad_code = tmp_path / "code.idx"
    bad_code.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"code\.idx has unknown IDX dtype code 0x07"):
        read_idx(bad_code)


def test_fashion_mnist_splits():
    x, y = fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int32 and set(np.unique(y)) == set(range(10))
    assert np.bincount(y).tolist() == [1000] * 10
    train_labels = fashion_mnist("train")[1]
    assert len(train_labels) == 60000


def test_fashion_mnist_says_how_to_install_when_absent(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist("train", root=str(tmp_path))
    with pytest.raises(ValueError, match="`split`"):
        fashion_mnist("validation")


def test_convnet_learns_a_2000_image_subset():
    x, y = fashion_mnist("train", as_float=True)
    x_test, y_test = fashion_mnist("test", as_float=True)
    model = keras_convnet()
    _, params, state = model.init(jax.random.key(0), (28, 28, 1))
    result = fit(
        model, params, state, optax.adam(2e-3), softmax_cross_entropy, x[:2000], y[:2000],
        epochs=3, batch_size=50, key=jax.random.key(1),
    )  # fmt: skip
    # Ten balanced classes: chance is 0.10.
    assert (
        evaluate(model, result.params, result.state, x_test[:1000], y_test[:1000], accuracy) > 0.6
    )
