"""The validator: budgeted, seeded Keras trials that decide whether another loss beats the baseline.

The candidates — the task's baseline loss and the rules' best alternatives — train on the same
preprocessed data, the same model, the same folds and the same seeds, with early stopping on an
inner validation split, and are scored on a metric that fits the task and domain, never on the
loss itself. The plan (:mod:`advisor.validation.budget`) comes from a cost model, not the clock, so the
same input, options and seed run the same trials. Trials come in rounds (every fold, one more
seed); after each round the decision rule (:mod:`advisor.validation.verdict`) retires alternatives that
are settled and stops once the verdict is decided. The English is rendered from the verdict
record by :mod:`advisor.validation.explain`.

Trials run through an executor (:mod:`advisor.validation.executors`): joblib here (``--jobs``), or
a Dask cluster (``--scheduler``). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from advisor.base.cache import memory
from advisor.base.errors import AdvisorError
from advisor.base.records import Record
from advisor.criteria.metrics import METRICS, metric_context
from advisor.criteria.statement import Criteria
from advisor.profiling.profiler import DatasetProfile
from advisor.rules.engine import Candidate
from advisor.validation.budget import (
    MAX_FOLDS,
    Plan,
    candidates_cut,
    mlp_params,
    next_round_fits,
    plan_trials,
    safety_seconds,
)
from advisor.validation.prepare import FeatureUse
from advisor.validation.verdict import (
    BETTER,
    EQUIVALENT,
    OPEN,
    WORSE,
    Comparison,
    Design,
    Scores,
    Verdict,
    blocked_interval,
    decide,
    is_look,
    stops,
)

SEED_STRIDE = 1009  # trial seeds of one run: seed, seed + 1009, … (never another run's seeds)
PILOT_ROW_CAP = 200_000  # rows kept before folds are fitted, for tables beyond any budget
MEMORY_PER_TABLE_COPY = 8.0  # copies of a row the trials hold at once, for --memory-limit-mb
LEVEL = 0.95  # of each candidate's own score interval
# What the trials measured of a loss the user's statement chose, in the verdict's words.
STATED_STATUS = {BETTER: "improved", WORSE: "baseline-best", EQUIVALENT: "tied", OPEN: "tied"}


@dataclass(frozen=True)
class CandidateResult(Record):
    id: str
    loss: str
    title: str
    # recommended | baseline | better | worse | tied | equivalent (than the baseline) |
    # diverged | failed | not trialled
    status: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n_trials: int
    seconds: float
    diverged: bool
    diverged_epoch: int | None
    error: str | None
    diff_mean: float | None  # vs the baseline, positive = better than the baseline
    diff_ci_low: float | None
    diff_ci_high: float | None
    scores: tuple[float | None, ...]  # one per trial, in (seed, fold) order
    folds: tuple[int, ...]
    seeds: tuple[int, ...]
    epochs: tuple[int, ...]
    curves: tuple[tuple[float, ...], ...]  # validation loss per epoch, first seed, each fold


@dataclass(frozen=True)
class Validation(Record):
    metric: str
    metric_title: str
    greater_is_better: bool
    metric_reason: str
    # improved | tied | baseline-best | inconclusive | baseline-failed | skipped
    status: str
    baseline: str | None
    pick: str | None  # the rules' first choice
    recommended: str | None
    decided_by: str  # trials | statement (the user's costs or quantile) | rules (not validated)
    vs_baseline: Comparison | None
    level: float | None  # two-sided level of the comparisons' intervals
    margin: float | None  # ± this much of the metric counts as equivalent
    verdict: str
    candidates: tuple[CandidateResult, ...]
    plan: Plan | None
    seconds: float
    budget_seconds: float
    model: str
    left_out_features: tuple[str, ...]
    warnings: tuple[str, ...]
    features: tuple[FeatureUse, ...] = ()  # every feature column and what the trials did with it
    executor: str = "local"


def skipped_validation(criteria: Criteria, pick: str | None = None, baseline: str | None = None,
                       decided_by: str = "rules") -> Validation:
    from advisor.validation.explain import verdict_text

    metric = METRICS[criteria.metric]
    validation = Validation(
        metric=metric.name, metric_title=metric.title, greater_is_better=metric.greater_is_better,
        metric_reason=criteria.metric_reason or "", status="skipped", baseline=baseline,
        pick=pick, recommended=pick, decided_by=decided_by, vs_baseline=None, level=None,
        margin=None, verdict="", candidates=(), plan=None, seconds=0.0,
        budget_seconds=criteria.budget_seconds, model=criteria.model, left_out_features=(),
        warnings=(),
    )
    return validation.replace(verdict=verdict_text(validation, {}))


def validate(frame: pd.DataFrame, profile: DatasetProfile, criteria: Criteria,
             candidates: tuple[Candidate, ...] | list[Candidate], *, baseline: str,
             seed: int = 0, cache: bool | str | os.PathLike = True,
             model_fn: Callable | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             started: float | None = None, stated: str | None = None,
             replay: Plan | None = None, scheduler: str | None = None) -> Validation:
    """Trial ``candidates`` (ranked; ``baseline`` is the id of the task's baseline among them).

    ``stated``: the id of a candidate the user's own statement requires (costs, a quantile); it
    is recommended whatever the trials say, and the trials still say how it compares.
    ``replay``: a saved plan to run exactly (its rows, folds, epochs and schedule).
    ``scheduler``: the address of a Dask scheduler whose workers run the trials (the plan and
    the scores stay the same; ``criteria.jobs`` is still what the plan counts on at once).
    The budget counts from ``started`` (default: now), so a caller that imported TensorFlow for
    the validation can count that too.
    """
    started = time.time() if started is None else started
    safety_deadline = started + safety_seconds(criteria.budget_seconds)
    candidates = tuple(candidates)
    by_id = {c.id: c for c in candidates}
    if baseline not in by_id:
        raise ValueError(f"the baseline {baseline!r} is not among the candidates")
    metric = METRICS[criteria.metric]
    jobs = max(1, criteria.jobs)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    store = memory(cache)
    warnings: list[str] = []
    if criteria.model in ("cnn", "rnn", "transformer") and model_fn is None:
        warnings.append(f"Trials trained an MLP in place of the {criteria.model} (a table has no "
                        "sequence or grid); pass model_fn to trial your own architecture.")
    from advisor.validation.executors import open_executor

    with open_executor(scheduler, jobs=jobs, threads=threads,
                       cache_dir=store.location if store is not None else None) as executor:
        warnings.extend(executor.warnings)
        setup = _setup(frame, profile, criteria, by_id, baseline, seed, model_fn, replay,
                       warnings, executor)
        settings = _settings(criteria, metric, setup.plan)
        model_key = _model_fn_key(model_fn)
        plan = setup.plan
        design = Design(folds=len(setup.folds), alternatives=len(plan.candidates) - 1,
                        looks=plan.looks,
                        favoured=next((c for c in plan.candidates if c != baseline), None))
        run = _Rounds(by_id, profile, setup.folds, settings, model_key, model_fn, executor,
                      jobs, metric.greater_is_better, baseline, design, safety_deadline)
        bar = _Progress(progress, len(plan.candidates) * len(setup.folds))
        if replay is not None:
            for round_index, live in enumerate(replay.schedule):
                run.round(round_index, seed, live, bar)
        else:
            run.adaptive(plan, seed, criteria.budget_seconds, bar)
    plan = _ran(plan, tuple(by_id), run.schedule)
    if run.cut:
        warnings.append(f"{run.cut} trial(s) were stopped by the safety limit "
                        f"({safety_seconds(criteria.budget_seconds):g} s, far past the "
                        f"{criteria.budget_seconds:g} s budget) and left out: this machine is much "
                        "slower than the cost model assumes, and the result depends on timing.")
    validation = _validation(criteria, metric, candidates, run, run.verdict(), plan, stated,
                             started, model_key or settings.architecture, setup.left_out,
                             warnings)
    return validation.replace(features=setup.features, executor=executor.name)


@dataclass(frozen=True)
class _Setup:
    """What the trials run on: the plan, its folds, and what became of each feature."""

    plan: Plan
    folds: list
    features: tuple[FeatureUse, ...]
    left_out: tuple[str, ...]


def _setup(frame, profile, criteria, by_id, baseline, seed, model_fn, replay,
           warnings: list[str], executor) -> _Setup:
    """Prepare the table, plan the trials (or take the replayed plan) and cut the folds it needs."""
    from advisor.validation.prepare import (
        describe_features,
        fold_data,
        make_folds,
        prepare,
        stratified_sample,
    )

    prepared = prepare(frame, profile)
    cuts: list[str] = []
    cap, why = row_cap(profile, criteria)
    if prepared.n_rows > cap:
        cuts.append(f"rows {prepared.n_rows:,} → {cap:,} before planning ({why}; stratified sample)")
        prepared = stratified_sample(prepared, cap, seed)
    splits, note = make_folds(prepared, MAX_FOLDS, seed)
    if note:
        warnings.append(f"Validation folds: {note}.")
    first, transformer = fold_data(prepared, *splits[0], 0, seed, return_transformer=True)
    if replay is not None:
        _check_replay(replay, by_id, prepared.n_rows)
        plan = replay
    else:
        params = _params(first.n_features, by_id[baseline], criteria, model_fn, executor)
        plan = plan_trials(prepared.n_rows, tuple(by_id), baseline, params,
                           criteria.budget_seconds, max(1, criteria.jobs),
                           folds_possible=len(splits))
        plan = plan.replace(cuts=tuple(cuts) + plan.cuts, rows_total=profile.n_rows)
    resample = plan.rows < prepared.n_rows
    if resample:
        prepared = stratified_sample(prepared, plan.rows, seed)
    if resample or plan.folds != len(splits):
        splits, _ = make_folds(prepared, plan.folds, seed)
        first, transformer = fold_data(prepared, *splits[0], 0, seed, return_transformer=True)
    folds = [first] + [fold_data(prepared, train, test, i, seed)
                       for i, (train, test) in enumerate(splits) if i > 0]
    return _Setup(plan, folds, describe_features(prepared, profile, transformer),
                  prepared.left_out)


class _Rounds:
    """The trials of one validation, a round at a time, and the scores they produced."""

    def __init__(self, by_id, profile, folds, settings, model_key, model_fn, executor, jobs,
                 greater, baseline, design, deadline):
        self.by_id, self.profile, self.folds = by_id, profile, folds
        self.settings, self.model_key, self.model_fn = settings, model_key, model_fn
        self.executor, self.jobs = executor, jobs
        self.greater, self.baseline, self.design, self.deadline = greater, baseline, design, deadline
        self.results: list = []
        self.schedule: list[tuple[str, ...]] = []

    @property
    def cut(self) -> int:
        return sum(r.cut for r in self.results)

    def round(self, index: int, seed: int, live, bar) -> None:
        """Every fold of seed round ``index`` for the ``live`` candidates (a candidate joining a
        round that already ran pairs with the trials it ran: same folds, same seed)."""
        trial_seed = seed + SEED_STRIDE * index
        batch = [(_job(self.by_id[cid], self.profile, f.fold, trial_seed, self.settings,
                       self.model_key), f) for f in self.folds for cid in live]
        self.results.extend(self.executor.run(batch, self.deadline, self.model_fn, bar))
        if index < len(self.schedule):
            self.schedule[index] += tuple(c for c in live if c not in self.schedule[index])
        else:
            self.schedule.append(tuple(live))

    def adaptive(self, plan: Plan, seed: int, budget_seconds: float, bar) -> None:
        """Rounds while the verdict is open and the plan affords them; then, if they decided a
        change, breadth with what the budget left."""
        self._rounds(plan, seed, budget_seconds, bar)
        verdict = self.verdict()
        if verdict.status == "improved" and verdict.decided:
            self._broaden(plan, seed, budget_seconds, bar)

    def _broaden(self, plan: Plan, seed: int, budget_seconds: float, bar) -> None:
        """The rules' next candidates, each on the seed rounds the baseline ran, while the cost
        model says the budget affords a round, until each is settled.

        Runs only once a change is decided: the claim "a non-baseline loss is better" is made,
        so these comparisons spend none of the verdict's error allowance — they can only put a
        loss that beats the baseline by more in place of the one that beat it first (the
        verdict recommends the largest improvement among those better beyond noise). Without
        this, a decided change left the rest of the budget unspent and the rules' third choice
        untried however good it was."""
        rounds = len(self.schedule)
        for cid in (c for c in self.by_id if c not in plan.candidates):
            for index in range(rounds):
                if time.time() >= self.deadline or not next_round_fits(
                        plan, [r.epochs for r in self.results], 1, budget_seconds, self.jobs):
                    return
                bar.resize(bar.total + len(self.folds))
                self.round(index, seed, [cid], bar)
                outcome = next((c.outcome for c in self.verdict().comparisons if c.loss == cid),
                               OPEN)
                if outcome != OPEN:
                    break

    def _rounds(self, plan: Plan, seed: int, budget_seconds: float, bar) -> None:
        live = list(plan.candidates)
        for index in range(plan.rounds):
            self.round(index, seed, live, bar)
            verdict = self.verdict()
            if stops(verdict, index + 1, plan.rounds):
                return
            going = (OPEN,) if is_look(index + 1, plan.rounds) else (OPEN, BETTER)
            keep = {c.loss for c in verdict.comparisons if c.outcome in going}
            live = [c for c in live if c == self.baseline or c in keep]
            if len(live) < 2 or time.time() >= self.deadline:
                return
            if not next_round_fits(plan, [r.epochs for r in self.results], len(live),
                                   budget_seconds, self.jobs):
                return
            bar.resize(bar.total + len(live) * len(self.folds))

    def scores(self) -> dict[str, Scores]:
        """Every trialled candidate's finished scores (empty for one that never scored)."""
        out: dict[str, Scores] = {}
        for r in self.results:
            scores = out.setdefault(r.candidate_id, {})
            if r.score is not None:
                scores[(r.fold, r.seed)] = r.score
        return {cid: out[cid] for cid in self.by_id if cid in out}  # in the candidates' order

    def broken(self) -> dict[str, str]:
        """Candidates that diverged or failed: why, in a few words."""
        out: dict[str, str] = {}
        for r in self.results:
            if r.diverged_epoch is not None:
                out.setdefault(r.candidate_id, f"diverged at epoch {r.diverged_epoch}")
            elif r.error:
                out.setdefault(r.candidate_id, f"failed ({r.error})")
        return out

    def verdict(self) -> Verdict:
        return decide(self.scores(), self.baseline, self.greater, self.design,
                      frozenset(self.broken()))


def _ran(plan: Plan, candidate_ids: tuple[str, ...], schedule: list) -> Plan:
    """The plan with the schedule that ran, its note on untrialled candidates (the one
    :func:`plan_trials` wrote for the first round) made true."""
    planned = candidates_cut(candidate_ids, plan.candidates)
    plan = plan.replace(schedule=tuple(schedule))
    trialled = plan.trialled()
    note = candidates_cut(candidate_ids, trialled) if len(trialled) < len(candidate_ids) else None
    cuts = (note if c == planned else c for c in plan.cuts)
    return plan.replace(cuts=tuple(c for c in cuts if c is not None))


def _validation(criteria, metric, candidates, run: _Rounds, verdict: Verdict, plan, stated,
                started, model, left_out, warnings) -> Validation:
    from advisor.validation.explain import verdict_text

    status, recommended, vs_baseline = verdict.status, verdict.recommended, verdict.vs_baseline
    decided_by = "trials"
    if stated is not None and stated != verdict.baseline:
        # The user's statement picks the loss; the status says what the trials measured of it.
        recommended, decided_by = stated, "statement"
        vs_baseline = next((c for c in verdict.comparisons if c.loss == stated), None)
        if verdict.status != "baseline-failed":
            status = STATED_STATUS[vs_baseline.outcome] if vs_baseline and vs_baseline.n_trials \
                else "inconclusive"
    results = _candidate_results(candidates, run, verdict, recommended)
    validation = Validation(
        metric=metric.name, metric_title=metric.title, greater_is_better=metric.greater_is_better,
        metric_reason=criteria.metric_reason or "", status=status,
        baseline=verdict.baseline, pick=candidates[0].id, recommended=recommended,
        decided_by=decided_by, vs_baseline=vs_baseline, level=verdict.level,
        margin=verdict.margin, verdict="", candidates=results, plan=plan,
        seconds=round(time.time() - started, 2), budget_seconds=criteria.budget_seconds,
        model=model, left_out_features=left_out, warnings=tuple(warnings),
    )
    return validation.replace(verdict=verdict_text(validation, run.broken()))


def _candidate_results(candidates, run: _Rounds, verdict: Verdict, recommended: str):
    scores = run.scores()
    broken = run.broken()
    comparisons = {c.loss: c for c in verdict.comparisons}
    outcome_status = {BETTER: "better", WORSE: "worse", EQUIVALENT: "equivalent", OPEN: "tied"}
    out = []
    for c in candidates:
        rows = [r for r in run.results if r.candidate_id == c.id]
        values = scores.get(c.id, {})
        interval = blocked_interval(values, LEVEL)
        comparison = comparisons.get(c.id)
        if not rows:
            state = "not trialled"
        elif c.id in broken:
            state = "diverged" if broken[c.id].startswith("diverged") else "failed"
        elif c.id == recommended:
            state = "recommended"
        elif c.id == verdict.baseline:
            state = "baseline"
        elif comparison is not None:
            state = outcome_status[comparison.outcome]
        else:
            state = "tied"
        first_seed = min((r.seed for r in rows), default=None)
        diverged_epoch = next((r.diverged_epoch for r in rows if r.diverged_epoch is not None), None)
        out.append(CandidateResult(
            id=c.id, loss=c.loss, title=c.title, status=state,
            mean=interval.mean if values else None, ci_low=interval.low, ci_high=interval.high,
            n_trials=len(values), seconds=round(sum(r.seconds for r in rows), 2),
            diverged=diverged_epoch is not None, diverged_epoch=diverged_epoch,
            error=next((r.error for r in rows if r.error), None),
            diff_mean=comparison.diff_mean if comparison else None,
            diff_ci_low=comparison.ci_low if comparison else None,
            diff_ci_high=comparison.ci_high if comparison else None,
            scores=tuple(r.score for r in rows), folds=tuple(r.fold for r in rows),
            seeds=tuple(r.seed for r in rows), epochs=tuple(r.epochs for r in rows),
            curves=tuple(r.val_loss for r in rows if r.seed == first_seed),
        ))
    return tuple(out)


def _settings(criteria: Criteria, metric, plan: Plan):
    from advisor.validation.trials import Settings

    return Settings(
        architecture="linear" if criteria.model == "linear" else "mlp",
        max_epochs=plan.max_epochs, batch_size=plan.batch_size, patience=plan.patience,
        metric=metric.name,
        metric_context=tuple(sorted(metric_context(metric.name, criteria).items())),
    )


def _params(n_features: int, baseline: Candidate, criteria: Criteria,
            model_fn: Callable | None, executor) -> int:
    """Weights of the trial network: the cost model's measure of its size (a user's model is
    built where the trials run, so a cluster run imports no Keras here)."""
    if model_fn is None:
        hidden = () if criteria.model == "linear" else (64, 32)
        return mlp_params(n_features, baseline.head.units, hidden)
    from advisor.validation.trials import model_params

    return int(executor.call(model_params, n_features, baseline.head, model_fn))


def _check_replay(plan: Plan, by_id: dict, rows: int) -> None:
    missing = sorted({c for live in plan.schedule for c in live} - set(by_id))
    if not plan.schedule:
        raise AdvisorError("The saved plan has no schedule of rounds: it comes from a run "
                           "without validation. Pass the JSON of a validated run to --plan.")
    if missing:
        raise AdvisorError(f"The saved plan trials {', '.join(missing)}, which this run's rules "
                           "do not propose: replay it with the same options and rules files.")
    if plan.rows > rows:
        raise AdvisorError(f"The saved plan uses {plan.rows:,} rows but this table has {rows:,}: "
                           "replay a plan on the table it was made for.")


def row_cap(profile: DatasetProfile, criteria: Criteria) -> tuple[int, str]:
    """Most rows the trials may hold: a fixed ceiling, lowered by ``--memory-limit-mb``."""
    if not profile.n_rows_total:
        return PILOT_ROW_CAP, "the ceiling for any budget"
    return rows_within(profile.memory_mb / profile.n_rows_total, criteria.memory_limit_mb)


def rows_within(mb_per_row: float, memory_limit_mb: float | None) -> tuple[int, str]:
    """Most rows of ``mb_per_row`` in memory the trials may hold under ``memory_limit_mb``, and
    why. Trials hold the table's features several times over (the frame, each fold's float32
    arrays, worker copies); MEMORY_PER_TABLE_COPY of the in-memory row is the allowance."""
    if not memory_limit_mb:
        return PILOT_ROW_CAP, "the ceiling for any budget"
    fitting = int(memory_limit_mb / (max(mb_per_row, 1e-9) * MEMORY_PER_TABLE_COPY))
    if fitting >= PILOT_ROW_CAP:
        return PILOT_ROW_CAP, "the ceiling for any budget"
    return max(fitting, 100), f"--memory-limit-mb {memory_limit_mb:g}"


def _job(candidate: Candidate, profile: DatasetProfile, fold: int, seed: int, settings,
         model_key: str | None):
    from advisor.validation.trials import trial_job

    return trial_job(candidate, fold=fold, seed=seed, settings=settings,
                     candidate_id=candidate.id, model_fn_key=model_key)


def _model_fn_key(model_fn: Callable | None) -> str | None:
    if model_fn is None:
        return None
    import hashlib
    import inspect

    try:
        source = inspect.getsource(model_fn)
    except (OSError, TypeError):
        source = repr(model_fn)
    name = getattr(model_fn, "__qualname__", type(model_fn).__name__)
    return f"model_fn:{name}:{hashlib.sha256(source.encode()).hexdigest()[:12]}"


class _Progress:
    """Counts finished trials and reports ``progress("trials", done, total)`` when asked to."""

    def __init__(self, report: Callable[[str, int, int], None] | None, total: int):
        self.report = report
        self.total, self.done = total, 0
        self._tell()

    def resize(self, total: int) -> None:
        self.total = total
        self._tell()

    def step(self) -> None:
        self.done += 1
        self._tell()

    def _tell(self) -> None:
        if self.report is not None:
            self.report("trials", self.done, self.total)
