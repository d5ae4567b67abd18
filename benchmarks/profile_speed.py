"""How much does profiling cost beyond reading the file? Time and peak memory vs pyarrow's read.

Writes (once, cached under benchmarks/_work/) a seeded 1,000,000-row × 20-column mixed CSV —
heavy-tailed numeric columns, strings, integers, missing cells, a 3%-positive binary target — then,
in one process and alternating, times ``pyarrow.csv.read_csv`` on it and the whole
``advisor.profile`` (reading included), and prints the ratios. Targets: time ≤ 1.5× (the median,
and in most repeats), peak ≤ 1.5×. The machine is shared: the load average is printed, and the
CPU seconds of both phases (pyarrow reads on every core, so its CPU exceeds its wall time).

    python benchmarks/profile_speed.py [--rows 1000000] [--repeats 15] [--save]

``--save`` writes the printout to ``benchmarks/results/profile_speed.txt``.

Single calls on a shared 2-core machine vary by ±50%, so: one untimed call of each first (the
file in the page cache, lazy imports done, for both), freed memory returned to the OS and a
garbage collection before every timed call (``memory.measure``), and the two alternate which
goes first from one repeat to the next, so that a drift in the machine's load falls on both.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import measure  # noqa: E402

import advisor  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work"
RESULTS = Path(__file__).resolve().parent / "results" / "profile_speed.txt"
TARGET = 1.5


def make_table(rows: int, seed: int = 20261126) -> Path:
    path = WORK / f"mixed_{rows}_v2.csv"
    if path.exists():
        return path
    WORK.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(8):  # heavy tails: Student-t with 2–5 degrees of freedom, scaled
        data[f"num_{i}"] = np.round(rng.standard_t(2 + i % 4, rows) * 10 ** (i % 3), 4)
    for i in range(3):
        data[f"lognormal_{i}"] = np.round(rng.lognormal(3, 1.2, rows), 3)
    for i in range(4):
        data[f"int_{i}"] = rng.integers(0, 10 ** (i + 1), rows)
    words = np.array(["north", "south", "east", "west", "centre", "coast", "hills", "plain"])
    data["region"] = words[rng.integers(0, len(words), rows)]
    data["segment"] = np.array(["retail", "sme", "corporate"])[rng.integers(0, 3, rows)]
    data["product_code"] = np.char.add("P", rng.integers(0, 5000, rows).astype(str))
    data["channel"] = np.array(["web", "branch", "phone", "partner"])[rng.integers(0, 4, rows)]
    logit = -3.7 + 0.8 * np.tanh(data["num_0"]) + 0.5 * (data["region"] == "coast")  # ≈ 3%
    data["target"] = (rng.random(rows) < expit(logit)).astype(int)
    frame = pd.DataFrame(data)
    for column in ("num_1", "lognormal_0", "int_2", "region", "channel"):
        frame.loc[rng.random(rows) < 0.05, column] = None
    assert frame.shape[1] == 20
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--save", action="store_true",
                        help=f"write the printout to {RESULTS.relative_to(WORK.parent.parent)}")
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    path = make_table(args.rows)
    size_mb = os.path.getsize(path) / 2**20
    say(f"profile_speed: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    say(f"file: {path.name}, {args.rows:,} rows × 20 columns, {size_mb:.0f} MiB")
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start")
    reads, profiles, cpu = [], [], {"read": [], "profile": []}

    def timed_read():
        c0 = time.process_time()
        with measure() as read:
            table = pacsv.read_csv(path)
        cpu["read"].append(time.process_time() - c0)
        del table
        return read

    def timed_profile():
        c0 = time.process_time()
        with measure() as prof:
            found = advisor.profile(path, target="target")
        cpu["profile"].append(time.process_time() - c0)
        return prof, found

    pacsv.read_csv(path)  # untimed: the file in the page cache, the reader's pool started
    advisor.profile(path, target="target")  # untimed: the profiler's lazy imports done
    for repeat in range(args.repeats):
        if repeat % 2 == 0:
            read = timed_read()
            prof, result = timed_profile()
        else:
            prof, result = timed_profile()
            read = timed_read()
        reads.append(read)
        profiles.append(prof)
    say(f"task: {result.task}, minority {result.minority_fraction:.3f}, "
        f"sample rows for costly facts: {result.sample_rows:,} "
        f"(IsolationForest: {result.feature_outlier_sample_rows:,})")
    report(say, reads, profiles, cpu, args.repeats)
    say(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.save:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"saved to {RESULTS.relative_to(WORK.parent.parent)}")


def report(say, reads, profiles, cpu, repeats: int) -> None:
    t_read = statistics.median(m.seconds for m in reads)
    t_prof = statistics.median(m.seconds for m in profiles)
    m_read = statistics.median(m.peak_bytes for m in reads)
    m_prof = statistics.median(m.peak_bytes for m in profiles)
    # Each repeat's pair was measured back to back; the spread shows how noisy the machine was.
    pairs = [p.seconds / r.seconds for r, p in zip(reads, profiles)]
    within = sum(ratio <= TARGET for ratio in pairs)
    c_read, c_prof = statistics.median(cpu["read"]), statistics.median(cpu["profile"])
    say(f"pyarrow.csv.read_csv: {t_read:.2f} s ({c_read:.2f} s CPU), "
        f"peak +{m_read / 2**20:.0f} MiB (medians of {repeats}, alternating which goes first)")
    say(f"advisor.profile:      {t_prof:.2f} s ({c_prof:.2f} s CPU), "
        f"peak +{m_prof / 2**20:.0f} MiB")
    say(f"time ratio:   {t_prof / t_read:.2f}×  (target ≤ {TARGET}×; per repeat, in order: "
        f"{' '.join(f'{r:.2f}' for r in pairs)}; {within} of {repeats} within the target)")
    say(f"CPU ratio:    {c_prof / c_read:.2f}×  (CPU seconds, both threads' and the reader's "
        f"pool's; per repeat: {' '.join(f'{p / r:.2f}' for r, p in zip(cpu['read'], cpu['profile']))})")
    say(f"memory ratio: {m_prof / m_read:.2f}×  (target ≤ 1.5×)")


if __name__ == "__main__":
    main()
