"""Atomic, verified checkpoints of pytrees in msgpack (flax.serialization) that record what
they hold: tree paths, shapes, dtypes, PRNG key types and a fingerprint. No code runs on load."""

import hashlib
import os
import warnings

import jax
import numpy as np
from flax import serialization

MAGIC_V1 = b"jaxnets-checkpoint-v1\n"
MAGIC = b"jaxnets-checkpoint-v2\n"
DIGEST = hashlib.sha256().digest_size
# Fingerprint entries whose value is a hash of a traced program: comparable only between
# runs of one jax version, since another version may trace the same code differently.
TRACED = "traced."


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _leaves(tree) -> dict:
    """{path: leaf} of a tree in its state-dict form (NamedTuple fields become keys), in
    the tree's own order, params first: the first difference named is the telling one."""

    def walk(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{prefix}[{key!r}]")
        elif node is not None:
            yield prefix, node

    found = dict(walk(serialization.to_state_dict(tree), ""))
    return dict(sorted(found.items(), key=lambda item: "['params']" not in item[0]))


def _dtype(leaf) -> str:
    return str(leaf.dtype) if hasattr(leaf, "dtype") else type(leaf).__name__


def _describe(tree) -> dict:
    """{path: [shape, dtype, key implementation or ""]} for every leaf."""
    return {
        path: [
            list(np.shape(leaf)),
            _dtype(leaf),
            str(jax.random.key_impl(leaf)) if _is_key(leaf) else "",
        ]
        for path, leaf in _leaves(tree).items()
    }


def _plain(tree):
    # Typed PRNG keys have no msgpack form; their uint32 data does (the file's table of
    # leaves records which ones were keys, so they come back as keys).
    return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x)) if _is_key(x) else x, tree)


def save_checkpoint(path, tree, *, fingerprint: dict | None = None) -> None:
    """Write ``tree`` (dicts, lists, NamedTuples of arrays, numbers and PRNG keys) to ``path``.

    The file records every leaf's tree path, shape and dtype (typed PRNG keys as keys),
    the jax version, and ``fingerprint``: a dict of strings that say what produced the
    tree (``fit`` records its model, optimizer and training options), which
    ``load_checkpoint`` can compare.

    The file is written with ``atomic_write``: a crash at any moment leaves either the
    old file or the new one, never a mix. A SHA-256 of the payload lets ``load_checkpoint``
    refuse a truncated or corrupted file.
    """
    meta = {
        "jax": jax.__version__,
        "leaves": _describe(tree),
        "fingerprint": {str(k): str(v) for k, v in (fingerprint or {}).items()},
    }
    body = {"meta": meta, "tree": serialization.to_state_dict(_plain(tree))}
    payload = serialization.msgpack_serialize(body)
    atomic_write(path, MAGIC + hashlib.sha256(payload).digest() + payload)


