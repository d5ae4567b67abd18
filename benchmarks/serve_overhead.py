"""What does going through ``advisor serve`` cost? A job through the service against the same
work without it, alternating in one run.

1. Rules only (``validate=false``): ``advisor.Client(url).recommend(...)`` — upload, the check
   that refuses bad input before a job exists, the queue, a warm worker, polling, the result
   rebuilt — against ``advisor.recommend(..., validate=False)`` in this process (warm), on the
   3,000-row sample table and a seeded 100,000-row table. Target ≤ 1.2×.
2. Validated (Keras trials, the same budget): the service's warm worker against
   ``advisor recommend`` as a fresh command (Python, the advisor and TensorFlow imported per run).
   The service should win by the imports it no longer pays per job.

Every run uses its own seed on both sides, so neither the service's profile memo nor the trial
cache turns a repeat into a lookup.

    python benchmarks/serve_overhead.py [--repeats 7] [--validated-repeats 3] [--budget 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from printout import save, say  # noqa: E402
from profile_speed import make_table  # noqa: E402
from serve_common import REPO, SAMPLES, Server, summary  # noqa: E402

import advisor  # noqa: E402
from advisor.pipeline import Recommendation  # noqa: E402
from advisor.service.client import Client  # noqa: E402


def seconds(call):
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def stamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def rules_only(client: Client, table: Path, target: str, repeats: int) -> float:
    advisor.recommend(table, target, validate=False, seed=999_999)  # warm imports and caches
    client.recommend(str(table), target=target, validate=False, seed=999_999)
    local, service, submit, queued, worker, after = [], [], [], [], [], []
    for i in range(repeats):
        seed = 1000 + i
        t, _ = seconds(lambda: advisor.recommend(table, target, validate=False, seed=seed))
        local.append(t)
        start = time.perf_counter()
        job = client.submit(str(table), target=target, validate=False, seed=seed)
        accepted = time.perf_counter()
        rec = job.wait()
        done = time.perf_counter()
        assert rec.input.rows > 0
        service.append(done - start)
        submit.append(accepted - start)
        document = job.document
        queued.append(stamp(document["started_at"]) - stamp(document["created_at"]))
        worker.append(stamp(document["finished_at"]) - stamp(document["started_at"]))
        after.append(service[-1] - submit[-1] - queued[-1] - worker[-1])
    m_local, m_service = statistics.median(local), statistics.median(service)
    say(f"  in-process advisor.recommend(validate=False): {summary(local)}")
    say(f"  through the service (Client.recommend):       {summary(service)}")
    say(f"    of which: upload + check until 202 {statistics.median(submit):.3f} s, "
        f"queued {statistics.median(queued):.3f} s, worker {statistics.median(worker):.3f} s, "
        f"polling and result {statistics.median(after):.3f} s (medians)")
    ratio = m_service / m_local
    say(f"  ratio service / in-process: {ratio:.2f}× (target ≤ 1.2×)")
    return ratio


def validated(client: Client, repeats: int, budget: float, cache: Path) -> float:
    table = SAMPLES / "diagnosis.csv"
    env = {**os.environ, "ADVISOR_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "advisor", "recommend", str(table), "--target", "diagnosis",
               "--domain", "medical", "--budget", f"{budget:g}", "--format", "json", "--quiet"]
    fresh, service, same = [], [], []
    for i in range(repeats):
        seed = 2000 + i
        t, run = seconds(lambda: subprocess.run([*command, "--seed", str(seed)], env=env,
                                                cwd=REPO, capture_output=True, text=True))
        assert run.returncode == 0, run.stderr
        fresh.append(t)
        local = Recommendation.from_dict(json.loads(run.stdout))
        t, rec = seconds(lambda: client.recommend(str(table), target="diagnosis", domain="medical",
                                                  budget=budget, seed=seed))
        service.append(t)
        same.append([c.scores for c in rec.validation.candidates] ==
                     [c.scores for c in local.validation.candidates])
    say(f"  `advisor recommend --budget {budget:g}` as a fresh command: {summary(fresh)}")
    say(f"  through the service (warm worker):                  {summary(service)}")
    ratio = statistics.median(service) / statistics.median(fresh)
    say(f"  ratio service / fresh command: {ratio:.2f}× (target < 1: the service keeps "
        "TensorFlow imported)")
    say(f"  identical trial scores, service vs command, same seed: {sum(same)}/{len(same)} runs")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--validated-repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=15.0)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    import compileall

    compileall.compile_dir(str(Path(advisor.__file__).parent), quiet=1)  # as installed
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    big = make_table(args.rows)
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; advisor {advisor.__version__}")
    server = Server()
    try:
        server.wait_warm()
        client = Client(server.url)
        say("")
        say("1. Rules only (validate=false), medians of alternating runs")
        ratios = {}
        for table, target in ((SAMPLES / "diagnosis.csv", "diagnosis"), (big, "target")):
            rows = sum(1 for _ in open(table)) - 1
            say(f"{table.name}: {rows:,} rows, {table.stat().st_size / 2**20:.1f} MiB")
            ratios[table.name] = rules_only(client, table, target, args.repeats)
        say("")
        say(f"2. Validated (Keras trials, --budget {args.budget:g}) on diagnosis.csv")
        validated(client, args.validated_repeats, args.budget, server.folder / "cli-cache")
        client.close()
    finally:
        server.stop()
    save("serve_overhead.txt")


if __name__ == "__main__":
    main()
