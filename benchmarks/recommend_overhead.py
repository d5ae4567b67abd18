"""What do the rules cost on top of profiling? ``recommend --no-validate`` vs ``profile``.

On a seeded 100,000-row mixed CSV (the same generator as profile_speed.py), alternating in one
run, this times (1) the two library calls in-process and (2) the two whole commands as fresh
processes (imports included), and prints the ratios. Target: ``advisor recommend --no-validate``
costs at most 5% more than ``advisor profile``, and imports no TensorFlow.

    python benchmarks/recommend_overhead.py [--rows 100000] [--repeats 7] [--save]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from printout import save, say  # noqa: E402
from profile_speed import make_table  # noqa: E402

import advisor  # noqa: E402


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--save", action="store_true",
                        help="write the printout to benchmarks/results/recommend_overhead.txt")
    args = parser.parse_args()
    path = make_table(args.rows)
    say(f"recommend_overhead: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, medians of "
        f"{args.repeats} runs, alternating which call goes first")
    say(f"file: {path.name}, {args.rows:,} rows × 20 columns, "
          f"{os.path.getsize(path) / 2**20:.1f} MiB")
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start")

    advisor.recommend(path, target="target", validate=False)  # warm imports and caches
    profile_s, recommend_s = [], []
    calls = [(profile_s, lambda: advisor.profile(path, target="target")),
             (recommend_s, lambda: advisor.recommend(path, target="target", validate=False))]
    for i in range(args.repeats):
        for times, call in calls[::-1] if i % 2 else calls:
            times.append(_seconds(call))
    p, r = statistics.median(profile_s), statistics.median(recommend_s)
    say(f"in-process: profile {p:.3f} s, recommend --no-validate {r:.3f} s, "
          f"ratio {r / p:.3f}× (target ≤ 1.05×)")

    # An installed package has its bytecode compiled; an editable checkout under
    # PYTHONDONTWRITEBYTECODE would recompile every module on every run and time the compiler.
    import compileall

    compileall.compile_dir(str(Path(advisor.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    check = ("import sys; from advisor.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n")
    base = [sys.executable, "-c", check]
    commands = {
        "profile": base + ["profile", str(path), "--target", "target"],
        "recommend": base + ["recommend", str(path), "--target", "target", "--no-validate"],
    }
    seconds = {name: [] for name in commands}
    for i in range(args.repeats):
        for name, command in list(commands.items())[::-1 if i % 2 else 1]:
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            seconds[name].append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: {done.stderr.strip()}")
    cp, cr = statistics.median(seconds["profile"]), statistics.median(seconds["recommend"])
    say(f"commands:   advisor profile {cp:.3f} s, advisor recommend --no-validate {cr:.3f} s, "
          f"ratio {cr / cp:.3f}× (target ≤ 1.05×); no TensorFlow imported")
    say(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.save:
        save("recommend_overhead.txt")


if __name__ == "__main__":
    main()