def atomic_write(path, data: bytes, *, shared: bool = False) -> None:
    """Write ``data`` to ``path`` so that a crash at any moment leaves the old file or
    the new one, never a mix: the bytes go to a temporary file in the same folder, are
    flushed and fsynced, renamed over ``path``, and the folder is fsynced.

    The temporary file has one fixed name per file (``.NAME.tmp``): a write killed
    half-way leaves it behind, and the next write reuses and renames it instead of
    piling files up. ``shared``: several processes may write this file at once (a
    sweep's report), so each uses a temporary file of its own (``.NAME.PID.tmp``).
    """
    folder = os.path.dirname(os.path.abspath(path))
    suffix = f".{os.getpid()}.tmp" if shared else ".tmp"
    tmp = os.path.join(folder, f".{os.path.basename(path)}{suffix}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
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


def _read(path):
    """(meta, raw state dict) of a v2 file, or ({}, raw) of a v1 file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = next((m for m in (MAGIC, MAGIC_V1) if data.startswith(m)), None)
    if magic is None:
        raise ValueError(f"load_checkpoint: {path} is not a jaxnets checkpoint (bad header).")
    header = len(magic) + DIGEST
    payload = data[header:]
    if len(data) < header or hashlib.sha256(payload).digest() != data[len(magic) : header]:
        raise ValueError(
            f"load_checkpoint: {path} is truncated or corrupted (checksum mismatch, "
            f"{len(data)} bytes)."
        )
    raw = serialization.msgpack_restore(payload)
    return (raw["meta"], raw["tree"]) if magic == MAGIC else ({}, raw)


def _wrap_keys(raw, leaves: dict):
    """Typed PRNG keys back from their uint32 data, where the table of leaves says so."""

    def wrap(node, prefix):
        if isinstance(node, dict):
            return {k: wrap(v, f"{prefix}[{k!r}]") for k, v in node.items()}
        impl = leaves.get(prefix, [None, None, ""])[2]
        return jax.random.wrap_key_data(node, impl=impl) if impl else node

    return wrap(raw, "")


def checkpoint_fingerprint(path) -> dict:
    """The ``fingerprint`` dict a checkpoint was saved with (``{}`` for none or a v1 file)."""
    meta, _ = _read(path)
    return dict(meta.get("fingerprint", {}))


def load_checkpoint(path, target=None, *, fingerprint: dict | None = None):
    """Read a checkpoint written by ``save_checkpoint``.

    Args:
      path: the file.
      target: a pytree of the expected structure, shapes and dtypes (e.g. freshly
        initialized params); ``None`` returns the raw nested dict of arrays (typed PRNG
        keys as keys).
      fingerprint: the dict the file must have been saved with. Entries named
        ``traced.*`` (hashes of traced programs) are compared only when the file was
        written by this jax version; otherwise a warning says they were not checked.

    Raises:
      ValueError: the file is not a jaxnets checkpoint, is truncated or corrupted, holds
        another tree structure, shape or dtype than ``target`` (naming the first
        differing tree path with the expected and actual value), or another
        fingerprint (naming the first differing entry); nothing is half-loaded.
    """
    return restore(path, None if target is None else (lambda raw: target), fingerprint)


def restore(path, make_target=None, fingerprint: dict | None = None):
    """``load_checkpoint`` with the target made from the raw tree the file holds
    (``make_target(raw) -> target``), so that parts whose size only the file knows
    (curves of a resumed run) need no second read."""
    where = f"load_checkpoint: {path}"
    meta, raw = _read(path)
    if "leaves" in meta:
        raw = _wrap_keys(raw, meta["leaves"])
    if make_target is not None:  # paths, shapes and dtypes first: they say the most
        raw = restore_tree(where, make_target(raw), raw, meta.get("leaves"))
    if fingerprint is not None:
        check_fingerprint(where, meta, fingerprint)
    return raw


def check_fingerprint(where: str, meta: dict, expected: dict) -> None:
    """A ValueError naming the first entry where the file's fingerprint differs."""
    saved = meta.get("fingerprint", {})
    same_jax = meta.get("jax") == jax.__version__
    skipped = []
    for name in sorted(set(saved) | {str(k) for k in expected}):
        want = str(expected[name]) if name in expected else "(none)"
        got = saved.get(name, "(none)")
        if want == got:
            continue
        if name.startswith(TRACED) and not same_jax:
            skipped.append(name)
            continue
        kind, _, what = name.partition(".")
        label = f"`{what}` option" if kind == "option" else (what or kind)
        raise ValueError(
            f"{where} was written by another {label}: expected {want} (this run), got {got} "
            "(the checkpoint)."
        )
    if skipped:
        warnings.warn(
            f"{where} was written by jax {meta.get('jax', '?')}, this is jax "
            f"{jax.__version__}: its {', '.join(skipped)} could not be compared.",
            stacklevel=3,
        )


def restore_tree(where: str, target, raw, leaves: dict | None = None):
    """A restored state dict in the structure of ``target``, or a ValueError naming the
    first tree path whose presence, shape or dtype differs."""
    # v1 files hold keys as their uint32 data: compare the target's keys as data too.
    expected = _describe(target if leaves is not None else _plain(target))
    actual = leaves if leaves is not None else _describe(raw)
    for path in [*expected, *(p for p in actual if p not in expected)]:
        if path not in actual:
            raise ValueError(
                f"{where}: the checkpoint has no leaf at `{path}`, which the target has."
            )
        if path not in expected:
            raise ValueError(
                f"{where}: the checkpoint has a leaf at `{path}`, which the target lacks."
            )
    scalars = ("int", "float", "bool")  # Python numbers: no dtype to compare
    for path, (shape, dtype, _) in expected.items():
        got_shape, got_dtype, _ = actual[path]
        if dtype not in scalars and got_dtype not in scalars and got_dtype != dtype:
            raise ValueError(
                f"{where}: `{path}` must have dtype {dtype}, got {got_dtype} in the checkpoint."
            )
        if list(got_shape) != list(shape):
            raise ValueError(
                f"{where}: `{path}` must have shape {tuple(shape)}, got {tuple(got_shape)} "
                "in the checkpoint."
            )
    try:
        restored = serialization.from_state_dict(target, raw)
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{where} does not fit the expected structure: {error}") from error
    # v1 files hold keys as raw data: make them keys wherever the target has one.
    return jax.tree.map(
        lambda t, r: (
            jax.random.wrap_key_data(r, impl=jax.random.key_impl(t))
            if _is_key(t) and not _is_key(r)
            else r
        ),
        target,
        restored,
    )
