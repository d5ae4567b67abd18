"""Status-poll latency of ``advisor serve``: 20 concurrent pollers of ``GET /v1/jobs/{id}`` while
a worker trains a validated job (and writes its progress to the same SQLite file), against the
same pollers on the idle server measured in the same run.

Each poller is a thread with its own HTTP connection, polling back to back; latency is the
client-side wall time of one request, so it includes the pollers' own Python overhead. Errors
(any non-200, any "database is locked") are counted.

    python benchmarks/serve_latency.py [--pollers 20] [--seconds 15] [--budget 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from printout import save, say  # noqa: E402
from serve_common import SAMPLES, Server, percentile  # noqa: E402

import advisor  # noqa: E402


def poll(url: str, path: str, pollers: int, until) -> tuple[list[float], int]:
    latencies: list[list[float]] = [[] for _ in range(pollers)]
    errors = [0] * pollers

    def run(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while not until():
                start = time.perf_counter()
                response = http.get(path)
                latencies[i].append(time.perf_counter() - start)
                if response.status_code != 200 or "locked" in response.text:
                    errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for per in latencies for x in per], sum(errors)


def describe(name: str, values: list[float], errors: int, seconds: float) -> dict:
    p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
    say(f"  {name}: {len(values):,} polls in {seconds:.1f} s ({len(values) / seconds:,.0f}/s), "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(values) * 1000:.1f} ms, "
        f"errors {errors}")
    return {"p50": p50, "p95": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--budget", type=float, default=30.0)
    args = parser.parse_args()
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; advisor {advisor.__version__}; {args.pollers} pollers")
    server = Server()
    try:
        server.wait_warm()
        table = SAMPLES / "diagnosis.csv"
        files = {"file": ("diagnosis.csv", table.read_bytes())}
        quick = server.http.post("/v1/jobs", files=files,
                                 data={"target": "diagnosis", "validate": "false"}).json()
        while server.http.get(f"/v1/jobs/{quick['id']}").json()["state"] != "succeeded":
            time.sleep(0.05)
        path = f"/v1/jobs/{quick['id']}"

        # Baseline: the same pollers on the idle server (a finished job's document).
        start = time.perf_counter()
        idle, idle_errors = poll(server.url, path, args.pollers,
                                 lambda: time.perf_counter() - start > args.seconds)
        say("")
        idle_stats = describe("idle server          ", idle, idle_errors,
                              time.perf_counter() - start)

        # Loaded: a validated job trains while the pollers read the job it is writing to.
        job = server.http.post("/v1/jobs", files=files,
                               data={"target": "diagnosis", "budget": f"{args.budget:g}",
                                     "seed": str(int(time.time()))}).json()
        path = f"/v1/jobs/{job['id']}"
        while server.http.get(path).json()["progress"]["phase"] != "trials":
            time.sleep(0.05)
        start = time.perf_counter()
        stop = threading.Event()

        def watch() -> None:  # one watcher ends the polling when the time is up or the job ends
            while time.perf_counter() - start < args.seconds:
                if server.http.get(path).json()["state"] != "running":
                    break
                time.sleep(0.2)
            stop.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        busy, busy_errors = poll(server.url, path, args.pollers, stop.is_set)
        watcher.join()
        elapsed = time.perf_counter() - start
        state = server.http.get(path).json()
        busy_stats = describe("while a job trains   ", busy, busy_errors, elapsed)
        say(f"  (the job was in '{state['progress']['phase']}' "
            f"{state['progress']['done']}/{state['progress']['total']} when polling stopped)")
        say(f"  ratio while training / idle: p50 {busy_stats['p50'] / idle_stats['p50']:.2f}×, "
            f"p95 {busy_stats['p95'] / idle_stats['p95']:.2f}×")
        while server.http.get(path).json()["state"] == "running":
            time.sleep(0.2)
        say(f"  the job then ended: {server.http.get(path).json()['state']}")
        locked = "database is locked" in server.log_path.read_text()
        say(f"  'database is locked' in the server log: {'yes' if locked else 'no'}")
    finally:
        server.stop()
    save("serve_latency.txt")


if __name__ == "__main__":
    main()
