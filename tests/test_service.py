"""``advisor serve`` against a real server subprocess on loopback: the API contract, persistence,
load, bad input, escaping, the Python client. Faults (kill -9, dying workers, cancel), auth and
schemathesis are in test_service_faults.py; the browser in test_service_browser.py."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest

import advisor
from advisor import AdvisorError, UsageError
from advisor.service.client import Client
from tests.test_service_helpers import SAMPLES, Server, maps_tensorflow, rss_kib, wait_for

DIAGNOSIS = SAMPLES / "diagnosis.csv"
HOUSES = SAMPLES / "house_prices.csv"
MAX_BUDGET = 120
QUEUE_LIMIT = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    running = Server(root / "data", "--max-upload-mb", "2", "--max-budget", str(MAX_BUDGET),
                     "--queue-limit", str(QUEUE_LIMIT)).start()
    yield running
    running.stop()
    assert "Traceback" not in running.log_text()
    assert "database is locked" not in running.log_text()


def local_error(call) -> tuple[int, str]:
    """The status and message the service must give for what ``call`` raises in-process (the
    CLI prints the same message after "Error:")."""
    with pytest.raises(AdvisorError) as caught:
        call()
    return (422 if isinstance(caught.value, UsageError) else 400), str(caught.value)


# -- the contract ---------------------------------------------------------------------------------


def test_health_page_and_schema(server):
    health = server.http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["workers"] == 1
    page = server.http.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and 'id="target"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert server.http.get("/static/app.js").status_code == 200
    schema = server.http.get("/openapi.json").json()
    for path in ("/v1/profile", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel",
                 "/v1/jobs/{job_id}/report.{fmt}", "/healthz"):
        assert path in schema["paths"]
    assert server.http.get("/docs").status_code == 200


def test_profile_is_the_cli_document(server, monkeypatch):
    monkeypatch.chdir(SAMPLES.parent)
    upload = {"file": ("sample_data/diagnosis.csv", DIAGNOSIS.read_bytes())}
    response = server.http.post("/v1/profile", data={"target": "diagnosis"}, files=upload)
    assert response.status_code == 200, response.text
    assert response.json() == advisor.profile("sample_data/diagnosis.csv", "diagnosis").to_dict()
    assert server.temp_files() == []


def test_a_rules_only_job_from_queued_to_its_reports(server, monkeypatch):
    response = server.submit(DIAGNOSIS, target="diagnosis", domain="medical", validate=False)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] == "queued" and response.headers["location"] == f"/v1/jobs/{job['id']}"
    done = server.wait_job(job["id"])
    assert done["state"] == "succeeded" and done["attempts"] == 1 and done["error"] is None
    assert done["progress"]["phase"] == "done"
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]
    # The result is the `advisor recommend --format json` document of the same run.
    monkeypatch.chdir(SAMPLES)
    local = advisor.recommend("diagnosis.csv", "diagnosis", domain="medical", validate=False)
    assert done["result"] == local.to_dict()
    reports = {fmt: server.http.get(f"/v1/jobs/{job['id']}/report.{fmt}")
               for fmt in ("html", "md", "json")}
    assert all(r.status_code == 200 for r in reports.values())
    assert reports["html"].headers["content-type"].startswith("text/html")
    assert "Which loss for" in reports["html"].text and "<script" not in reports["html"].text
    assert reports["md"].text.startswith("# Which loss for")
    assert reports["json"].json() == done["result"]
    listed = server.http.get("/v1/jobs", params={"state": "succeeded", "limit": 5}).json()["jobs"]
    assert listed[0]["id"] == job["id"] and "result" not in listed[0]


def test_prefer_wait_answers_a_quick_job_with_its_outcome(server):
    """RFC 7240's ``Prefer: wait=N``: the submission is answered once the job has finished (200,
    with the result), or after N seconds with the usual 202; without it, or with a preference
    the server does not take, nothing changes."""
    response = server.submit(DIAGNOSIS, target="diagnosis", validate=False, seed=11,
                             headers={"Prefer": "wait=30"})
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["state"] == "succeeded" and job["progress"]["phase"] == "done"
    assert response.headers["preference-applied"] == "wait=30"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["result"] == server.job(job["id"])["result"]
    assert job["result"]["validation"]["status"] == "skipped"
    for prefer in ("wait=0", "respond-async", "wait=soon"):
        quick = server.submit(DIAGNOSIS, target="diagnosis", validate=False, seed=12,
                              headers={"Prefer": prefer})
        assert quick.status_code == 202 and quick.json()["state"] == "queued", prefer
        assert ("preference-applied" in quick.headers) == (prefer == "wait=0")
        server.wait_job(quick.json()["id"])
    # A job that outlasts the wait is answered with the usual 202 when the wait is over.
    slow = server.submit(DIAGNOSIS, target="diagnosis", budget=MAX_BUDGET, seed=13,
                         headers={"Prefer": "wait=1"})
    assert slow.status_code == 202 and slow.json()["state"] in ("queued", "running")
    assert server.http.post(f"/v1/jobs/{slow.json()['id']}/cancel").status_code == 200
    # The client waits in the submission: a quick job needs no status request.
    client = Client(server.url)
    handle = client.submit(str(DIAGNOSIS), target="diagnosis", validate=False, seed=14,
                           prefer_wait=30)
    polls = server.log_text().count(f"GET /v1/jobs/{handle.id}")
    assert handle.state == "succeeded"
    assert handle.wait() == advisor.recommend(str(DIAGNOSIS), "diagnosis", validate=False, seed=14)
    assert server.log_text().count(f"GET /v1/jobs/{handle.id}") == polls == 0
    client.close()


def test_reports_are_409_until_the_job_succeeded_and_ids_are_checked(server):
    job = server.submit(DIAGNOSIS, target="diagnosis", budget=MAX_BUDGET).json()
    report = server.http.get(f"/v1/jobs/{job['id']}/report.html")
    assert report.status_code == 409 and "once it has succeeded" in report.json()["error"]
    cancelled = server.http.post(f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert server.http.get(f"/v1/jobs/{job['id']}/report.md").status_code == 409
    for method, path in (("GET", "/v1/jobs/nope"), ("POST", "/v1/jobs/nope/cancel"),
                         ("GET", "/v1/jobs/nope/report.json")):
        missing = server.http.request(method, path)
        assert missing.status_code == 404 and missing.json() == {"error": "Unknown job 'nope'."}
    bad = server.http.get("/v1/jobs", params={"limit": 0})
    assert bad.status_code == 422 and set(bad.json()) == {"error"}  # FastAPI's body, converted
    assert server.http.get(f"/v1/jobs/{job['id']}/report.pdf").status_code == 422


def test_jobs_and_uploads_persist_in_sqlite_and_by_hash(server):
    first = server.submit(HOUSES, target="price_k", validate=False, seed=1).json()
    second = server.submit(HOUSES, name="same-bytes.csv", target="price_k", validate=False,
                           seed=2).json()
    for job in (first, second):
        assert server.wait_job(job["id"])["state"] == "succeeded"
    sha = hashlib.sha256(HOUSES.read_bytes()).hexdigest()
    assert server.uploads().count(sha + ".csv") == 1  # stored once, under its hash
    db = sqlite3.connect(f"file:{server.data_dir / 'advisor.db'}?mode=ro", uri=True)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT id, state, options, result, upload_sha256 FROM jobs WHERE id IN "
                      "(?, ?)", (first["id"], second["id"])).fetchall()
    assert {r[0] for r in rows} == {first["id"], second["id"]}
    for _, state, options, result, upload in rows:
        assert state == "succeeded" and upload == sha
        assert json.loads(options)["validate"] is False
        assert json.loads(result)["input"]["sha256"] == sha
    assert db.execute("SELECT size FROM uploads WHERE sha256 = ?", (sha,)).fetchone()[0] == \
        HOUSES.stat().st_size


@pytest.mark.slow
def test_a_validated_job_and_a_web_process_without_tensorflow(server):
    job = server.submit(DIAGNOSIS, target="diagnosis", domain="medical", budget=8).json()
    phases = set()
    wait_for(lambda: phases.add(server.job(job["id"])["progress"]["phase"])
             or server.job(job["id"])["state"] in ("succeeded", "failed", "cancelled"), 300)
    done = server.job(job["id"])
    assert done["state"] == "succeeded", done["error"]
    assert "trials" in phases  # progress was written while it trained
    validation = done["result"]["validation"]
    assert validation["status"] != "skipped"
    assert sum(c["n_trials"] for c in validation["candidates"]) >= 2
    for fmt in ("html", "md", "json"):
        assert server.http.get(f"/v1/jobs/{job['id']}/report.{fmt}").status_code == 200
    # The worker that trained has TensorFlow loaded; the web process, after profiling, queueing
    # and rendering every report, has not.
    worker = wait_for(lambda: [p for p in server.worker_pids() if maps_tensorflow(p)], 30,
                      what="a worker with TensorFlow")
    assert worker
    assert not maps_tensorflow(server.pid)


# -- load -----------------------------------------------------------------------------------------


def test_fifty_concurrent_submissions_and_pollers(server):
    statuses, errors, polls = [], [], []
    stop = threading.Event()
    first = server.submit(DIAGNOSIS, target="diagnosis", validate=False, seed=999).json()

    def poll():
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while not stop.is_set():
                for path in (f"/v1/jobs/{first['id']}", "/v1/jobs?limit=100", "/healthz"):
                    r = http.get(path)
                    polls.append(r.status_code)
                    if r.status_code != 200 or "locked" in r.text:
                        errors.append(r.text)

    def submit(i):
        with httpx.Client(base_url=server.url, timeout=120) as http:
            r = http.post("/v1/jobs", data={"target": "diagnosis", "validate": "false",
                                             "seed": str(i)},
                          files={"file": (f"load-{i}.csv", DIAGNOSIS.read_bytes())})
            return r

    # A job with trials keeps the worker busy during the burst, so the queue fills up whatever
    # a rules-only job costs (the worker reuses the check's profile: those take milliseconds).
    busy = server.submit(DIAGNOSIS, target="diagnosis", budget=4, seed=998).json()
    pollers = [threading.Thread(target=poll) for _ in range(10)]
    for t in pollers:
        t.start()
    try:
        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(submit, range(50)))
        accepted = [r.json()["id"] for r in responses if r.status_code == 202]
        statuses = sorted({r.status_code for r in responses})
        assert set(statuses) <= {202, 429}, [r.text for r in responses if r.status_code >= 500]
        assert len(set(accepted)) == len(accepted) >= 1  # distinct jobs, none duplicated
        for r in responses:
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) > 0 and "queue is full" in r.json()["error"]
        assert 429 in statuses  # the queue limit (5) did bite
        for job_id in [busy["id"], *accepted]:  # none lost: every accepted job runs to the end
            assert server.wait_job(job_id)["state"] == "succeeded"
    finally:
        stop.set()
        for t in pollers:
            t.join()
    listed = server.http.get("/v1/jobs", params={"limit": 1000}).json()["jobs"]
    ours = [j for j in listed if j["filename"].startswith("load-")]
    assert sorted(j["id"] for j in ours) == sorted(accepted)
    assert errors == [] and len(polls) > 50
    assert "database is locked" not in server.log_text()


def test_fifty_submissions_with_one_idempotency_key_make_one_job(server):
    key = {"Idempotency-Key": "one-key-for-fifty"}

    def submit(_):
        with httpx.Client(base_url=server.url, timeout=120) as http:
            return http.post("/v1/jobs", headers=key,
                             data={"target": "price_k", "validate": "false"},
                             files={"file": ("idem.csv", HOUSES.read_bytes())})

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(submit, range(50)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    listed = server.http.get("/v1/jobs", params={"limit": 1000}).json()["jobs"]
    assert sum(j["filename"] == "idem.csv" for j in listed) == 1
    other = server.submit(HOUSES, name="idem.csv", target="price_k", validate=False, seed=7,
                          headers=key)
    assert other.status_code == 409 and "different request" in other.json()["error"]


# -- bad input ------------------------------------------------------------------------------------

RAGGED = b"a,b,y\n" + b"1,2,0\n" * 20 + b"1,2,3,4\n" + b"1,2,1\n" * 20
FILES = {
    "empty": ("empty.csv", b"", "y"),
    "header only": ("header.csv", b"a,b,y\n", "y"),
    "missing target": ("diagnosis.csv", DIAGNOSIS.read_bytes(), "diagnosys"),
    "ragged rows": ("ragged.csv", RAGGED, "y"),
    "binary junk": ("junk.csv", bytes(range(256)) * 40, "y"),
    "non-UTF-8": ("latin.csv", b"a,y\n" + "café,1\nthé,0\n".encode("latin-1") * 30, "y"),
}
OPTIONS = {
    "unknown model": {"model": "resnet"},
    "unknown domain": {"domain": "medicl"},
    "unknown task": {"task": "ranking"},
    "a cost without its pair": {"fn_cost": 5.0},
    "a metric for another task": {"metric": "mae"},
    "no candidates": {"candidates": 0},
}


@pytest.fixture
def clean_check(server):
    before = server.uploads()
    yield
    assert server.temp_files() == []
    assert server.uploads() == before  # a refused upload is not kept
    assert server.http.get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize("case", FILES)
def test_bad_tables_get_the_cli_message(server, clean_check, tmp_path, monkeypatch, case):
    name, content, target = FILES[case]
    (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    status, message = local_error(lambda: advisor.recommend(name, target, validate=False))
    for route in ("/v1/jobs", "/v1/profile"):
        response = server.http.post(route, data={"target": target, "validate": "false"}
                                    if route == "/v1/jobs" else {"target": target},
                                    files={"file": (name, content)})
        assert (response.status_code, response.json()) == (status, {"error": message})
    if case == "missing target":
        assert "Did you mean 'diagnosis'?" in message


@pytest.mark.parametrize("case", OPTIONS)
def test_bad_options_get_the_cli_message(server, clean_check, monkeypatch, case):
    options = OPTIONS[case]
    monkeypatch.chdir(SAMPLES)
    status, message = local_error(
        lambda: advisor.recommend("diagnosis.csv", "diagnosis", validate=False, **options))
    response = server.submit(DIAGNOSIS, target="diagnosis", validate=False, **options)
    assert (response.status_code, response.json()) == (status, {"error": message})


@pytest.mark.parametrize("fields,files,expected", [
    ({"target": "diagnosis"}, None, "No file"),
    ({"target": "diagnosis", "file": "/etc/passwd"}, None, "must be a file upload"),
    ({"target": "diagnosis", "path": "/etc/passwd"}, "x", "Unknown form field 'path'"),
    ({"validate": "false"}, "x", "Missing form field 'target'"),
    ({"target": "diagnosis", "budget": "abc"}, "x", "'abc' is not a valid number"),
    ({"target": "diagnosis", "budget": "nan"}, "x", "not a finite number"),
    ({"target": "diagnosis", "validate": "maybe"}, "x", "not a valid boolean"),
    ({"target": "diagnosis", "budget": str(MAX_BUDGET + 1)}, "x", "--max-budget"),
])
def test_bad_forms_are_422(server, clean_check, fields, files, expected):
    if files:
        response = server.http.post("/v1/jobs", data=fields,
                                    files={"file": ("diagnosis.csv", DIAGNOSIS.read_bytes())})
    else:  # a multipart form of text fields only
        response = server.http.post("/v1/jobs", files={k: (None, v) for k, v in fields.items()})
    assert response.status_code == 422 and expected in response.json()["error"]


def test_a_body_that_is_not_multipart_is_refused(server, clean_check):
    response = server.http.post("/v1/jobs", json={"target": "y", "path": "/etc/passwd"})
    assert response.status_code == 422 and "multipart/form-data" in response.json()["error"]


def test_an_oversized_upload_is_refused_while_memory_stays_flat(server, clean_check):
    megabytes = 64  # against --max-upload-mb 2
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="target"\r\n\r\ny\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"'
            "\r\n\r\n").encode()
    row = b"1.5,2.5,0\n" * 6554  # 64 KiB

    def body():
        yield head + b"a,b,y\n"
        for _ in range(megabytes * 16):
            yield row
        yield f"\r\n--{boundary}--\r\n".encode()

    baseline = rss_kib(server.pid)
    peak, stop = [baseline], threading.Event()

    def watch():
        while not stop.is_set():
            peak.append(rss_kib(server.pid))
            stop.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:  # chunked: no Content-Length, so only the running count can stop it
        response = server.http.post("/v1/jobs", content=body(), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
    finally:
        stop.set()
        watcher.join()
    assert response.status_code == 413 and "--max-upload-mb" in response.json()["error"]
    grown_mib = (max(peak) - baseline) / 1024
    assert grown_mib < megabytes / 4, f"the server grew {grown_mib:.1f} MiB"
    assert len(peak) > 3
    # A declared Content-Length over the cap is refused before a byte of the body is read.
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
        raw.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {50 * 2**20}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):  # the server answers and closes without reading on
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413") and "--max-upload-mb" in answer


# -- paths and escaping ---------------------------------------------------------------------------


def test_a_client_file_name_is_a_label_never_a_path(server):
    # The client names an existing server file with other bytes (claims.csv) for its upload of
    # house_prices.csv: the job profiles the upload, and the report's target histogram is read
    # from the stored upload, never from the named path.
    named = str(SAMPLES / "claims.csv")
    job = server.submit(HOUSES, name=named, target="price_k", validate=False).json()
    done = server.wait_job(job["id"])
    assert done["state"] == "succeeded"
    assert done["result"]["input"]["path"] == named
    assert done["result"]["profile"]["n_columns"] == 7  # house_prices, not claims
    html = server.http.get(f"/v1/jobs/{job['id']}/report.html").text
    assert "Histogram of the target over 2,000 rows" in html  # read from the stored upload
    assert "not at hand" not in html
    assert all(name == ".gitkeep" or len(name.split(".")[0]) == 64 for name in server.uploads())


def test_a_column_named_script_is_text_in_the_reports(server):
    table = ("<script>alert(1)</script>,x,y\n" + "a,1.5,0\nb,2.5,1\n" * 40).encode()
    job = server.submit(table, name="<img src=x onerror=alert(2)>.csv", target="y",
                        validate=False).json()
    assert server.wait_job(job["id"])["state"] == "succeeded"
    html = server.http.get(f"/v1/jobs/{job['id']}/report.html").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;.csv" in html and "<img src=x" not in html
    md = server.http.get(f"/v1/jobs/{job['id']}/report.md").text
    assert "`<script>alert(1)</script>`" in md  # a code span: Markdown shows it as text
    assert "<script" not in re.sub(r"`[^`]*`", "", md)  # and nowhere outside one


# -- the Python client ----------------------------------------------------------------------------


def test_advisor_exports_the_client():
    assert advisor.Client is Client


def test_the_client_returns_what_advisor_recommend_returns(server):
    client = Client(server.url)
    rec = client.recommend(str(DIAGNOSIS), target="diagnosis", domain="medical", validate=False)
    local = advisor.recommend(str(DIAGNOSIS), "diagnosis", domain="medical", validate=False)
    assert isinstance(rec, advisor.Recommendation) and rec == local
    assert client.profile(str(HOUSES), "price_k") == advisor.profile(str(HOUSES), "price_k")
    job = client.recommend(str(HOUSES), target="price_k", validate=False, wait=False)
    assert job.id and job.state == "queued"
    assert job.wait(timeout=120).recommendation.loss == \
        advisor.recommend(str(HOUSES), "price_k", validate=False).recommendation.loss
    assert job.status()["state"] == "succeeded" and job.result().input.rows == 2000
    frame = pd.read_csv(HOUSES)
    assert client.recommend(frame, target="price_k", validate=False).profile.n_rows == 2000
    with pytest.raises(UsageError, match="Did you mean 'diagnosis'"):
        client.recommend(str(DIAGNOSIS), target="diagnosys", validate=False)
    empty = server.data_dir.parent / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(AdvisorError, match=f"Input file {empty} is empty"):
        client.profile(str(empty), "y")
    with pytest.raises(TypeError, match="did you mean|Did you mean"):
        client.recommend(str(DIAGNOSIS), target="diagnosis", domian="medical")
    long = client.recommend(str(DIAGNOSIS), target="diagnosis", budget=MAX_BUDGET, wait=False)
    assert long.cancel()["state"] == "cancelled"
    with pytest.raises(AdvisorError, match="cancelled"):
        long.wait(timeout=60)
    client.close()
