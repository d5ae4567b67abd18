"""Does the streaming profile scale? Time and peak memory at 10⁵, 10⁶ and 10⁷ rows × 20 columns.

Writes (once, cached under benchmarks/_work/) seeded Parquet shards of 10⁶ rows each (row groups
of 2¹⁸ rows) — 12 numeric columns (normal, Student-t, lognormal), 4 integer columns (one with
missing cells), 2 text columns (one with missing cells), a boolean, and a 5%-positive binary
target. Every measurement runs in its own child process, which reports its wall time and its
own peak resident memory (``VmHWM`` in ``/proc/self/status``, imports included; the line
"imports" is that floor; ``ru_maxrss`` is not used: Linux carries it across ``exec`` from the
forked copy of the parent, which here holds the generated data).

Rows in the printout:

- ``pyarrow read_table``: pyarrow reads the whole table into memory (the floor for time);
- ``pyarrow iter_batches``: pyarrow reads every shard batch by batch and drops it (the floor
  for a streaming pass, in time and memory);
- ``streaming profile``: ``advisor.profile(DIR, target)``, exact facts over every row;
- ``in-memory profile`` / ``streaming, same file``: one Parquet file that fits in memory,
  profiled whole and streamed (``memory_limit_mb`` set low enough to force streaming), in
  ``--repeats`` alternating runs (medians, and each ratio's range over the runs; which of the
  two runs first alternates from one repeat to the next).

Targets: time linear in rows, peak memory flat once streaming (under 1 GB at 10⁷ rows), and the
streaming profile of a file that fits no slower than 1.3× the in-memory one.

    python benchmarks/scale_profile.py [--sizes 100000 1000000 10000000] [--repeats 3]

The printout is always saved to ``benchmarks/results/scale_profile.txt``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
RESULTS = HERE / "results" / "scale_profile.txt"
SHARD_ROWS = 1_000_000
ROW_GROUP = 1 << 18

_CHILD = r"""
import json, re, sys, time
start = time.perf_counter()

def peak_mb():  # this process's own resident high-water mark (ru_maxrss would carry the
    # forked parent's across exec)
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\s*(\d+) kB", status).group(1)) / 1024

what, path = sys.argv[1], sys.argv[2]
import pyarrow.parquet as pq, pyarrow.dataset as ds
import advisor
from advisor.profiling.profiler import profile
imports = peak_mb()
t0, c0 = time.perf_counter(), time.process_time()
facts = {}
if what == "read_table":
    table = ds.dataset(path, format="parquet").to_table()
    facts["rows"] = table.num_rows
elif what == "iter_batches":
    rows = 0
    files = sorted(str(p) for p in __import__("pathlib").Path(path).glob("*.parquet")) \
        if __import__("os").path.isdir(path) else [path]
    for f in files:
        for batch in pq.ParquetFile(f, pre_buffer=False).iter_batches(batch_size=65536):
            rows += batch.num_rows
    facts["rows"] = rows
elif what == "profile":
    prof = profile(path, "target")
    facts = {"rows": prof.n_rows, "streamed": prof.facts_from_sample is not None,
             "duplicates": prof.duplicate_row_fraction, "sample_rows": prof.sample_rows}
elif what == "profile_streamed":
    prof = profile(path, "target", memory_limit_mb=1)
    facts = {"rows": prof.n_rows, "streamed": prof.facts_from_sample is not None}
elif what in ("warm", "warm_streamed"):  # a second call: lazy imports and caches are warm
    limit = 1 if what == "warm_streamed" else None
    profile(path, "target", memory_limit_mb=limit)
    __import__("gc").collect()  # the first call's garbage is not the second call's cost
    t0, c0 = time.perf_counter(), time.process_time()
    prof = profile(path, "target", memory_limit_mb=limit)
    facts = {"rows": prof.n_rows, "streamed": prof.facts_from_sample is not None,
             "cpu": time.process_time() - c0}
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = peak_mb()
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "imports_mb": imports,
                  **facts}))
