"""Spending a time budget on trials: rows, folds, candidates and rounds, from a fixed cost model.

The plan is a pure function of the table's size, the model's size, the candidates and the budget:
no clock is read, so the same input, options and seed give the same plan — and so the same
trials, scores and verdict — on any machine and under any load. Seconds come from a cost model
of one Keras trial measured on the reference machine (2 cores, TensorFlow on the CPU); on a
faster or slower machine the run takes less or more time than the budget, and the report says
how long it took. A safety limit (``SAFETY_FACTOR`` × the budget) stops a run the model badly
misjudged; that is the only place the clock can change a result, and the report says so.

What the budget buys, in order (the evidence a decision needs first):

1. all rows, while the minimum design fits — the baseline and one alternative on every fold —
   else the largest row sample from a fixed ladder that does, then fewer folds;
2. more of the rules' candidates in the first round while the baseline and the first
   alternative keep ``BREADTH_ROUNDS`` rounds (depth first: power to see a real difference);
3. up to ``MAX_ROUNDS`` rounds (a round is every fold with one more seed); after the first
   round only the baseline and the alternatives still open are trialled, and the run stops once
   the verdict is decided (:mod:`advisor.validation.verdict`);
4. once a change of loss is decided, breadth: the rules' candidates the first round left out,
   each on the seed rounds the baseline ran, while the model says a round still fits
   (``Plan.broadened()``). Whether a round fits is judged from the epochs the finished trials
   ran, which the seeds fix, so this step is as deterministic as the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from advisor.base.records import Record
from advisor.losses.protocol import PATIENCE, VALIDATION_FRACTION, batch_size_for
from advisor.validation.verdict import looks_for

MAX_FOLDS, MIN_FOLDS = 5, 3
MAX_ROUNDS = 5  # 25 paired trials with 5 folds: beyond that, a difference too small to matter
MIN_ROUNDS = 2  # the minimum design: baseline and one alternative, every fold twice
MIN_CANDIDATES = 2  # the baseline and at least one alternative: one loss alone decides nothing
BREADTH_ROUNDS = MAX_ROUNDS  # another candidate joins only once the first has every round
EPOCH_CAP = 100
LOW_EPOCH_CAPS = (40, 25, 15, 10)  # only when even the smallest design does not fit
# Row samples come from this ladder (a discrete choice keeps plans stable).
ROW_LADDER = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
HIDDEN_UNITS = (64, 32)
SAFETY_FACTOR = 3.0  # the run is stopped at this multiple of the budget (plus a minute)
SAFETY_SLACK_SECONDS = 60.0

# The cost model, measured on the reference machine (2 cores, Keras 3 on TensorFlow, CPU):
STARTUP_SECONDS = 4.0  # importing TensorFlow and Keras
TRACE_SECONDS = 0.8  # tracing a candidate's train and predict functions, once per process
WORKER_START_SECONDS = 6.0  # a parallel worker process importing TensorFlow
TRIAL_FIXED_SECONDS = 0.1  # fresh initial weights, optimizer reset, two predictions, scoring
EPOCH_FIXED_SECONDS = 0.01  # callbacks and the validation pass's fixed part
STEP_FIXED_SECONDS = 0.0025  # one optimizer step of a small network
SECONDS_PER_PARAM_ROW = 1.5e-10  # forward and backward pass, per row and weight
EXPECTED_EPOCHS = 20  # early stopping with patience 10 ends most tabular trials near here (measured: 13–27)
USABLE_SHARE = 0.9  # of the modelled time: the rest is slack for scoring and reports


@dataclass(frozen=True)
class Plan(Record):
    folds: int
    rounds: int  # most rounds (seeds) the run may take; the verdict's looks follow from it
    looks: int  # rounds at which "better" may be claimed (see advisor.validation.verdict)
    max_epochs: int
    patience: int
    batch_size: int
    rows: int
    rows_total: int
    candidates: tuple[str, ...]  # trialled in the first round, ranked; the baseline among them
    baseline: str
    params: int  # weights of the trial network (the cost model's size)
    trial_seconds_estimate: float
    estimated_seconds: float  # the whole plan, every round, by the cost model
    minimum_budget_seconds: float  # what the minimum design would need on all rows
    cuts: tuple[str, ...]
    schedule: tuple[tuple[str, ...], ...] = ()  # candidates trialled at each seed round that ran

    def trialled(self) -> tuple[str, ...]:
        """Every candidate some round trialled, first round first, then as they joined."""
        seen = dict.fromkeys(self.candidates)
        for live in self.schedule:
            seen.update(dict.fromkeys(live))
        return tuple(seen)

    def broadened(self) -> tuple[str, ...]:
        """The candidates the budget left over trialled once a change was decided (the only
        way a candidate outside the first round joins the schedule; see the validator)."""
        return self.trialled()[len(self.candidates):]


def mlp_params(n_features: int, n_outputs: int, hidden: tuple[int, ...] = HIDDEN_UNITS) -> int:
    """Weights of the trial MLP (or of the linear model, with ``hidden=()``)."""
    sizes = (n_features, *hidden, n_outputs)
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def train_rows_of(rows: int, folds: int) -> int:
    """Rows a trial fits on: the fold's training part less the early-stopping split."""
    return int(rows * (folds - 1) / folds * (1 - VALIDATION_FRACTION))


