"""The service's SQLite store and upload streaming, on their own: real SQLite files and real
multipart bodies, no server."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time

import pytest

from advisor.service.store import Conflict, QueueFull, Store
from advisor.service.uploads import UploadError, keep, receive_form, table_suffix


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "advisor.db")
    s.init()
    s.add_upload("a" * 64, "a" * 64 + ".csv", 10)
    return s


def submit(store, key=None, request="r1", limit=None, target="y"):
    return store.submit(upload_sha256="a" * 64, filename="t.csv", target=target,
                        options={"validate": False}, request_hash=request, idempotency_key=key,
                        queue_limit=limit, max_attempts=3)


def test_the_database_is_wal_with_a_busy_timeout(store):
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000


def test_one_claimer_wins_a_job(store):
    job, created = submit(store)
    assert created and job.state == "queued"
    results = []
    barrier = threading.Barrier(8)

    def claim(i):
        own = Store(store.path)  # a connection per thread, as the processes have
        barrier.wait()
        results.append(own.claim(f"owner-{i}", 1000 + i))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r is not None]
    assert len(won) == 1 and won[0].id == job.id and won[0].attempts == 1
    assert store.get(job.id).state == "running"


def test_a_worker_that_lost_its_lease_writes_nothing(store):
    job, _ = submit(store)
    store.claim("old", 1)
    assert store.progress(job.id, "old", "trials", 1, 4)
    store.cancel(job.id)
    # The zombie's late progress, heartbeat and result are all refused.
    assert not store.progress(job.id, "old", "trials", 2, 4)
    assert not store.heartbeat(job.id, "old")
    assert not store.finish(job.id, "old", result="{}")
    after = store.get(job.id)
    assert after.state == "cancelled" and after.result is None and after.done == 1


def test_released_jobs_are_retried_a_bounded_number_of_times(store):
    job, _ = submit(store)
    for attempt in (1, 2):
        claimed = store.claim(f"w{attempt}", 1)
        assert claimed.attempts == attempt
        assert store.release(job.id, f"w{attempt}", "the worker died") == "queued"
    store.claim("w3", 1)
    assert store.release(job.id, "w3", "the worker died") == "failed"
    failed = store.get(job.id)
    assert failed.state == "failed" and failed.attempts == 3
    assert "the worker died" in failed.error and "3 attempts" in failed.error
    assert store.release(job.id, "w3", "again") is None  # no lease, no change


def test_a_jobs_stamps_stay_in_order_when_the_clock_reads_earlier(store):
    # Another process's clock, or the same one stepped back: the job was created "later" than
    # the claimer's and the finisher's clocks now read. Each stamp is then the one before it.
    ahead = time.time() + 3600
    finished, cancelled, failed = (submit(store, request=f"r{i}")[0] for i in range(3))
    with store.write() as conn:
        conn.execute("UPDATE jobs SET created_at = ?", (ahead,))
    assert store.claim("w", 1).started_at == ahead
    assert store.finish(finished.id, "w", result="{}")
    assert store.get(finished.id).finished_at == ahead
    assert store.cancel(cancelled.id).finished_at == ahead
    store.claim("w", 1)
    with store.write() as conn:
        conn.execute("UPDATE jobs SET attempts = max_attempts WHERE id = ?", (failed.id,))
    assert store.release(failed.id, "w", "the worker died") == "failed"
    assert store.get(failed.id).finished_at == ahead


def test_a_job_claimed_as_it_is_submitted_starts_no_earlier_than_it_was_created(store):
    # The race a supervisor polling the queue runs against every submission: many rounds of a
    # submit in one thread and claims in another, over two connections.
    claimer, jobs = Store(store.path), []
    stop = threading.Event()

    def claim():
        while not stop.is_set():
            job = claimer.claim("w", 1)
            if job is not None:
                jobs.append(job)

    thread = threading.Thread(target=claim)
    thread.start()
    try:
        for i in range(200):
            submit(store, request=f"r{i}")
    finally:
        while len(jobs) < 200 and thread.is_alive():
            time.sleep(0.01)
        stop.set()
        thread.join()
    assert len(jobs) == 200
    assert all(job.created_at <= job.started_at for job in jobs)


def test_boot_requeues_what_a_dead_server_left_running(store):
    job, _ = submit(store)
    store.claim("dead-server:w", 1)
    assert store.requeue_running("the server stopped") == [(job.id, "queued")]
    again = store.get(job.id)
    assert again.state == "queued" and again.attempts == 1 and "server stopped" in again.error
    assert store.claim("new", 2).attempts == 2


def test_idempotency_keys_and_the_queue_limit(store):
    first, created = submit(store, key="k")
    same, created_again = submit(store, key="k")
    assert created and not created_again and same.id == first.id
    with pytest.raises(Conflict):
        submit(store, key="k", request="another request")
    submit(store, limit=2)
    with pytest.raises(QueueFull):
        submit(store, limit=2)


def test_concurrent_writers_never_see_a_locked_database(store):
    job, _ = submit(store)
    store.claim("w", 1)
    errors = []

    def write(kind):
        own = Store(store.path)
        try:
            for i in range(150):
                if kind == "progress":
                    own.progress(job.id, "w", "trials", i, 150)
                elif kind == "submit":
                    submit(own)
                else:
                    own.list(limit=20)
                    own.get(job.id)
        except sqlite3.OperationalError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,))
               for k in ("progress", "progress", "submit", "submit", "read", "read", "read")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count("queued") == 2 * 150 and store.get(job.id).done == 149


# -- uploads --------------------------------------------------------------------------------------


def multipart(parts, boundary="BOUNDARY"):
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value
        body += b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


async def chunks(body, size=1000):
    for i in range(0, len(body), size):
        yield body[i:i + size]


def receive(body, folder, limit, headers=None):
    headers = headers or {"content-type": "multipart/form-data; boundary=BOUNDARY"}
    return asyncio.run(receive_form(headers, chunks(body), folder, limit))


def test_an_upload_streams_to_a_temporary_file_and_is_kept_once_by_hash(tmp_path):
    table = b"x,y\n" + b"1,0\n" * 5000
    form = receive(multipart([("target", b"y", None), ("file", table, "../../etc/data.csv")]),
                   tmp_path, 10**6)
    assert form.fields == {"target": "y"}
    received = form.file
    assert received.label == "../../etc/data.csv"  # a label only
    assert received.path.parent == tmp_path and received.path.name.startswith(".upload-")
    assert received.sha256 == hashlib.sha256(table).hexdigest() and received.size == len(table)
    name = keep(received, tmp_path)
    assert name == received.sha256 + ".csv"
    again = receive(multipart([("file", table, "copy.csv")]), tmp_path, 10**6).file
    assert keep(again, tmp_path) == name
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_an_upload_over_the_cap_is_refused_while_it_streams(tmp_path):
    body = multipart([("file", b"a,b\n" * 100_000, "big.csv")])
    with pytest.raises(UploadError) as caught:
        receive(body, tmp_path, 1000)
    assert caught.value.status == 413
    assert list(tmp_path.iterdir()) == []  # no temporary file left
    declared = {"content-type": "multipart/form-data; boundary=BOUNDARY",
                "content-length": str(10**9)}
    with pytest.raises(UploadError) as caught:
        receive(b"", tmp_path, 1000, declared)
    assert caught.value.status == 413


@pytest.mark.parametrize("body,status", [
    (multipart([("file", b"a", "a.csv"), ("file", b"b", "b.csv")]), 422),  # two files
    (multipart([("other", b"a", "a.csv")]), 422),  # a file under another name
    (multipart([("target", b"y" * 100_000, None)]), 413),  # an oversized field
    (b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nab",
     400),  # cut short
])
def test_malformed_forms_leave_no_file(tmp_path, body, status):
    with pytest.raises(UploadError) as caught:
        receive(body, tmp_path, 10**6)
    assert caught.value.status == status
    assert list(tmp_path.iterdir()) == []


def test_only_known_table_suffixes_reach_the_reader():
    assert table_suffix("data.TSV") == ".tsv"
    assert table_suffix("x.tsv.gz") == ".tsv.gz"
    assert table_suffix("evil.sh") == ""
    assert table_suffix("../../a/b.csv") == ".csv"
