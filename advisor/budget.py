"""Spending a time budget on trials: how many folds, seeds, epochs and rows fit.

A pilot measures the fixed cost of a trial and the cost of an epoch (``a + b · steps``). The
first round — every candidate on every fold with one seed — must fit in what is left, assuming
each trial runs to 70% of its epoch cap (early stopping usually ends it sooner; a trial that
would overrun the deadline is stopped and left out). Cuts are made in the order that costs the
comparison least: the epoch cap down to 40, then folds down to 3, then a stratified row sample,
then the cap down to 25, then the lowest-ranked candidates (the rules' pick and the default loss
stay), each recorded for the report. Further seeds are added round by round while the measured
round time still fits.
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
MIN_ROWS = 1000
PATIENCE = 10
FIRST_ROUND_SHARE = 0.8  # of the remaining budget; the rest is for more seeds and slack
# Early stopping (patience 10) ends most trials well before the cap; plan on this share of it.
# A trial that would overrun the deadline is stopped and left out, never the whole run.
EXPECTED_EPOCH_SHARE = 0.7
WORKER_START_SECONDS = 5.0  # importing TensorFlow in each new worker process


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


def plan_trials(rows_total: int, candidate_ids: tuple[str, ...], timing: Timing,
                seconds_left: float, jobs: int, keep: tuple[str, ...] = (),
                folds_possible: int = MAX_FOLDS) -> Plan:
    """The largest first round that fits in ``FIRST_ROUND_SHARE`` of ``seconds_left``.

    ``keep``: candidates never cut for time (the rules' pick and the default loss).
    """
    min_candidates = max(len(set(keep) & set(candidate_ids)), 1)
    available = seconds_left * FIRST_ROUND_SHARE - (WORKER_START_SECONDS if jobs > 1 else 0.0)
    folds = min(MAX_FOLDS, folds_possible)
    epochs, rows, k = EPOCH_CAPS[0], rows_total, len(candidate_ids)
    floor_rows = min(rows_total, MIN_ROWS)

    def cost(folds, epochs, rows, k):
        train_rows = rows * (folds - 1) / folds * 0.85
        waves = math.ceil(k * folds / jobs)
        return waves * trial_seconds(timing, int(train_rows), epochs * EXPECTED_EPOCH_SHARE)

    cuts = []

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
    if not fits() and rows > floor_rows:
        # Epoch cost is linear in rows (through steps): solve for the rows that fit.
        fixed = cost(folds, epochs, 0, k)
        per_row = (cost(folds, epochs, rows, k) - fixed) / rows
        fitting = int((available - fixed) / per_row) if per_row > 0 else rows
        rows = max(floor_rows, min(rows, fitting))
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
    if epochs != EPOCH_CAPS[0]:
        cuts.append(f"epoch cap {EPOCH_CAPS[0]} → {epochs} (early stopping, patience {PATIENCE})")
    if rows < rows_total:
        cuts.append(f"rows {rows_total:,} → {rows:,} (stratified sample)")
    if folds < min(MAX_FOLDS, folds_possible):
        cuts.append(f"folds {min(MAX_FOLDS, folds_possible)} → {folds}")
    kept = list(candidate_ids)
    for cid in reversed(candidate_ids):  # the lowest-ranked go first
        if len(kept) > k and cid not in keep:
            kept.remove(cid)
    if len(kept) < len(candidate_ids):
        dropped = ", ".join(c for c in candidate_ids if c not in kept)
        cuts.append(f"candidates {len(candidate_ids)} → {len(kept)} (not trialled: {dropped})")
    train_rows = int(rows * (folds - 1) / folds * 0.85)
    return Plan(
        folds=folds, seeds=MAX_SEEDS, max_epochs=epochs, patience=PATIENCE,
        batch_size=timing.batch_size, rows=rows, rows_total=rows_total,
        candidates=tuple(kept),
        trial_seconds_estimate=trial_seconds(timing, train_rows, epochs * EXPECTED_EPOCH_SHARE),
        cuts=tuple(cuts),
    )
