"""What the ``serve_*`` benchmarks share: a real ``advisor serve`` subprocess on loopback."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"


class Server:
    def __init__(self, *args: str):
        self.folder = Path(tempfile.mkdtemp(prefix="advisor-serve-bench-"))
        self.log_path = self.folder / "server.log"
        env = {k: v for k, v in os.environ.items() if k not in ("ADVISOR_TOKEN", "ADVISOR_HOME")}
        env["ADVISOR_CACHE_DIR"] = str(self.folder / "user-cache")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - the server's whole life
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "advisor", "serve", "--port", "0", "--data-dir",
             str(self.folder / "data"), *args], stdout=self._log, stderr=subprocess.STDOUT,
            env=env, cwd=REPO)
        deadline = time.monotonic() + 120
        while True:
            found = re.search(r"listening on (http://\S+:\d+)", self.log_path.read_text())
            if found:
                self.url = found.group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {self.log_path.read_text()}")
            time.sleep(0.1)
        self.http = httpx.Client(base_url=self.url, timeout=600)
        while self.http.get("/healthz").json()["workers"] < 1:
            time.sleep(0.2)

    def wait_warm(self) -> None:
        """Until the worker has TensorFlow imported (its background warm-up is over): the
        library is loaded and the worker has gone idle (TensorFlow is mapped early in the
        import; Keras and the rest take seconds more, and a job running meanwhile shares the
        worker's interpreter with that import)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) ==
                    self.proc.pid]
            loaded = [pid for pid in pids if _maps(pid, "_pywrap_tensorflow")]
            if loaded and all(_idle(pid, deadline) for pid in loaded):
                return
            time.sleep(0.5)

    def stop(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _idle(pid: int, deadline: float, window: float = 1.0) -> bool:
    """Whether ``pid`` used under 5% of a core over a ``window`` (waiting until it does, up to
    ``deadline``)."""
    while time.monotonic() < deadline:
        before = _cpu_seconds(pid)
        time.sleep(window)
        if _cpu_seconds(pid) - before < 0.05 * window:
            return True
    return False


def _maps(pid: int, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/maps") as handle:
            return any(needle in line for line in handle)
    except OSError:
        return False


def summary(values: list[float]) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values):.3f} s (min {values[0]:.3f}, "
            f"max {values[-1]:.3f}, n={len(values)})")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[index]
