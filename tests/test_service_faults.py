"""``advisor serve`` under faults and attack, against real server subprocesses on loopback:
kill -9 of the server mid-job, workers that die, cancel, stop; the token, a non-loopback
address, a second server on the same data; schemathesis over the OpenAPI schema."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.test_service_helpers import REPO, SAMPLES, Server, alive, parent_of, wait_for

DIAGNOSIS = SAMPLES / "diagnosis.csv"
TOKEN = "correct-horse-battery-staple"


@pytest.fixture
def servers():
    """Start servers (stopped at the end, whatever happened)."""
    started = []

    def start(data_dir, *args, **kwargs) -> Server:
        server = Server(data_dir, *args, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()


@pytest.fixture(scope="module")
def worker_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("faults") / "data").start()
    yield server
    server.stop()


def running(server: Server, job_id: str, attempt: int | None = None, phase: str | None = None):
    """The job once it runs (on ``attempt``, in ``phase``), with a live worker."""
    def check():
        job = server.job(job_id)
        assert job["state"] in ("queued", "running"), job
        if job["state"] != "running" or not alive(job["worker_pid"]):
            return None
        if attempt is not None and job["attempts"] != attempt:
            return None
        if phase is not None and job["progress"]["phase"] != phase:
            return None
        return job
    return wait_for(check, 180, 0.05, f"job {job_id} to run")


def trial_cache(data_dir):
    """Finished trials in the server's trial cache: entry -> (mtime, sha256 of its output)."""
    found = {}
    for output in (data_dir / "cache").glob("joblib/**/_train_and_score/*/output.pkl"):
        if (output.parent / "metadata.json").exists():
            found[output.parent.name] = (output.stat().st_mtime_ns,
                                         hashlib.sha256(output.read_bytes()).hexdigest())
    return found


