"""Spending a time budget on trials: how many folds, seeds, epochs and rows fit.

A pilot measures the fixed cost of a trial and the cost of an epoch (``a + b · steps``). A round —
every candidate on every fold with one seed — must fit in what is left, assuming each trial runs
to 60% of its epoch cap (early stopping usually ends it sooner; a trial that would overrun the
deadline is stopped and left out). Cuts are made in the order that costs the comparison least:
seeds (3 → 1), the epoch cap down to 40, folds down to 3, a stratified row sample from a fixed
ladder, the cap down to 25, then the lowest-ranked candidates (the rules' pick and the default
loss stay), each recorded for the report. After the first round, the epochs its trials actually ran decide
how many more seeds fit. Times are snapped to a coarse grid, choices come from ladders, and
epochs are deterministic, so the same run on the same machine makes the same plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from advisor.records import Record
from advisor.trials import Timing

MAX_FOLDS, MIN_FOLDS = 5, 3
MAX_SEEDS = 3
EPOCH_CAPS = (100, 60, 40, 25)
LOW_EPOCH_CAPS = (15, 10)
# Row samples come from this ladder (a discrete choice keeps plans stable across runs).
ROW_LADDER = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
PATIENCE = 10
STARTUP_SECONDS = 4.0  # importing TensorFlow
USABLE_SHARE = 0.85  # of the time left after the pilot; the rest is slack for scoring and noise
# Early stopping (patience 10) ends most trials well before the cap; plan on this share of it.
# A trial that would overrun the deadline is stopped and left out, never the whole run.
EXPECTED_EPOCH_SHARE = 0.6
WORKER_START_SECONDS = 6.0  # importing TensorFlow in each new worker process


@dataclass(frozen=True)
class Plan(Record):
    folds: int
    seeds: int
    max_epochs: int
    patience: int
    batch_size: int
    rows: int
    rows_total: int
    candidates: tuple[str, ...]
    trial_seconds_estimate: float
    cuts: tuple[str, ...]


def batch_size_for(train_rows: int) -> int:
    """Bigger batches for bigger folds: about 20–40 steps an epoch, between 32 and 1024 rows."""
    size = 2 ** round(math.log2(max(train_rows / 30, 32)))
    return int(min(max(size, 32), 1024))


def trial_seconds(timing: Timing, train_rows: int, epochs: float) -> float:
    steps = math.ceil(train_rows / timing.batch_size)
    return timing.trial_seconds + epochs * (timing.epoch_seconds + steps * timing.step_seconds)


def snapped(timing: Timing) -> Timing:
    """The pilot's times rounded to a √2 grid, so run-to-run timing noise rarely changes the
    plan — same input, options and seed give the same trials unless the machine's speed moves
    by more than a grid step."""

    def snap(x: float) -> float:
        return 0.0 if x <= 0 else 2 ** (round(2 * math.log2(x)) / 2)

    return Timing(snap(timing.trial_seconds), snap(timing.epoch_seconds),
                  snap(timing.step_seconds), timing.batch_size, snap(timing.compile_seconds))


def planning_seconds(budget_seconds: float, timing: Timing) -> float:
    """The time the plan may spend: the budget less a modelled start-up (importing TensorFlow and
    the pilot itself), not the clock's reading — so a warm cache or a slow import does not
    change the plan. The deadline still holds every trial to the real clock."""
    pilot = timing.compile_seconds + 2 * timing.trial_seconds + 5 * (
        timing.epoch_seconds + 30 * timing.step_seconds)
    return budget_seconds - STARTUP_SECONDS - pilot


def available_seconds(budget_seconds: float, timing: Timing, jobs: int) -> float:
    """What trials may spend, by the model (deterministic), not by the clock."""
    timing = snapped(timing)
    start = WORKER_START_SECONDS if jobs > 1 else 0.0
    return planning_seconds(budget_seconds, timing) * USABLE_SHARE - start


def seeds_affordable(plan: Plan, timing: Timing, budget_seconds: float, jobs: int,
                     spent_epochs: list[int], next_round_epochs: list[int]) -> int:
    """Seed rounds the budget allows once the first round's trials are known.

    The estimate uses the epochs the first round's trials actually ran (a deterministic
    quantity: trials are seeded) with the snapped pilot timing, so the answer is the same on a
    re-run; ``next_round_epochs`` are the epochs of the trials the next rounds would repeat.
    """
    timing = snapped(timing)
    train_rows = int(plan.rows * (plan.folds - 1) / plan.folds * (1 - 0.15))

    def wall(epochs: list[int]) -> float:
        return sum(trial_seconds(timing, train_rows, e) for e in epochs) / jobs

    tracing = len(plan.candidates) * min(jobs, plan.folds) * timing.compile_seconds / jobs
    left = available_seconds(budget_seconds, timing, jobs) - tracing - wall(spent_epochs)
    per_round = wall(next_round_epochs)
    extra = int(left // per_round) if per_round > 0 else MAX_SEEDS
    return max(1, min(MAX_SEEDS, 1 + extra))


def plan_trials(rows_total: int, candidate_ids: tuple[str, ...], timing: Timing,
                budget_seconds: float, jobs: int, keep: tuple[str, ...] = (),
                folds_possible: int = MAX_FOLDS) -> Plan:
    """The largest round (every candidate × every fold, one seed) that fits in the budget, then
    as many seeds (up to 3) as fit too.

    ``keep``: candidates never cut for time (the rules' pick and the default loss).
    """
    available = available_seconds(budget_seconds, timing, jobs)
    timing = snapped(timing)
    min_candidates = max(len(set(keep) & set(candidate_ids)), 1)
    folds = min(MAX_FOLDS, folds_possible)
    epochs, rows, k = EPOCH_CAPS[0], rows_total, len(candidate_ids)

    def cost(folds, epochs, rows, k):
        train_rows = rows * (folds - 1) / folds * (1 - 0.15)
        waves = math.ceil(k * folds / jobs)
        tracing = k * min(jobs, folds) * timing.compile_seconds / jobs
        return tracing + waves * trial_seconds(timing, int(train_rows),
                                               epochs * EXPECTED_EPOCH_SHARE)

    def fits() -> bool:
        return cost(folds, epochs, rows, k) <= available

    # Cheapest losses of evidence first: a lower epoch cap (early stopping usually ends trials
    # sooner anyway), then folds, then rows, then candidates, then a short epoch cap.
    for cap in EPOCH_CAPS[1:3]:
        if fits():
            break
        epochs = cap
    while not fits() and folds > min(MIN_FOLDS, folds_possible):
        folds -= 1
    for size in sorted((r for r in ROW_LADDER if r < rows_total), reverse=True):
        if fits():
            break
        rows = size
    for cap in EPOCH_CAPS[3:]:
        if fits():
            break
        epochs = cap
    while not fits() and k > min_candidates:
        k -= 1
    for cap in LOW_EPOCH_CAPS:
        if fits():
            break
        epochs = cap
    round_cost = cost(folds, epochs, rows, k)
    seeds = int(max(1, min(MAX_SEEDS, available // round_cost if round_cost > 0 else MAX_SEEDS)))
    cuts = []
    if seeds < MAX_SEEDS:
        cuts.append(f"seeds {MAX_SEEDS} → {seeds}")
    if epochs != EPOCH_CAPS[0]:
        cuts.append(f"epoch cap {EPOCH_CAPS[0]} → {epochs} (early stopping, patience {PATIENCE})")
    if folds < min(MAX_FOLDS, folds_possible):
        cuts.append(f"folds {min(MAX_FOLDS, folds_possible)} → {folds}")
    if rows < rows_total:
        cuts.append(f"rows {rows_total:,} → {rows:,} (stratified sample)")
    kept = list(candidate_ids)
    for cid in reversed(candidate_ids):  # the lowest-ranked go first
        if len(kept) > k and cid not in keep:
            kept.remove(cid)
    if len(kept) < len(candidate_ids):
        dropped = ", ".join(c for c in candidate_ids if c not in kept)
        cuts.append(f"candidates {len(candidate_ids)} → {len(kept)} (not trialled: {dropped})")
    train_rows = int(rows * (folds - 1) / folds * (1 - 0.15))
    return Plan(
        folds=folds, seeds=seeds, max_epochs=epochs, patience=PATIENCE,
        batch_size=timing.batch_size, rows=rows, rows_total=rows_total,
        candidates=tuple(kept),
        trial_seconds_estimate=round(trial_seconds(timing, train_rows,
                                                   epochs * EXPECTED_EPOCH_SHARE), 2),
        cuts=tuple(cuts),
    )
