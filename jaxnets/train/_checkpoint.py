"""Atomic, verified checkpoints of pytrees in msgpack (flax.serialization): no code runs on load."""

import hashlib
import os

import jax
import numpy as np
from flax import serialization

MAGIC = b"jaxnets-checkpoint-v1\n"
DIGEST = hashlib.sha256().digest_size


def _plain(tree):
    # Typed PRNG keys have no msgpack form; their uint32 data does.
    def leaf(x):
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return np.asarray(jax.random.key_data(x))
        return x

    return jax.tree.map(leaf, tree)


def save_checkpoint(path, tree) -> None:
    """Write ``tree`` (dicts, lists, NamedTuples of arrays and numbers) to ``path``.

    The bytes go to ``.<name>.tmp`` in the same folder, are flushed and fsynced,
    then renamed over ``path``: a crash at any moment leaves either the old file or
    the new one, never a mix. A SHA-256 of the payload lets ``load_checkpoint``
    refuse a truncated or corrupted file.
    """
    payload = serialization.msgpack_serialize(serialization.to_state_dict(_plain(tree)))
    folder = os.path.dirname(os.path.abspath(path))
    # One fixed temporary name per checkpoint: a write killed half-way leaves it
    # behind, and the next save reuses (and then renames) it instead of piling up.
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path, target=None):
    """Read a checkpoint written by ``save_checkpoint``.

    Args:
      path: the file.
      target: a pytree of the expected structure (e.g. freshly initialized params);
        ``None`` returns the raw nested dict of arrays.

    Raises:
      ValueError: the file is not a jaxnets checkpoint, is truncated or corrupted, or
        does not fit ``target``; nothing is half-loaded.
    """
    with open(path, "rb") as f:
        data = f.read()
    header = len(MAGIC) + DIGEST
    if not data.startswith(MAGIC):
        raise ValueError(f"load_checkpoint: {path} is not a jaxnets checkpoint (bad header).")
    payload = data[header:]
    if len(data) < header or hashlib.sha256(payload).digest() != data[len(MAGIC) : header]:
        raise ValueError(
            f"load_checkpoint: {path} is truncated or corrupted (checksum mismatch, "
            f"{len(data)} bytes)."
        )
    raw = serialization.msgpack_restore(payload)
    return raw if target is None else restore_tree(f"load_checkpoint: {path}", target, raw)


def restore_tree(where: str, target, raw):
    """A restored state dict in the structure of ``target``, or a ValueError."""
    try:
        return serialization.from_state_dict(target, raw)
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{where} does not fit the expected structure: {error}") from error