def db_job(data_dir, job_id):
    db = sqlite3.connect(f"file:{data_dir / 'advisor.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return dict(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill9_mid_job_then_restart_finishes_from_the_trial_cache(servers, tmp_path):
    data = tmp_path / "data"
    first = servers(data)
    job = first.submit(DIAGNOSIS, target="diagnosis", domain="medical", budget=40).json()
    wait_for(lambda: len(trial_cache(data)) >= 2, 300, 0.05, "two finished trials")
    worker = running(first, job["id"])["worker_pid"]
    first.kill9()
    # The worker notices its server is gone and stops training: no orphan.
    wait_for(lambda: not alive(worker), 30, 0.05, "the orphaned worker to exit")
    left = db_job(data, job["id"])
    assert left["state"] == "running" and left["attempts"] == 1  # as the dead server left it
    finished = trial_cache(data)
    second = servers(data)

    def settled():
        now = second.job(job["id"])
        if now["state"] == "running":  # never "running" on a worker that is not the new one's
            assert alive(now["worker_pid"]) and parent_of(now["worker_pid"]) == second.pid
        return now if now["state"] in ("succeeded", "failed", "cancelled") else None

    done = wait_for(settled, 300, 0.1, "the job to finish after the restart")
    assert done["state"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    after = trial_cache(data)
    trials = sum(c["n_trials"] for c in done["result"]["validation"]["candidates"])
    # The second attempt ran with the trial cache: it stored the trials the first had not
    # finished (one entry per trial of the result) and read the others from it, leaving their
    # entries untouched — it did not train them again.
    assert 2 <= len(finished) < trials == len(after)
    assert {k: after[k] for k in finished} == finished


def test_killing_the_server_leaves_no_worker_running(servers, tmp_path):
    server = servers(tmp_path / "data")
    job = server.submit(DIAGNOSIS, target="diagnosis", budget=300).json()
    worker = running(server, job["id"])["worker_pid"]
    server.kill9()
    wait_for(lambda: not alive(worker), 30, 0.05, "the orphaned worker to exit")


def test_a_dying_worker_is_retried_then_the_job_fails_with_the_reason(worker_server):
    server = worker_server
    job = server.submit(DIAGNOSIS, target="diagnosis", budget=300).json()
    killed = []
    for attempt in (1, 2, 3):
        pid = running(server, job["id"], attempt)["worker_pid"]
        assert pid not in killed and parent_of(pid) == server.pid
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    done = server.wait_job(job["id"])
    assert done["state"] == "failed" and done["attempts"] == 3
    assert f"(pid {killed[-1]}) was killed by SIGKILL" in done["error"]
    assert "gave up after 3 attempts" in done["error"]
    # A fresh worker took over: the server still runs jobs.
    wait_for(lambda: server.http.get("/healthz").json()["workers"] == 1, 60)
    ok = server.submit(DIAGNOSIS, target="diagnosis", validate=False).json()
    assert server.wait_job(ok["id"])["state"] == "succeeded"


def test_a_worker_whose_heartbeat_stops_is_replaced_and_its_job_retried(servers, tmp_path):
    server = servers(tmp_path / "data", "--stale-after", "5")
    job = server.submit(DIAGNOSIS, target="diagnosis", budget=300).json()
    frozen = running(server, job["id"], attempt=1)["worker_pid"]
    os.kill(frozen, signal.SIGSTOP)  # alive, but silent: no more heartbeats
    again = running(server, job["id"], attempt=2)
    assert again["worker_pid"] != frozen and not alive(frozen)
    assert "sent no heartbeat for 5 s" in again["error"]
    assert server.http.post(f"/v1/jobs/{job['id']}/cancel").json()["state"] == "cancelled"


def test_cancel_stops_the_running_worker(worker_server):
    server = worker_server
    job = server.submit(DIAGNOSIS, target="diagnosis", budget=300).json()
    pid = running(server, job["id"], phase="trials")["worker_pid"]  # training
    cancelled = server.http.post(f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    wait_for(lambda: not alive(pid), 30, 0.05, "the cancelled job's worker to stop")
    wait_for(lambda: server.http.get("/healthz").json()["workers"] == 1, 60)
    ok = server.submit(DIAGNOSIS, target="diagnosis", validate=False).json()
    assert server.wait_job(ok["id"])["state"] == "succeeded"
    after = server.job(job["id"])
    assert after["state"] == "cancelled" and after["result"] is None and after["finished_at"]
    again = server.http.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 200 and again.json()["state"] == "cancelled"
    finished = server.http.post(f"/v1/jobs/{ok['id']}/cancel")
    assert finished.status_code == 409 and "already succeeded" in finished.json()["error"]


def test_stopping_the_server_stops_its_workers_and_requeues_their_job(servers, tmp_path):
    data = tmp_path / "data"
    server = servers(data)
    job = server.submit(DIAGNOSIS, target="diagnosis", budget=300).json()
    pid = running(server, job["id"])["worker_pid"]
    server.stop()  # SIGTERM: a graceful stop
    assert "Application shutdown complete" in server.log_text()
    assert not alive(pid)
    left = db_job(data, job["id"])
    assert left["state"] == "queued" and left["attempts"] == 0  # the stop cost no attempt
    assert "the server was stopped" in left["error"]
    again = servers(data)
    assert running(again, job["id"], attempt=1)
    assert again.http.post(f"/v1/jobs/{job['id']}/cancel").json()["state"] == "cancelled"


def test_a_second_server_on_the_same_data_is_refused(servers, tmp_path):
    first = servers(tmp_path / "data")
    second = subprocess.run([sys.executable, "-m", "advisor", "serve", "--port", "0",
                             "--data-dir", str(tmp_path / "data")], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        (f"Error: Another advisor serve (pid {first.pid}) is using the data folder "
         f"{(tmp_path / 'data').resolve()}; stop it, or pass another --data-dir.")]


# -- who may come in ------------------------------------------------------------------------------


def test_a_non_loopback_address_needs_a_token(servers, tmp_path):
    refused = subprocess.run([sys.executable, "-m", "advisor", "serve", "--host", "0.0.0.0",
                              "--port", "0", "--data-dir", str(tmp_path / "refused")],
                             cwd=REPO, capture_output=True, text=True, timeout=120,
                             env={k: v for k, v in os.environ.items() if k != "ADVISOR_TOKEN"})
    assert refused.returncode == 2 and refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Refusing to listen on 0.0.0.0 "
                                                   "without --token")
    assert not (tmp_path / "refused").exists()  # refused before touching anything
    opened = servers(tmp_path / "open", "--host", "0.0.0.0", token=TOKEN)
    assert "listening on http://0.0.0.0:" in opened.log_text()
    assert httpx.get(f"{opened.url}/v1/jobs").status_code == 401
    assert opened.http.get("/v1/jobs").status_code == 200


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("token") / "data", "--max-budget", "2",
                    "--queue-limit", "5", "--max-upload-mb", "1", token=TOKEN).start()
    yield server
    server.stop()
    assert "Traceback" not in server.log_text()


def test_every_v1_route_needs_the_token(token_server):
    server = token_server
    schema = server.http.get("/openapi.json").json()
    routes = [(method.upper(), path.replace("{job_id}", "x").replace("{fmt}", "json"))
              for path, methods in schema["paths"].items() if path.startswith("/v1")
              for method in methods]
    assert len(routes) == 6
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        for method, path in routes:
            response = httpx.request(method, server.url + path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "Authorization: Bearer" in response.json()["error"]
    for path in ("/healthz", "/", "/openapi.json"):  # open: the page asks for the token itself
        assert httpx.get(server.url + path).status_code == 200
    job = server.submit(DIAGNOSIS, target="diagnosis", validate=False).json()
    assert server.wait_job(job["id"])["state"] == "succeeded"
    assert server.http.get(f"/v1/jobs/{job['id']}/report.html").status_code == 200


def test_schemathesis_finds_no_server_error(token_server, tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
         "run", f"{token_server.url}/openapi.json", "-H", f"Authorization: Bearer {TOKEN}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--max-examples", "25", "--seed", "1", "--generation-database", "none",
         "--workers", "2", "--no-color", "--request-timeout", "60"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout
    assert "500 Internal Server Error" not in token_server.log_text()
    assert "Traceback" not in token_server.log_text()