def trial_seconds(train_rows: int, params: int, epochs: float, batch_size: int | None = None) -> float:
    """Modelled seconds of one trial that runs ``epochs`` epochs."""
    batch = batch_size or batch_size_for(train_rows)
    steps = math.ceil(train_rows / batch)
    val_rows = train_rows * VALIDATION_FRACTION / (1 - VALIDATION_FRACTION)
    step = STEP_FIXED_SECONDS + batch * params * SECONDS_PER_PARAM_ROW
    epoch = EPOCH_FIXED_SECONDS + steps * step + val_rows * params * SECONDS_PER_PARAM_ROW / 3
    return TRIAL_FIXED_SECONDS + epochs * epoch


def available_seconds(budget_seconds: float, n_candidates: int, jobs: int, folds: int) -> float:
    """What the trials may spend: the budget less start-up and tracing, by the model."""
    workers = WORKER_START_SECONDS if jobs > 1 else 0.0
    tracing = n_candidates * min(jobs, folds) * TRACE_SECONDS / jobs
    return (budget_seconds - STARTUP_SECONDS - workers - tracing) * USABLE_SHARE


def round_seconds(n_candidates: int, folds: int, per_trial: float, jobs: int) -> float:
    return math.ceil(n_candidates * folds / jobs) * per_trial


@dataclass(frozen=True)
class _Costs:
    """The cost model of one planning problem: what a design of ``k`` candidates × ``rounds``
    costs at a given row count, fold count and epoch cap, and whether it fits the budget."""

    params: int
    jobs: int
    budget_seconds: float
    k_min: int
    minimum_rounds: int

    def per_trial(self, rows: int, epochs: int, folds: int) -> float:
        return trial_seconds(train_rows_of(rows, folds), self.params, min(EXPECTED_EPOCHS, epochs))

    def design(self, k: int, rounds: int, rows: int, epochs: int, folds: int) -> float:
        """Seconds of a first round of ``k`` candidates, then ``rounds - 1`` of the ``k_min``."""
        cost = self.per_trial(rows, epochs, folds)
        return (round_seconds(k, folds, cost, self.jobs)
                + (rounds - 1) * round_seconds(self.k_min, folds, cost, self.jobs))

    def fits(self, k: int, rounds: int, rows: int, epochs: int, folds: int) -> bool:
        return self.design(k, rounds, rows, epochs, folds) <= \
            available_seconds(self.budget_seconds, k, self.jobs, folds)


