"""The service's state: jobs and uploads in one SQLite file, which is also the queue.

Every process and thread opens its own connection (WAL journal, a busy timeout) and makes every
write inside ``BEGIN IMMEDIATE``, so writers queue on SQLite's lock instead of failing with
``database is locked`` halfway through a transaction, and readers never wait for writers.

A job is claimed by one compare-and-set ``UPDATE … WHERE state = 'queued'`` that also stamps an
owner token (the lease). Every write a worker makes about its job carries that token, so a worker
that lost its job — cancelled, timed out, or re-queued after its server died — cannot write to it
any more: its late progress, heartbeat or result changes no row. This module imports nothing
from the advisor and no TensorFlow.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")
SCHEMA_VERSION = 1  # changes only with a change an older advisor cannot read
# Nullable columns added since a version's first table (an older data folder gets them at init;
# an older advisor reading a newer folder never names them).
_ADDED_COLUMNS = {"jobs": (("profile", "TEXT"),)}
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    sha256     TEXT PRIMARY KEY,
    file       TEXT NOT NULL,          -- its name under the uploads folder
    size       INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed',
                                                   'cancelled')),
    upload_sha256   TEXT NOT NULL REFERENCES uploads (sha256),
    filename        TEXT NOT NULL,     -- the client's name for the file: a label, never opened
    target          TEXT NOT NULL,
    options         TEXT NOT NULL,     -- JSON: the recommend() options
    request_hash    TEXT NOT NULL,
    idempotency_key TEXT,
    phase           TEXT NOT NULL DEFAULT 'queued',
    done            INTEGER NOT NULL DEFAULT 0,
    total           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    error           TEXT,
    result          TEXT,              -- JSON: the advisor recommend --format json document
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    heartbeat_at    REAL,
    owner           TEXT,              -- the lease: the token of the worker running it
    worker_pid      INTEGER,
    profile         TEXT               -- JSON: the upload's profile made by the check, or NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency_key ON jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
"""

# Columns a job listing returns (the result document is left out of listings: it is large).
_SUMMARY = ("jobs.id, jobs.state, jobs.filename, jobs.target, jobs.options, jobs.upload_sha256, "
            "jobs.phase, jobs.done, jobs.total, jobs.attempts, jobs.max_attempts, jobs.error, "
            "jobs.created_at, jobs.started_at, jobs.finished_at, jobs.heartbeat_at, "
            "jobs.worker_pid")


class Conflict(Exception):
    """The same idempotency key came with a different request."""


class QueueFull(Exception):
    """As many jobs wait as the server's queue limit allows."""


