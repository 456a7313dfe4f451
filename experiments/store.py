"""The results store: one SQLite file (WAL) that survives a killed sweep."""

import json
import os
import pathlib
import socket
import sqlite3
import time

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    task TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    owner TEXT,
    params INTEGER,
    final_metric REAL,
    final_loss REAL,
    wall_s REAL,
    compile_s REAL,
    seeds_together INTEGER,
    jax_version TEXT,
    device TEXT,
    error TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    trial TEXT NOT NULL REFERENCES trials(key) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    loss REAL,
    val_metric REAL,
    grad_norm REAL,
    PRIMARY KEY (trial, epoch)
);
"""


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says which file and why."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Whether a trial's owner is a live process on this machine (other hosts: assume so)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class Store:
    """Trials, their per-epoch metrics and the runs (sweeps) that asked for them.

    Every write is one transaction, and a finished trial is written whole (status,
    final metrics and every epoch) in one, so a sweep killed at any moment leaves
    finished trials intact and never a half-written one. WAL journaling lets readers
    (``report``) and several writing processes share the file; a writer waits up to
    ``timeout`` seconds for another's transaction.
    """

    def __init__(self, path, *, timeout: float = 60.0):
        self.path = pathlib.Path(path)
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"results store {self.path}: is not a file.")
        if not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"results store {self.path}: cannot create its directory ({error.strerror})."
                ) from None
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._journal_wal(timeout)
            self.db.execute("PRAGMA foreign_keys=ON")
            self._check_or_create()
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"results store {self.path}: not a jaxnets results store, or unreadable ({error})."
            ) from None

    def _journal_wal(self, timeout):
        # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database
        # is locked" at once, without its busy handler, while a second process is opening
        # the same new file: retry within the store's timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _check_or_create(self):
        tables = {
            r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "meta" not in tables:
            raise sqlite3.DatabaseError(f"it holds other tables: {sorted(tables)}")
        with self.transaction():
            # One statement at a time: executescript would commit the open transaction.
            for statement in filter(str.strip, SCHEMA.split(";")):
                self.db.execute(statement)
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        version = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")

    def transaction(self):
        return _Transaction(self.db)

    def close(self):
        self.db.close()

    # Runs.
    def add_run(self, name: str, config: dict):
        """Record the sweep ``name`` (a re-run replaces its config)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET config=excluded.config",
                (name, json.dumps(config), time.time()),
            )

    def runs(self) -> list:
        return [
            (name, json.loads(config), created)
            for name, config, created in self.db.execute(
                "SELECT name, config, created FROM runs ORDER BY created"
            )
        ]

    def run_config(self, name: str) -> dict:
        row = self.db.execute("SELECT config FROM runs WHERE name=?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in self.runs()]
            raise StoreError(f"results store {self.path}: no run named {name!r}; runs: {known}.")
        return json.loads(row[0])

    # Trials.
    def claim(self, trial) -> bool:
        """Mark ``trial`` as running by this process, unless it is finished or another
        live process runs it. Returns whether this process should run it."""
        with self.transaction():
            row = self.db.execute(
                "SELECT status, owner FROM trials WHERE key=?", (trial.key,)
            ).fetchone()
            if row is not None and (
                row[0] == "finished"
                or (row[0] == "running" and row[1] != _owner() and _alive(row[1]))
            ):
                return False
            self.db.execute("DELETE FROM epochs WHERE trial=?", (trial.key,))
            self.db.execute(
                "INSERT OR REPLACE INTO trials (key, config_hash, config, task, seed, status, "
                "owner, updated) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (trial.key, trial.config_hash, json.dumps(trial._asdict(), sort_keys=True),
                 trial.task, trial.seed, _owner(), time.time()),
            )  # fmt: skip
        return True

    def finish(self, trial, result: dict):
        """Write a trial's results and its epochs, all in one transaction."""
        with self.transaction():
            self.db.execute(
                "UPDATE trials SET status='finished', params=?, final_metric=?, final_loss=?, "
                "wall_s=?, compile_s=?, seeds_together=?, jax_version=?, device=?, error=NULL, "
                "updated=? WHERE key=?",
                (result["params"], result["final_metric"], result["final_loss"], result["wall_s"],
                 result["compile_s"], result["seeds_together"], result["jax_version"],
                 result["device"], time.time(), trial.key),
            )  # fmt: skip
            self.db.executemany(
                "INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?)",
                [(trial.key, e, *values) for e, values in enumerate(result["epochs"])],
            )

    def fail(self, trial, error: str):
        with self.transaction():
            self.db.execute(
                "UPDATE trials SET status='failed', error=?, updated=? WHERE key=?",
                (error, time.time(), trial.key),
            )

    def status(self, keys) -> dict:
        """{key: status} for the trials of ``keys`` that the store knows."""
        found = dict(self.db.execute("SELECT key, status FROM trials"))
        return {k: found[k] for k in keys if k in found}

    def finished(self, keys) -> list:
        """Rows (as dicts) of the finished trials among ``keys``, with their epochs."""
        rows = []
        cursor = self.db.execute("SELECT * FROM trials WHERE status='finished'")
        names = [c[0] for c in cursor.description]
        wanted = set(keys)
        for values in cursor:
            row = dict(zip(names, values))
            if row["key"] in wanted:
                row["config"] = json.loads(row["config"])
                row["epochs"] = self.db.execute(
                    "SELECT loss, val_metric, grad_norm FROM epochs WHERE trial=? ORDER BY epoch",
                    (row["key"],),
                ).fetchall()
                rows.append(row)
        return rows


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False