def plan_trials(rows_total: int, candidate_ids: tuple[str, ...], baseline: str, params: int,
                budget_seconds: float, jobs: int = 1, folds_possible: int = MAX_FOLDS) -> Plan:
    """The plan for ranked ``candidate_ids`` (the baseline among them) within the budget, for a
    trial network of ``params`` weights. Pure and deterministic."""
    if baseline not in candidate_ids:
        raise ValueError(f"the baseline {baseline!r} must be among the candidates")
    k_min = min(MIN_CANDIDATES, len(candidate_ids))
    costs = _Costs(params, jobs, budget_seconds, k_min, MIN_ROUNDS if k_min > 1 else 1)
    rows, folds, epochs = _cheapest_fit(costs, rows_total, min(MAX_FOLDS, folds_possible),
                                        folds_possible)
    # Depth before breadth: another alternative only while the baseline and the best one can
    # still have ``BREADTH_ROUNDS`` rounds — each alternative also splits the error allowance.
    k = k_min
    while k < len(candidate_ids) and costs.fits(k + 1, BREADTH_ROUNDS, rows, epochs, folds):
        k += 1
    cost = costs.per_trial(rows, epochs, folds)
    room = (available_seconds(budget_seconds, k, jobs, folds)
            - round_seconds(k, folds, cost, jobs))
    extra = int(room // round_seconds(k_min, folds, cost, jobs)) if room > 0 else 0
    rounds = max(1, min(MAX_ROUNDS, 1 + extra)) if k_min > 1 else 1
    alternatives = [c for c in candidate_ids if c != baseline]
    kept = [baseline] + alternatives[:k - 1]
    ranked = tuple(c for c in candidate_ids if c in kept)
    minimum_budget = (costs.design(k_min, costs.minimum_rounds, rows_total, EPOCH_CAP,
                                   min(MAX_FOLDS, folds_possible)) / USABLE_SHARE
                      + STARTUP_SECONDS + k_min * TRACE_SECONDS
                      + (WORKER_START_SECONDS if jobs > 1 else 0.0))
    return Plan(
        folds=folds, rounds=rounds, looks=looks_for(rounds), max_epochs=epochs,
        patience=PATIENCE, batch_size=batch_size_for(train_rows_of(rows, folds)), rows=rows,
        rows_total=rows_total, candidates=ranked, baseline=baseline, params=params,
        trial_seconds_estimate=round(cost, 2),
        estimated_seconds=round(costs.design(k, rounds, rows, epochs, folds) / USABLE_SHARE
                                + STARTUP_SECONDS + k * TRACE_SECONDS, 1),
        minimum_budget_seconds=float(math.ceil(minimum_budget)),
        cuts=_cut_notes(rows_total, rows, min(MAX_FOLDS, folds_possible), folds, epochs,
                        candidate_ids, ranked, rounds),
    )


def _cheapest_fit(costs: _Costs, rows_total: int, folds: int,
                  folds_possible: int) -> tuple[int, int, int]:
    """Rows, folds and epoch cap for the smallest design (one round of the baseline and one
    alternative), cutting the cheapest evidence first: a row sample, then fewer folds (each
    costs a degree of freedom of the blocked comparison), then a short epoch cap (undertrained
    models compare poorly); then the rows those cuts made room for, back."""
    rows, epochs, k_min = rows_total, EPOCH_CAP, costs.k_min
    for size in sorted((r for r in ROW_LADDER if r < rows_total), reverse=True):
        if costs.fits(k_min, 1, rows, epochs, folds):
            break
        rows = size
    while not costs.fits(k_min, 1, rows, epochs, folds) and folds > min(MIN_FOLDS, folds_possible):
        folds -= 1
    for cap in LOW_EPOCH_CAPS:
        if costs.fits(k_min, 1, rows, epochs, folds):
            break
        epochs = cap
    # A trial's cost grows slowly with rows (batches grow), so rows often come back.
    larger = [rows_total] + sorted((r for r in ROW_LADDER if rows < r < rows_total), reverse=True)
    if rows < rows_total:
        rows = next((r for r in larger if costs.fits(k_min, costs.minimum_rounds, r, epochs, folds)),
                    rows)
    return rows, folds, epochs


def _cut_notes(rows_total: int, rows: int, folds_full: int, folds: int, epochs: int,
               candidate_ids: tuple[str, ...], ranked: tuple[str, ...], rounds: int
               ) -> tuple[str, ...]:
    """What the budget cut from the full design, one note per cut."""
    cuts = []
    if rows < rows_total:
        cuts.append(f"rows {rows_total:,} → {rows:,} (stratified sample)")
    if folds < folds_full:
        cuts.append(f"folds {folds_full} → {folds}")
    if epochs != EPOCH_CAP:
        cuts.append(f"epoch cap {EPOCH_CAP} → {epochs} (early stopping, patience {PATIENCE})")
    if len(ranked) < len(candidate_ids):
        cuts.append(candidates_cut(candidate_ids, ranked))
    if rounds < MAX_ROUNDS:
        cuts.append(f"rounds {MAX_ROUNDS} → {rounds}")
    return tuple(cuts)


def candidates_cut(candidate_ids: tuple[str, ...], trialled: tuple[str, ...]) -> str:
    left = ", ".join(c for c in candidate_ids if c not in trialled)
    return f"candidates {len(candidate_ids)} → {len(trialled)} (not trialled: {left})"


def next_round_fits(plan: Plan, spent_epochs: list[int], next_round: int, budget_seconds: float,
                    jobs: int) -> bool:
    """Whether another round of ``next_round`` candidates fits, by the model, given the epochs the
    finished trials actually ran (deterministic: trials are seeded) and the next round's
    expected epochs (the mean so far)."""
    train_rows = train_rows_of(plan.rows, plan.folds)
    spent = sum(trial_seconds(train_rows, plan.params, e, plan.batch_size)
                for e in spent_epochs) / jobs
    mean_epochs = sum(spent_epochs) / len(spent_epochs) if spent_epochs else EXPECTED_EPOCHS
    per_trial = trial_seconds(train_rows, plan.params, mean_epochs, plan.batch_size)
    need = round_seconds(next_round, plan.folds, per_trial, jobs)
    left = available_seconds(budget_seconds, len(plan.candidates), jobs, plan.folds) - spent
    return need <= left


def safety_seconds(budget_seconds: float) -> float:
    return SAFETY_FACTOR * budget_seconds + SAFETY_SLACK_SECONDS
