"""Trials on a Dask cluster: how much faster do 2 workers run a trial-heavy validation than 1?

One fixed plan — made once by a budgeted run on a real table, then replayed exactly (the same
rows, folds, epochs, rounds and candidates each time) — is run, in one process and alternating:

- ``local``: joblib in this process (``--jobs 1``), the baseline;
- ``dask 1``: a ``distributed.LocalCluster`` of 1 worker process (1 thread);
- ``dask 2``: the same with 2 worker processes.

Each configuration runs the plan once to warm up (TensorFlow's import and the models' tracing in
each process) and then ``--repeats`` timed times; medians are reported, with the ideal 2× for
2 workers beside the measured ratio. The trial scores of every run must equal the local run's
(the script checks it). No cache (every trial trains).

    python benchmarks/scale_trials.py [--table land_cover] [--budget 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

import advisor  # noqa: E402
from advisor.criteria.statement import criteria_for  # noqa: E402
from advisor.pipeline.recommendation import baseline_candidate, trial_set  # noqa: E402
from advisor.rules.engine import RuleBook  # noqa: E402
from advisor.validation.validator import validate  # noqa: E402

TABLES = {"land_cover": "land_cover", "diagnosis": "diagnosis", "claims": "n_claims",
          "house_prices": "price_k"}


def _inputs(table: str, budget: float, candidates: int):
    frame = pd.read_csv(ROOT / "sample_data" / f"{table}.csv")
    prof = advisor.profile(frame, TABLES[table])
    book = RuleBook.load(())
    crit = criteria_for(prof, known_domains=book.domains, budget=budget)
    ranked = book.match(prof, crit).candidates
    base = baseline_candidate(ranked, prof, crit, None)
    return frame, prof, crit, trial_set(ranked, candidates, base, prof, crit), base.id


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _scores(validation) -> dict:
    return {(c.id, f, s): x for c in validation.candidates
            for f, s, x in zip(c.folds, c.seeds, c.scores)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", default="land_cover", choices=sorted(TABLES))
    parser.add_argument("--budget", type=float, default=30.0,
                        help="budget of the run that makes the plan (the plan is then replayed)")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import dask
    import distributed

    frame, prof, crit, candidates, base = _inputs(args.table, args.budget, args.candidates)
    planned = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=False)
    plan = planned.plan
    trials = sum(len(live) for live in plan.schedule) * plan.folds
    print(f"scale_trials: {args.table} ({prof.n_rows:,} rows, {prof.task}), plan of a "
          f"{args.budget:g} s budget replayed: {trials} trials = {len(plan.schedule)} round(s) × "
          f"{plan.folds} folds × up to {len(plan.candidates)} candidates, ≤ {plan.max_epochs} "
          f"epochs, {plan.rows:,} rows")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"dask {dask.__version__}; {args.repeats} timed repeats after a warm-up run each; "
          f"load average at start {_load()}\n")

    def timed(scheduler):
        start = time.perf_counter()
        result = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=False,
                          replay=plan, scheduler=scheduler)
        return time.perf_counter() - start, result

    reference = _scores(planned)
    times: dict[str, list[float]] = {"local": [], "dask 1": [], "dask 2": []}
    clusters = {}
    try:
        with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
            for workers in (1, 2):
                clusters[f"dask {workers}"] = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=":0")
        where = {"local": None, **{k: c.scheduler_address for k, c in clusters.items()}}
        for name, scheduler in where.items():  # warm-up: imports and tracing in every process
            _, result = timed(scheduler)
            assert _scores(result) == reference, f"{name}: trial scores differ from local"
        for _ in range(args.repeats):
            for name, scheduler in where.items():
                seconds, result = timed(scheduler)
                assert _scores(result) == reference, f"{name}: trial scores differ from local"
                times[name].append(seconds)
    finally:
        for cluster in clusters.values():
            cluster.close()

    median = {name: statistics.median(values) for name, values in times.items()}
    print("| executor | median s | per repeat s | trials / s |")
    print("| --- | --- | --- | --- |")
    for name, values in times.items():
        spread = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {name} | {median[name]:.1f} | {spread} | {trials / median[name]:.2f} |")
    best = {name: min(values) for name, values in times.items()}
    for label, t in (("medians", median), ("best repeats", best)):
        speedup = t["dask 1"] / t["dask 2"]
        print(f"\n{label}: speed-up, 2 workers over 1: {speedup:.2f}× (ideal 2×: "
              f"{speedup / 2:.0%} of it); 1 worker vs local joblib: "
              f"{t['local'] / t['dask 1']:.2f}×; 2 workers vs local joblib: "
              f"{t['local'] / t['dask 2']:.2f}×")
    print(f"load average at the end {_load()} (other work on these cores slows a 2-worker "
          "run most: it needs both)")
    print("every run's trial scores equal the local run's: yes")


if __name__ == "__main__":
    main()
