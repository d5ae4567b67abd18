"""The worker process: runs one job at a time, each a pure function of the stored upload and the
job's options, and keeps TensorFlow imported between jobs.

Workers are started with the multiprocessing *spawn* context (TensorFlow hangs in a forked
child). Each watches a lifeline pipe to the server and exits at once when the server is gone
(EOF on the pipe, or a new parent process id), so killing the server never leaves a worker
training. Every write a worker makes about its job — progress, heartbeats, the result — carries
the job's lease token, so a worker that lost its job (cancelled, timed out, re-queued after a
restart) changes nothing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

HEARTBEAT_SECONDS = 2.0
PROGRESS_SECONDS = 0.5  # at most this often a progress write, besides phase changes

# Exit status of a worker whose server went away.
ORPHANED = 70


class LeaseLost(Exception):
    """The job is no longer this worker's (cancelled, or taken back): stop working on it."""


def worker_main(tasks, lifeline, db_path: str, uploads_dir: str, cache_dir: str,
                warm: bool = True, scheduler: str | None = None) -> None:
    """The worker's main loop (the target of a spawned process)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parent = os.getppid()
    threading.Thread(target=_watch_server, args=(lifeline, parent), daemon=True,
                     name="lifeline").start()
    from advisor.service.store import Store

    store = Store(db_path)
    import advisor.pipeline
    import advisor.service.uploads  # noqa: F401

    tasks.send(("ready", os.getpid()))
    if warm:
        # TensorFlow in the background: a rules-only job runs meanwhile; a validated one waits
        # on the import lock for it, as it would have imported it itself.
        threading.Thread(target=_import_tensorflow, daemon=True, name="warm-up").start()
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            os._exit(ORPHANED)
        if task is None:
            return
        run_job(store, task, Path(uploads_dir), Path(cache_dir), scheduler)
        try:
            tasks.send(("done", task["id"], task["owner"]))
        except (BrokenPipeError, OSError):
            os._exit(ORPHANED)


def run_job(store, task: dict[str, Any], uploads_dir: Path, cache_dir: Path,
            scheduler: str | None = None) -> None:
    """Run one job and write its outcome, as long as this worker still holds its lease."""
    job_id, owner = task["id"], task["owner"]
    lost = threading.Event()
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store, job_id, owner, lost, stop),
                            daemon=True, name="heartbeat")
    beat.start()
    progress = _Progress(store, job_id, owner, lost)
    try:
        result = execute(uploads_dir / task["upload_file"], task["filename"], task["target"],
                         task["options"], cache_dir, progress, task.get("profile"),
                         scheduler, task.get("upload_sha256"))
    except LeaseLost:
        return
    except BaseException as exc:
        from advisor.base.errors import AdvisorError
        from advisor.service.uploads import relabel_error

        if isinstance(exc, AdvisorError):
            error = str(relabel_error(exc, str(uploads_dir / task["upload_file"]),
                                      task["filename"]))
        elif isinstance(exc, MemoryError):
            error = "The worker ran out of memory; try a smaller budget or a sample of the table."
        else:
            error = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
        store.finish(job_id, owner, error=error)
        if not isinstance(exc, Exception):
            raise
        return
    finally:
        stop.set()
    store.finish(job_id, owner, result=result)


def execute(upload: Path, label: str, target: str, options: dict[str, Any], cache_dir: Path,
            progress=None, profile: str | None = None, scheduler: str | None = None,
            sha256: str | None = None) -> str:
    """The job itself: ``recommend`` on the stored upload, as the ``--format json`` document
    (compact: the report route indents it) with the server's file path replaced by the client's
    name for it.

    ``profile``: the upload's profile as JSON, made by the web process's check before it took
    the job (with the client's name for the file, as the result names it), so the job does not
    profile the table again; without it (a job queued by an older server) recommend profiles.
    ``scheduler``: the server's ``--scheduler``, where the trials run (never a client's choice:
    a Dask scheduler can run code in any client that connects to it). ``sha256``: the upload's,
    which it is stored under (hashed as it arrived), so the job does not hash it again."""
    from advisor.pipeline import recommend
    from advisor.profiling import DatasetProfile
    from advisor.service.uploads import relabel

    given = DatasetProfile.from_dict(json.loads(profile)) if profile else None
    rec = recommend(str(upload), target, **options, cache=str(cache_dir), progress=progress,
                    profile=given, digest=sha256, scheduler=scheduler)
    return json.dumps(relabel(rec.to_dict(), str(upload), label), allow_nan=False)


class _Progress:
    """``progress(phase, done, total)`` for recommend: written to the job's row, at most every
    half second besides phase changes; raises :class:`LeaseLost` once the job is not ours."""

    def __init__(self, store, job_id: str, owner: str, lost: threading.Event):
        self.store, self.job_id, self.owner, self.lost = store, job_id, owner, lost
        self.phase, self.last = None, 0.0

    def __call__(self, phase: str, done: int = 0, total: int = 0) -> None:
        if self.lost.is_set():
            raise LeaseLost()
        now = time.monotonic()
        if phase == self.phase and now - self.last < PROGRESS_SECONDS and done < total:
            return
        self.phase, self.last = phase, now
        if not self.store.progress(self.job_id, self.owner, str(phase), int(done), int(total)):
            self.lost.set()
            raise LeaseLost()


def _heartbeat(store, job_id: str, owner: str, lost: threading.Event,
               stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            if not store.heartbeat(job_id, owner):
                lost.set()
                return
        except Exception:
            continue


def _watch_server(lifeline, parent: int) -> None:
    """Exit the moment the server is gone: its end of the lifeline closes (EOF) when it dies,
    however it dies; a changed parent pid is the second sign."""
    while True:
        try:
            if lifeline.poll(1.0):
                lifeline.recv_bytes()
        except (EOFError, OSError):
            os._exit(ORPHANED)
        if os.getppid() != parent:
            os._exit(ORPHANED)


def _import_tensorflow() -> None:
    """Import TensorFlow and Keras now (quietly), so jobs find them imported."""
    try:
        from advisor.losses.kerasenv import quiet_import_tensorflow

        quiet_import_tensorflow()
        import keras  # noqa: F401
    except Exception:
        pass
