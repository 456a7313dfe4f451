"""The results store: one SQLite file (WAL) that survives a killed sweep, shared by the
processes that run it, which claim trials under leases."""

import contextlib
import json
import os
import pathlib
import socket
import sqlite3
import threading
import time
import uuid

from ._errors import StoreError

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_points (
    run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    point TEXT NOT NULL,
    PRIMARY KEY (run, idx)
);
CREATE TABLE IF NOT EXISTS run_trials (
    run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    task TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'pruned', 'failed')),
    owner TEXT,
    heartbeat REAL,
    params INTEGER,
    final_metric REAL,
    val_metric REAL,
    final_loss REAL,
    wall_s REAL,
    compile_s REAL,
    step_ms REAL,
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
DONE = ("finished", "pruned")


def _me() -> str:
    # host:pid:token: the token tells this process from a later one given the same PID.
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


OWNER = _me()


class Store:
    """Runs (sweeps), the configurations each asked for, trials and their curves.

    Every write is one transaction, and a finished trial is written whole (status,
    final metrics and every epoch) in one, so a sweep killed at any moment leaves
    finished trials intact and never a half-written one. WAL journaling lets readers and
    several writing processes share the file; a writer waits up to ``timeout`` seconds.

    A claim is a lease: the claiming process (host, PID and a token of its own) renews
    its trials' heartbeat while it runs them (``heartbeat``); a trial whose heartbeat is
    older than ``lease_s`` seconds, or whose process on this host has died, is taken over.
    """

    def __init__(self, path, *, timeout: float = 60.0, lease_s: float = 120.0):
        self.path = pathlib.Path(path)
        self.lease_s, self.timeout = lease_s, timeout
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
            self.db = _connect(self.path, timeout)
            self._check_or_create()
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"results store {self.path}: not a jaxnets results store, or unreadable ({error})."
            ) from None

    def _check_or_create(self):
        tables = {
            r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "meta" not in tables:
            raise sqlite3.DatabaseError(f"it holds other tables: {sorted(tables)}")
        if tables:
            version = self.db.execute(
                "SELECT value FROM meta WHERE key='schema_version'"
            ).fetchone()
            if version is None or int(version[0]) != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version and version[0]}, this jaxnets writes "
                    f"{SCHEMA_VERSION}; keep that store and give this sweep another --results "
                    "directory"
                )
        with self.transaction():
            # One statement at a time: executescript would commit the open transaction.
            for statement in filter(str.strip, SCHEMA.split(";")):
                self.db.execute(statement)
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def transaction(self):
        return _Transaction(self.db)

    def close(self):
        self.db.close()

    # -- runs ---------------------------------------------------------------------------
    def add_run(self, name: str, config: dict, metrics: dict):
        """Record the sweep ``name``, with each task's ``{"name": metric name, "mode":
        "min" | "max"}`` for the reports. A run of the same name with another config
        starts afresh: its configurations and trials are forgotten by the run (the
        trials stay in the store, where any sweep asking for them finds them done)."""
        with self.transaction():
            old = self.db.execute("SELECT config FROM runs WHERE name=?", (name,)).fetchone()
            if old is not None and json.loads(old[0]) != json.loads(json.dumps(config)):
                self.db.execute("DELETE FROM run_points WHERE run=?", (name,))
                self.db.execute("DELETE FROM run_trials WHERE run=?", (name,))
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "config=excluded.config, metrics=excluded.metrics",
                (name, json.dumps(config), json.dumps(metrics), time.time()),
            )

    def runs(self) -> list:
        rows = self.db.execute("SELECT name, config, created FROM runs ORDER BY created")
        return [(name, json.loads(config), created) for name, config, created in rows]

    def run_config(self, name: str) -> tuple:
        """``(config, metrics)`` of the run ``name``."""
        row = self.db.execute("SELECT config, metrics FROM runs WHERE name=?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in self.runs()]
            raise StoreError(f"results store {self.path}: no run named {name!r}; runs: {known}.")
        return json.loads(row[0]), json.loads(row[1])

    def set_points(self, run: str, points: list):
        """The configurations of a grid or random search (replacing earlier ones)."""
        with self.transaction():
            self.db.execute("DELETE FROM run_points WHERE run=?", (run,))
            self.db.executemany(
                "INSERT INTO run_points VALUES (?, ?, ?)",
                [(run, i, json.dumps(p, sort_keys=True)) for i, p in enumerate(points)],
            )

    def add_point(self, run: str, point: dict) -> int:
        """Append a configuration (an Optuna search asks them one by one); its index."""
        with self.transaction():
            (idx,) = self.db.execute(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM run_points WHERE run=?", (run,)
            ).fetchone()
            self.db.execute(
                "INSERT INTO run_points VALUES (?, ?, ?)",
                (run, idx, json.dumps(point, sort_keys=True)),
            )
        return idx

    def points(self, run: str) -> list:
        rows = self.db.execute("SELECT point FROM run_points WHERE run=? ORDER BY idx", (run,))
        return [json.loads(r[0]) for r in rows]

    def add_trials(self, run: str, trials):
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO run_trials VALUES (?, ?)", [(run, t.key) for t in trials]
            )

    # -- claims ---------------------------------------------------------------------------
    def _held_elsewhere(self, status, owner, heartbeat, now) -> bool:
        if status != "running" or owner == OWNER or not owner:
            return False
        if (heartbeat or 0.0) + self.lease_s < now:
            return False  # the lease expired: its holder stopped renewing it
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host == socket.gethostname():
            try:
                os.kill(int(pid), 0)
            except (ProcessLookupError, ValueError):
                return False
            except PermissionError:
                return True
        return True

    def claim(self, trial, *, force: bool = False) -> bool:
        """Mark ``trial`` as running here unless it is done (finished or pruned; with
        ``force``, it is run again) or another process holds a live lease on it."""
        with self.transaction():
            row = self.db.execute(
                "SELECT status, owner, heartbeat FROM trials WHERE key=?", (trial.key,)
            ).fetchone()
            now = time.time()
            if row is not None and (
                (row[0] in DONE and not force) or self._held_elsewhere(*row, now)
            ):
                return False
            self.db.execute("DELETE FROM epochs WHERE trial=?", (trial.key,))
            self.db.execute(
                "INSERT OR REPLACE INTO trials (key, config_hash, config, task, seed, status, "
                "owner, heartbeat, updated) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (trial.key, trial.config_hash, json.dumps(trial._asdict(), sort_keys=True),
                 trial.task, trial.seed, OWNER, now, now),
            )  # fmt: skip
        return True

    def heartbeat(self, db=None):
        """Renew the lease of every trial this process runs."""
        db = db or self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE trials SET heartbeat=? WHERE owner=? AND status='running'", (time.time(), OWNER)
        )
        db.execute("COMMIT")

    def release(self):
        """Give up this process's unfinished claims (it is stopping): others take them at once."""
        with self.transaction():
            self.db.execute(
                "UPDATE trials SET heartbeat=0 WHERE owner=? AND status='running'", (OWNER,)
            )

    def keep_alive(self):
        """A context manager renewing this process's leases from a thread, every quarter
        lease, while the body runs (training holds the main thread for minutes)."""
        return _KeepAlive(self)

    def record(self, trial, result: dict) -> bool:
        """Write a trial's results (``result["status"]``: finished or pruned) and its
        epochs, all in one transaction, if this process still holds its claim (another
        may have taken over an expired lease). Returns whether it was written."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE trials SET status=?, params=?, final_metric=?, val_metric=?, "
                "final_loss=?, wall_s=?, compile_s=?, step_ms=?, seeds_together=?, "
                "jax_version=?, device=?, error=NULL, updated=? "
                "WHERE key=? AND owner=? AND status='running'",
                (result["status"], result["params"], result["final_metric"],
                 result["val_metric"], result["final_loss"], result["wall_s"],
                 result["compile_s"], result["step_ms"], result["seeds_together"],
                 result["jax_version"], result["device"], time.time(), trial.key, OWNER),
            )  # fmt: skip
            if cursor.rowcount == 0:
                return False
            self.db.executemany(
                "INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?)",
                [(trial.key, e, *values) for e, values in enumerate(result["epochs"])],
            )
        return True

    def fail(self, trial, error: str) -> bool:
        """Mark a trial failed with ``error``, if this process still holds its claim."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE trials SET status='failed', error=?, updated=? "
                "WHERE key=? AND owner=? AND status='running'",
                (error, time.time(), trial.key, OWNER),
            )
        return cursor.rowcount > 0

    # -- reading ------------------------------------------------------------------------
    def status(self, keys) -> dict:
        """{key: status} for the trials of ``keys`` that the store knows; a running trial
        whose lease is live elsewhere is 'elsewhere', one whose lease expired 'stale'."""
        wanted, now, found = set(keys), time.time(), {}
        for key, status, owner, beat in self.db.execute(
            "SELECT key, status, owner, heartbeat FROM trials"
        ):
            if key in wanted:
                if status == "running" and owner != OWNER:
                    status = (
                        "elsewhere" if self._held_elsewhere(status, owner, beat, now) else "stale"
                    )
                found[key] = status
        return found

    def rows(self, run: str) -> list:
        """The trials a run asked for, as dicts, with ``config`` parsed and ``epochs``
        (loss, val_metric, grad_norm) per epoch."""
        cursor = self.db.execute(
            "SELECT t.* FROM trials t JOIN run_trials r ON r.key = t.key WHERE r.run=?", (run,)
        )
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
        for row in rows:
            row["config"] = json.loads(row["config"])
            row["epochs"] = self.db.execute(
                "SELECT loss, val_metric, grad_norm FROM epochs WHERE trial=? ORDER BY epoch",
                (row["key"],),
            ).fetchall()
        return rows

    def curves(self, run: str, task: str) -> tuple:
        """The mean validation curve (over seeds) of every done configuration of ``run``
        on ``task``: what the pruner compares with."""
        by_config = {}
        for row in self.rows(run):
            if row["task"] == task and row["status"] in DONE:
                by_config.setdefault(row["config_hash"], []).append([e[1] for e in row["epochs"]])
        curves = []
        for seeds in by_config.values():
            length = min(len(c) for c in seeds)
            values = [[c[e] for c in seeds if c[e] is not None] for e in range(length)]
            curves.append(tuple(sum(v) / len(v) if v else None for v in values))
        return tuple(curves)


def _connect(path, timeout):
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database
    # is locked" at once, without its busy handler, while a second process is opening
    # the same new file: retry within the timeout.
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    db.execute("PRAGMA foreign_keys=ON")
    return db


class _KeepAlive:
    def __init__(self, store):
        self.store, self.stop = store, threading.Event()

    def _beat(self):
        db = _connect(self.store.path, self.store.timeout)
        try:
            while not self.stop.wait(self.store.lease_s / 4):
                # A busy store: the next beat tries again, well within the lease.
                with contextlib.suppress(sqlite3.Error):
                    self.store.heartbeat(db)
        finally:
            db.close()

    def __enter__(self):
        self.thread = threading.Thread(target=self._beat, daemon=True, name="jaxnets-lease")
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False