"""


def make_shards(rows: int, seed: int = 20261203) -> Path:
    folder = WORK / f"scale_{rows}"
    done = folder / "_DONE"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, rows, SHARD_ROWS)):
        n = min(SHARD_ROWS, rows - start)
        rng = np.random.default_rng([seed, index])
        columns = {}
        for i in range(4):
            columns[f"normal_{i}"] = np.round(rng.normal(0, 10 ** i, n), 3)
        for i in range(4):
            columns[f"t_{i}"] = np.round(rng.standard_t(2 + i, n), 4)
        for i in range(4):
            columns[f"lognormal_{i}"] = np.round(rng.lognormal(2, 1 + i / 4, n), 2)
        for i in range(4):
            values = rng.integers(0, 10 ** (i + 1), n)
            mask = rng.random(n) < 0.03 if i == 3 else None
            columns[f"int_{i}"] = pa.array(values, mask=mask)
        words = np.array(["north", "south", "east", "west", "centre", "coast", "hills", "plain"])
        region = words[rng.integers(0, len(words), n)]
        columns["region"] = pa.array(region, mask=rng.random(n) < 0.05)
        columns["product"] = np.char.add("P", rng.integers(0, 5000, n).astype(str))
        columns["flag"] = rng.random(n) < 0.3
        logit = -3.2 + 0.8 * np.tanh(columns["t_0"]) + 0.6 * (region == "coast")
        columns["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        table = pa.table(columns)
        assert table.num_columns == 20
        pq.write_table(table, folder / f"part-{index:04d}.parquet", row_group_size=ROW_GROUP)
    done.write_text("")
    return folder


def run(what: str, path: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _CHILD, what, str(path)], check=False,
                          capture_output=True,
                          text=True, env=env, cwd=HERE.parent)
    if done.returncode:
        raise SystemExit(f"{what} {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fits_line(rows: int, label: str, path: Path, first: bool, repeats: int) -> str:
    """One line of the file-that-fits comparison: in-memory against streaming, alternating."""
    whole, streamed = [], []
    runs = ((whole, "profile" if first else "warm"),
            (streamed, "profile_streamed" if first else "warm_streamed"))
    for repeat in range(repeats):  # which goes first alternates: a drift in load falls on both
        for found, what in (runs if repeat % 2 == 0 else runs[::-1]):
            found.append(run(what, path))
        assert not whole[-1]["streamed"] and streamed[-1]["streamed"]
    median = statistics.median
    ratios = {key: [s[key] / w[key] for w, s in zip(whole, streamed)] for key in ("seconds", "cpu")}
    w_s, s_s = median(m["seconds"] for m in whole), median(m["seconds"] for m in streamed)
    w_c, s_c = median(m["cpu"] for m in whole), median(m["cpu"] for m in streamed)
    spread = {key: f"{min(r):.2f}–{max(r):.2f}" for key, r in ratios.items()}
    return (f"  {rows:>10,} rows, {label} in-memory {w_s:5.2f} s ({w_c:.2f} s CPU, peak "
            f"{median(m['peak_mb'] for m in whole):4.0f} MB), streaming {s_s:5.2f} s ({s_c:.2f} s "
            f"CPU, peak {median(m['peak_mb'] for m in streamed):4.0f} MB): ×{s_s / w_s:.2f} wall "
            f"[{spread['seconds']}], ×{s_c / w_c:.2f} CPU [{spread['cpu']}] (target ≤ 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating runs of the file-that-fits comparison")
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"scale_profile: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one run each "
        f"(the file that fits: {args.repeats})")
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, pyarrow {pa.__version__}, load average "
        f"{os.getloadavg()[0]:.1f} at the start (other processes share the cores: CPU seconds "
        "are the steadier measure)")
    rows_seen: dict[int, dict[str, dict]] = {}
    for rows in args.sizes:
        folder = make_shards(rows)
        size_mb = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20
        say(f"\n{rows:,} rows × 20 columns: {len(list(folder.glob('*.parquet')))} shard(s), "
            f"{size_mb:.0f} MiB of Parquet, {rows * 20 * 8 / 2**20:,.0f} MiB as 8-byte cells")
        found = {what: run(what, folder) for what in ("read_table", "iter_batches", "profile")}
        rows_seen[rows] = found
        floor = found["read_table"]["seconds"]
        say(f"  imports (child's floor){'':24}peak {found['profile']['imports_mb']:5.0f} MB")
        for what, label in (("read_table", "pyarrow read_table"),
                            ("iter_batches", "pyarrow iter_batches"),
                            ("profile", "streaming profile")):
            m = found[what]
            say(f"  {label:<22} {m['seconds']:6.2f} s ({m['cpu']:6.2f} s CPU)  peak "
                f"{m['peak_mb']:5.0f} MB  ×{m['seconds'] / floor:5.2f} read_table's time, "
                f"{m['cpu'] / rows * 1e6:5.2f} µs CPU/row")
        assert found["profile"]["rows"] == rows and found["profile"]["streamed"]
    sizes = sorted(rows_seen)
    say("\nscaling of the streaming profile (between consecutive sizes; linear time = the rows' "
        "ratio, flat memory = 1.0)")
    for small, large in itertools.pairwise(sizes):
        a, b = rows_seen[small]["profile"], rows_seen[large]["profile"]
        say(f"  {small:>10,} → {large:>10,} rows (×{large / small:g}): wall time "
            f"×{b['seconds'] / a['seconds']:.2f}, CPU time ×{b['cpu'] / a['cpu']:.2f}, peak "
            f"memory ×{b['peak_mb'] / a['peak_mb']:.2f} ({a['peak_mb']:.0f} → {b['peak_mb']:.0f} MB)")
    say("  as a fixed cost plus a cost per row (the fixed part is the first call's lazy import of")
    say("  scipy and the 50,000-row sample's profile): CPU per added row")
    for small, large in itertools.pairwise(sizes):
        a, b = rows_seen[small]["profile"], rows_seen[large]["profile"]
        say(f"  {small:>10,} → {large:>10,} rows: {(b['cpu'] - a['cpu']) / (large - small) * 1e6:.2f} "
            "µs CPU per added row (linear time: the same figure for every step)")
    largest = rows_seen[sizes[-1]]["profile"]
    say(f"  peak at {sizes[-1]:,} rows: {largest['peak_mb']:.0f} MB (target < 1024 MB)")

    # A file that fits: the whole-table profile against the streaming one, same file.
    say("\none file that fits in memory, profiled whole and streamed")
    say("  (first call in a fresh process, then a second call in another: lazy imports warm;")
    say(f"   medians of {args.repeats} alternating runs, which goes first alternating too; each")
    say("   ratio's range over the runs in brackets; CPU seconds too, which other processes")
    say("   disturb less than wall time)")
    for rows in [r for r in sizes if r <= 1_000_000]:
        path = make_shards(rows) / "part-0000.parquet"
        for first, label in ((True, "first call"), (False, "warm call: ")):
            say(fits_line(rows, label, path, first, args.repeats))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nsaved to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