@dataclass(frozen=True)
class Job:
    """One row of the jobs table, as the API shows it."""

    id: str
    state: str
    filename: str
    target: str
    options: dict[str, Any]
    upload_sha256: str
    phase: str
    done: int
    total: int
    attempts: int
    max_attempts: int
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    worker_pid: int | None
    result: str | None = None  # JSON text; None in listings
    upload_file: str | None = None
    profile: str | None = None  # the check's DatasetProfile as JSON; read by claim() only

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class Store:
    """The jobs and uploads tables of one data folder. Safe to share between threads: each
    thread gets its own connection. A process opens its own ``Store``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()

    # -- connections and transactions -------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None)  # autocommit: transactions are explicit
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: never corrupt, fast commits
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, begun IMMEDIATE: it takes the write lock up front (waiting up
        to the busy timeout for it), so it can never fail on a lock upgrade half-way."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def init(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.connection()
        with self.write():
            # (executescript would COMMIT on its own: the statements run one by one)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for table, columns in _ADDED_COLUMNS.items():
                have = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns:
                    if name not in have:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
        version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
                      .fetchone()[0])
        if version != SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} holds schema version {version}; this advisor "
                               f"reads version {SCHEMA_VERSION}")

    # -- uploads ------------------------------------------------------------------------------

    def add_upload(self, sha256: str, file: str, size: int) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR IGNORE INTO uploads (sha256, file, size, created_at) "
                         "VALUES (?, ?, ?, ?)", (sha256, file, size, time.time()))

    def upload_file(self, sha256: str) -> str | None:
        row = self.connection().execute("SELECT file FROM uploads WHERE sha256 = ?",
                                        (sha256,)).fetchone()
        return row[0] if row else None

    # -- submitting and reading ---------------------------------------------------------------

    def submit(self, *, upload_sha256: str, filename: str, target: str, options: dict[str, Any],
               request_hash: str, idempotency_key: str | None, queue_limit: int | None,
               max_attempts: int, profile: str | None = None) -> tuple[Job, bool]:
        """A new queued job (``profile``: the upload's profile as JSON, which its worker then
        need not make again), or — for an idempotency key seen before with the same request — the
        job it made (``created`` False). Raises :class:`Conflict` for a key seen with another
        request and :class:`QueueFull` when ``queue_limit`` jobs already wait."""
        with self.write() as conn:
            if idempotency_key is not None:
                row = conn.execute("SELECT id, request_hash FROM jobs WHERE idempotency_key = ?",
                                   (idempotency_key,)).fetchone()
                if row is not None:
                    if row["request_hash"] != request_hash:
                        raise Conflict(row["id"])
                    return self._get(conn, row["id"]), False
            if queue_limit is not None:
                waiting = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'"
                                       ).fetchone()[0]
                if waiting >= queue_limit:
                    raise QueueFull(waiting)
            job_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO jobs (id, state, upload_sha256, filename, target, options, "
                "request_hash, idempotency_key, max_attempts, created_at, profile) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, upload_sha256, filename, target, json.dumps(options, sort_keys=True),
                 request_hash, idempotency_key, max_attempts, time.time(), profile))
            return self._get(conn, job_id), True

    def get(self, job_id: str) -> Job | None:
        return self._get(self.connection(), job_id)

    def _get(self, conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute(f"SELECT {_SUMMARY}, jobs.result, uploads.file AS upload_file FROM jobs "
                           "LEFT JOIN uploads ON uploads.sha256 = jobs.upload_sha256 "
                           "WHERE jobs.id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list(self, state: str | None = None, limit: int = 50) -> list[Job]:
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        rows = self.connection().execute(
            f"SELECT {_SUMMARY} FROM jobs {where} ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [_job(row) for row in rows]

    def count(self, state: str) -> int:
        return self.connection().execute("SELECT COUNT(*) FROM jobs WHERE state = ?",
                                         (state,)).fetchone()[0]

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job (its lease ends, so its worker can write no more)."""
        with self.write() as conn:
            conn.execute("UPDATE jobs SET state = 'cancelled', finished_at = " + _AFTER_LAST + ", "
                         "owner = NULL, phase = 'cancelled', error = 'cancelled by a client' "
                         "WHERE id = ? AND state IN ('queued', 'running')", (time.time(), job_id))
            return self._get(conn, job_id)

    # -- the supervisor's side ----------------------------------------------------------------

    def claim(self, owner: str, worker_pid: int) -> Job | None:
        """Take the oldest queued job for ``owner``: one compare-and-set UPDATE. The job comes
        with its stored profile (None for a job queued without one).

        The clock is read inside the write lock, so after the submitter's commit, and no stamp
        is earlier than the job's stamp before it (another process's wall clock may step back):
        created_at <= started_at <= finished_at always holds."""
        with self.write() as conn:
            now = time.time()
            row = conn.execute(
                "UPDATE jobs SET state = 'running', owner = ?, worker_pid = ?, "
                "attempts = attempts + 1, started_at = MAX(?, created_at), heartbeat_at = ?, "
                "phase = 'starting', done = 0, total = 0 "
                "WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1) "
                "AND state = 'queued' RETURNING id, profile", (owner, worker_pid, now, now)
            ).fetchone()
            return replace(self._get(conn, row[0]), profile=row[1]) if row else None

    def owner(self, job_id: str) -> str | None:
        row = self.connection().execute("SELECT owner FROM jobs WHERE id = ? AND state = 'running'",
                                        (job_id,)).fetchone()
        return row[0] if row else None

    def release(self, job_id: str, owner: str, reason: str, *, retry: bool = True,
                count_attempt: bool = True) -> str | None:
        """The job's worker is gone: queue it again while attempts remain (``retry``), else fail
        it with ``reason``. Returns the new state, or None when ``owner`` no longer held it."""
        with self.write() as conn:
            row = conn.execute("SELECT attempts, max_attempts FROM jobs WHERE id = ? AND owner = ? "
                               "AND state = 'running'", (job_id, owner)).fetchone()
            if row is None:
                return None
            return self._release(conn, job_id, row["attempts"], row["max_attempts"], reason,
                                 retry, count_attempt)

    def _release(self, conn, job_id, attempts, max_attempts, reason, retry, count_attempt) -> str:
        if retry and (attempts < max_attempts or not count_attempt):
            conn.execute("UPDATE jobs SET state = 'queued', owner = NULL, worker_pid = NULL, "
                         "phase = 'queued', done = 0, total = 0, error = ?, "
                         "attempts = attempts - ? WHERE id = ?",
                         (f"{reason}; queued again", 0 if count_attempt else 1, job_id))
            return "queued"
        if retry:
            reason = f"{reason}; gave up after {attempts} attempts"
        conn.execute("UPDATE jobs SET state = 'failed', owner = NULL, phase = 'failed', "
                     "error = ?, finished_at = " + _AFTER_LAST + " WHERE id = ?",
                     (reason, time.time(), job_id))
        return "failed"

    def requeue_running(self, reason: str, *, keep: frozenset[str] = frozenset(),
                        count_attempt: bool = True) -> list[tuple[str, str]]:
        """Release every running job whose owner is not in ``keep`` (at boot: all of them, left
        by a server that died). Returns (job id, new state) pairs."""
        changed = []
        with self.write() as conn:
            rows = conn.execute("SELECT id, owner, attempts, max_attempts FROM jobs "
                                "WHERE state = 'running'").fetchall()
            for row in rows:
                if row["owner"] in keep:
                    continue
                state = self._release(conn, row["id"], row["attempts"], row["max_attempts"],
                                      reason, True, count_attempt)
                changed.append((row["id"], state))
        return changed

    def running(self) -> list[tuple[str, str | None]]:
        """(id, owner) of every running job."""
        rows = self.connection().execute("SELECT id, owner FROM jobs WHERE state = 'running'")
        return [(row[0], row[1]) for row in rows]

    def stale(self, older_than: float) -> list[tuple[str, str]]:
        """Running jobs whose worker has not beaten its heart since ``older_than``."""
        rows = self.connection().execute("SELECT id, owner FROM jobs WHERE state = 'running' "
                                         "AND heartbeat_at < ?", (older_than,))
        return [(row[0], row[1]) for row in rows]

    # -- the worker's side: every write is refused unless the worker still holds the lease -----

    def progress(self, job_id: str, owner: str, phase: str, done: int, total: int) -> bool:
        with self.write() as conn:
            return conn.execute("UPDATE jobs SET phase = ?, done = ?, total = ?, heartbeat_at = ? "
                                "WHERE id = ? AND owner = ? AND state = 'running'",
                                (phase, done, total, time.time(), job_id, owner)).rowcount == 1

    def heartbeat(self, job_id: str, owner: str) -> bool:
        with self.write() as conn:
            return conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND owner = ? "
                                "AND state = 'running'",
                                (time.time(), job_id, owner)).rowcount == 1

    def finish(self, job_id: str, owner: str, *, result: str | None = None,
               error: str | None = None) -> bool:
        state = "succeeded" if error is None else "failed"
        with self.write() as conn:
            return conn.execute(
                "UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = " + _AFTER_LAST + ", "
                "owner = NULL, phase = ?, heartbeat_at = ? WHERE id = ? AND owner = ? AND state = 'running'",
                (state, result, error, time.time(), "done" if error is None else "failed",
                 time.time(), job_id, owner)).rowcount == 1


# A finishing stamp: the clock's reading, or the job's last stamp when the clock reads earlier.
_AFTER_LAST = "MAX(?, COALESCE(started_at, created_at))"


def _job(row: sqlite3.Row) -> Job:
    keys = row.keys()
    return Job(
        id=row["id"], state=row["state"], filename=row["filename"], target=row["target"],
        options=json.loads(row["options"]), upload_sha256=row["upload_sha256"],
        phase=row["phase"], done=row["done"], total=row["total"], attempts=row["attempts"],
        max_attempts=row["max_attempts"], error=row["error"], created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
        heartbeat_at=row["heartbeat_at"], worker_pid=row["worker_pid"],
        result=row["result"] if "result" in keys else None,
        upload_file=row["upload_file"] if "upload_file" in keys else None,
    )
