"""The supervisor: a thread of the web process that owns the worker processes.

It claims queued jobs for idle workers (the store's compare-and-set), hands each its task over a
pipe, and watches them: a worker that dies has its job queued again (up to the job's attempt
limit, then ``failed`` with the reason) and is replaced; a job cancelled by a client, past its
time limit, or whose heartbeats stopped has its worker killed and replaced. At start it releases
every job a previous server left ``running`` — after a crash nothing else will ever finish them —
and at any time a running job whose lease no live worker holds is released the same way, so no
job stays ``running`` with nothing running it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from advisor.service.store import Store

log = logging.getLogger("advisor.serve")

TICK_SECONDS = 0.5
STALE_SECONDS = 120.0  # a running job whose heartbeat is older than this is taken back


def time_limit(options: dict) -> float:
    """Seconds a job may run before its worker is stopped: trials keep to the budget, so three
    budgets and five minutes mean something is wrong."""
    budget = float(options.get("budget", 60.0))
    return (3 * budget + 300.0) if options.get("validate", True) else 300.0


@dataclass
class _Slot:
    index: int
    process: multiprocessing.Process
    tasks: object  # our end of the task pipe
    lifeline: object  # our end of the lifeline: the worker exits when it closes
    ready: bool = False
    job: str | None = None
    owner: str | None = None
    deadline: float = 0.0
    limit: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int | None:
        return self.process.pid


@dataclass
class Supervisor:
    db_path: Path
    uploads_dir: Path
    cache_dir: Path
    workers: int = 1
    warm: bool = True
    stale_seconds: float = STALE_SECONDS
    scheduler: str | None = None
    # Called (from the supervisor's thread) when a worker says its job finished or a job's worker
    # is gone, so long-polling requests answer at once instead of at their next look.
    on_change: Callable[[], None] | None = None
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self):
        self.store = Store(self.db_path)
        self._context = multiprocessing.get_context("spawn")
        self._slots: list[_Slot] = []
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _slots between the loop and stop()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        released = self.store.requeue_running("the server stopped while the job ran")
        for job_id, state in released:
            log.warning("job %s was left running by a previous server: now %s", job_id, state)
        for index in range(self.workers):
            self._slots.append(self._spawn(index))
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the workers; jobs they were running are queued again without costing an
        attempt (the server was stopped, the job did nothing wrong)."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            for slot in self._slots:
                self._kill(slot)
                if slot.job is not None:
                    self.store.release(slot.job, slot.owner, "the server was stopped",
                                       count_attempt=False)
            self._slots = []
        os.close(self._wake_r)
        os.close(self._wake_w)

    def wake(self) -> None:
        """Look at the queue now (a job was submitted or cancelled)."""
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def alive(self) -> int:
        return sum(1 for slot in list(self._slots) if slot.process.is_alive())

    def worker_pids(self) -> list[int]:
        return [slot.pid for slot in list(self._slots) if slot.pid is not None]

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("supervisor: one turn failed; continuing")
                time.sleep(TICK_SECONDS)

    def _tick(self) -> None:
        with self._lock:
            slots = list(self._slots)
        waitables = [self._wake_r] + [s.tasks for s in slots] + [s.process.sentinel for s in slots]
        wait(waitables, timeout=TICK_SECONDS)
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass
        if self._stop.is_set():
            return
        with self._lock:
            for slot in list(self._slots):
                self._read_messages(slot)
                if not slot.process.is_alive():
                    self._replace(slot, self._death_reason(slot))
                    continue
                if slot.job is not None:
                    self._watch_job(slot)
            self._release_orphans()
            for slot in list(self._slots):
                if slot.ready and slot.job is None and slot.process.is_alive():
                    self._dispatch(slot)

    def _read_messages(self, slot: _Slot) -> None:
        try:
            while slot.tasks.poll():
                message = slot.tasks.recv()
                if message[0] == "ready":
                    slot.ready = True
                elif message[0] == "done" and message[2] == slot.owner:
                    slot.job = slot.owner = None
                    self._changed()
        except (EOFError, OSError):
            pass  # it died; the sentinel says so

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("supervisor: notifying a job change failed")

    def _watch_job(self, slot: _Slot) -> None:
        if self.store.owner(slot.job) != slot.owner:
            # Cancelled (or otherwise taken back): its lease is gone, so stop its worker.
            log.info("job %s is no longer running: stopping worker %s", slot.job, slot.pid)
            slot.job = slot.owner = None
            self._replace(slot, None)
            return
        now = time.time()
        if now > slot.deadline:
            self.store.finish(slot.job, slot.owner,
                              error=f"The job ran past its time limit of {slot.limit:g} s "
                                    "(3 × its budget + 300 s) and was stopped.")
            slot.job = slot.owner = None
            self._replace(slot, None)

    def _release_orphans(self) -> None:
        """Running jobs no live worker of ours holds (a heartbeat long stopped, or a lease from
        an older server instance): release them."""
        held = frozenset(s.owner for s in self._slots if s.job is not None)
        stale = dict(self.store.stale(time.time() - self.stale_seconds))
        for slot in list(self._slots):
            if slot.job in stale and stale[slot.job] == slot.owner:
                job, owner = slot.job, slot.owner
                slot.job = slot.owner = None
                self._replace(slot, None)
                self.store.release(job, owner, f"its worker sent no heartbeat for "
                                                f"{self.stale_seconds:g} s and was stopped")
        for job_id, owner in self.store.running():
            if owner not in held:
                state = self.store.release(job_id, owner, "no worker was running it")
                log.warning("job %s was running with no worker: now %s", job_id, state)

    def _dispatch(self, slot: _Slot) -> None:
        owner = f"{self.instance}:{uuid.uuid4().hex}"
        job = self.store.claim(owner, slot.pid)
        if job is None:
            return
        slot.job, slot.owner = job.id, owner
        slot.limit = time_limit(job.options)
        slot.deadline = time.time() + slot.limit
        task = {"id": job.id, "owner": owner, "upload_file": job.upload_file,
                "upload_sha256": job.upload_sha256, "filename": job.filename,
                "target": job.target, "options": job.options, "profile": job.profile}
        try:
            slot.tasks.send(task)
        except (BrokenPipeError, OSError):
            pass  # it died between the claim and now: the next turn releases the job
        log.info("job %s: attempt %d on worker %s", job.id, job.attempts, slot.pid)

    # -- workers ------------------------------------------------------------------------------

    def _spawn(self, index: int) -> _Slot:
        from advisor.service.worker import worker_main

        ours, theirs = self._context.Pipe(duplex=True)
        life_theirs, life_ours = self._context.Pipe(duplex=False)  # (reader, writer)
        process = self._context.Process(
            target=worker_main, name=f"advisor-worker-{index}", daemon=True,
            args=(theirs, life_theirs, str(self.db_path), str(self.uploads_dir),
                  str(self.cache_dir), self.warm, self.scheduler))
        process.start()
        theirs.close()
        life_theirs.close()
        return _Slot(index, process, ours, life_ours)

    def _replace(self, slot: _Slot, reason: str | None) -> None:
        """Kill ``slot``'s worker (if alive), release its job with ``reason``, start another."""
        job, owner = slot.job, slot.owner
        self._kill(slot)
        if job is not None and reason is not None:
            state = self.store.release(job, owner, reason)
            log.warning("job %s: %s; now %s", job, reason, state)
        self._changed()
        if self._stop.is_set():
            return
        if time.monotonic() - slot.started < 2.0:
            time.sleep(1.0)  # a worker that dies as it starts is not restarted in a tight loop
        fresh = self._spawn(slot.index)
        self._slots[self._slots.index(slot)] = fresh

    def _kill(self, slot: _Slot) -> None:
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(timeout=10)
        for end in (slot.tasks, slot.lifeline):
            try:
                end.close()
            except OSError:
                pass

    @staticmethod
    def _death_reason(slot: _Slot) -> str:
        code = slot.process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was killed by {name}"
        else:
            how = f"exited with status {code}"
        return f"the worker running it (pid {slot.pid}) {how}"
