"""What the service tests share: a real ``advisor serve`` in a subprocess on loopback, and ways to
watch it (its log, its processes' memory and mapped libraries). No test lives here."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"
FINISHED = ("succeeded", "failed", "cancelled")


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; a guard against hangs, not a
    measure of speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def process_state(pid: int) -> str | None:
    """The kernel's state letter of ``pid`` (R, S, D, Z…), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    return pid is not None and process_state(pid) not in (None, "Z", "X")


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == pid and alive(int(entry)):
            found.append(int(entry))
    return found


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def maps_tensorflow(pid: int) -> bool:
    """Whether ``pid`` has TensorFlow's libraries mapped (what importing it does)."""
    with open(f"/proc/{pid}/maps") as handle:
        return any("tensorflow" in line for line in handle)


class Server:
    """``python -m advisor serve --port 0`` on 127.0.0.1, with its own data and cache folders."""

    count = 0

    def __init__(self, data_dir: Path, *args: str, token: str | None = None,
                 cache_dir: Path | None = None):
        self.data_dir = Path(data_dir)
        self.args = [str(a) for a in args]
        self.token = token
        self.cache_dir = Path(cache_dir) if cache_dir else self.data_dir.parent / "user-cache"
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.http: httpx.Client | None = None
        Server.count += 1
        self.log_path = self.data_dir.parent / f"server-{Server.count}.log"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "advisor", "serve", "--port", "0", "--data-dir",
                   str(self.data_dir), *self.args]
        if self.token:
            command += ["--token", self.token]
        return command

    def start(self, wait_workers: bool = True) -> Server:
        env = {k: v for k, v in os.environ.items() if k not in ("ADVISOR_TOKEN", "ADVISOR_HOME")}
        env["ADVISOR_CACHE_DIR"] = str(self.cache_dir)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, cwd=REPO)
        match = wait_for(lambda: self._listening() or self._exited(), 90,
                         what=f"the server to listen ({self.log_path})")
        if match == "exited":
            raise AssertionError(f"the server exited: {self.log_text()}")
        self.url = f"http://127.0.0.1:{match}"
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=120)
        if wait_workers:
            wait_for(lambda: self.http.get("/healthz").json()["workers"] >= 1, 60,
                     what="a live worker")
        return self

    def _listening(self):
        found = re.search(r"listening on http://[^\s/]+:(\d+)", self.log_text())
        return found.group(1) if found else None

    def _exited(self):
        return "exited" if self.proc.poll() is not None else None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.http.close()
        self.log.close()

    # -- the API ------------------------------------------------------------------------------

    def submit(self, upload=None, *, name: str | None = None, headers: dict | None = None,
               **fields) -> httpx.Response:
        """POST /v1/jobs with ``upload`` (a path or bytes) and form fields."""
        files = None
        if upload is not None:
            if isinstance(upload, (str, Path)):
                content, name = Path(upload).read_bytes(), name or Path(upload).name
            else:
                content, name = upload, name or "table.csv"
            files = {"file": (name, content, "text/csv")}
        data = {k: ("true" if v is True else "false" if v is False else str(v))
                for k, v in fields.items()}
        return self.http.post("/v1/jobs", files=files, data=data, headers=headers or {})

    def job(self, job_id: str) -> dict:
        response = self.http.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_job(self, job_id: str, states=FINISHED, timeout: float = 240.0) -> dict:
        def settled():
            job = self.job(job_id)
            return job if job["state"] in states else None

        return wait_for(settled, timeout, 0.1, f"job {job_id} to be {'/'.join(states)}")

    def temp_files(self) -> list[Path]:
        return sorted((self.data_dir / "uploads").glob(".upload-*"))

    def uploads(self) -> list[str]:
        return sorted(p.name for p in (self.data_dir / "uploads").iterdir())

    def worker_pids(self) -> list[int]:
        return children_of(self.pid)
