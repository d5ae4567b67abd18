"""The validator: budgeted, seeded Keras trials that confirm, overturn or tie the rules' pick.

The top candidates train on the same preprocessed data, the same model, the same folds and the
same seeds, with early stopping on an inner validation split, and are scored on a metric that
fits the task and domain — never on the loss itself. A pilot times the first epochs; the budget
then decides folds, epochs, rows and seeds (:mod:`advisor.budget`). Paired, corrected intervals
(:mod:`advisor.compare`) decide the verdict:

- ``confirmed``: nobody beats the rules' pick beyond noise. A simpler loss shown equivalent to
  the pick (within ±2% of the score) is recommended instead ("tied — keep the simpler loss");
  candidates the trials cannot separate from the pick, but cannot show equivalent either, leave
  the rules' pick standing. The verdict says which.
- ``overturned``: another candidate is better beyond noise; the verdict says by how much.
- ``inconclusive``: too few trials finished to tell; the rules' pick stands.

Trials run through joblib, so a ``joblib.parallel_backend("dask")`` context sends them to a Dask
cluster unchanged. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from advisor.budget import Plan, batch_size_for, plan_trials, seeds_affordable
from advisor.cache import memory
from advisor.catalog import DEFAULT_LOSSES
from advisor.compare import (MIN_TRIALS, Interval, better_beyond_noise, corrected_interval,
                             equivalence_margin, equivalent, paired_difference, worse_beyond_noise)
from advisor.criteria import Criteria
from advisor.errors import AdvisorError
from advisor.metrics import METRICS, metric_context
from advisor.profiler import DatasetProfile
from advisor.records import Record
from advisor.rules import Candidate

SEED_STRIDE = 1009  # trial seeds of one run: seed, seed + 1009, … (never another run's seeds)
PILOT_ROW_CAP = 200_000  # rows kept before folds are fitted, for tables beyond any budget
MEMORY_PER_TABLE_COPY = 8.0  # copies of a row the trials hold at once, for --memory-limit-mb


@dataclass(frozen=True)
class CandidateResult(Record):
    id: str
    loss: str
    title: str
    # recommended | pick (the rules' pick, when not recommended) | better | tied | worse (than the
    # pick, beyond noise or not) | dropped (hopeless after round 1) | diverged | failed | not trialled
    status: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n_trials: int
    seconds: float
    diverged: bool
    diverged_epoch: int | None
    error: str | None
    diff_mean: float | None  # vs the rules' pick, positive = better than the pick
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
    status: str  # confirmed | overturned | inconclusive | skipped
    pick: str | None
    winner: str | None
    verdict: str
    candidates: tuple[CandidateResult, ...]
    plan: Plan | None
    seconds: float
    budget_seconds: float
    model: str
    left_out_features: tuple[str, ...]
    warnings: tuple[str, ...]


def skipped_validation(criteria: Criteria) -> Validation:
    metric = METRICS[criteria.metric]
    return Validation(
        metric=metric.name, metric_title=metric.title, greater_is_better=metric.greater_is_better,
        metric_reason=criteria.metric_reason or "", status="skipped", pick=None, winner=None,
        verdict="", candidates=(), plan=None, seconds=0.0, budget_seconds=criteria.budget_seconds,
        model=criteria.model, left_out_features=(), warnings=(),
    )


def validate(frame: pd.DataFrame, profile: DatasetProfile, criteria: Criteria,
             candidates: tuple[Candidate, ...] | list[Candidate], *, seed: int = 0,
             cache: bool | str | os.PathLike = True, model_fn: Callable | None = None,
             progress: bool = False, started: float | None = None) -> Validation:
    """Trial ``candidates`` (ranked, the first is the rules' pick) within the time budget.

    The budget counts from ``started`` (default: now), so a caller that imported TensorFlow for
    the validation can count that too.
    """
    from advisor.prepare import fold_data, make_folds, prepare, stratified_sample
    from advisor.trials import Settings, time_training

    started = time.time() if started is None else started
    deadline = started + criteria.budget_seconds
    candidates = tuple(candidates)
    metric = METRICS[criteria.metric]
    jobs = max(1, criteria.jobs)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    store = memory(cache)
    cache_dir = store.location if store is not None else None
    warnings: list[str] = []
    if criteria.model in ("cnn", "rnn", "transformer") and model_fn is None:
        warnings.append(f"Trials trained an MLP in place of the {criteria.model} (a table has no "
                        "sequence or grid); pass model_fn to trial your own architecture.")
    prepared = prepare(frame, profile)
    cuts: list[str] = []
    cap, why = row_cap(profile, criteria)
    if prepared.n_rows > cap:
        cuts.append(f"rows {prepared.n_rows:,} → {cap:,} before timing ({why}; stratified sample)")
        prepared = stratified_sample(prepared, cap, seed)
    splits, note = make_folds(prepared, 5, seed)
    if note:
        warnings.append(f"Validation folds: {note}.")
    first = fold_data(prepared, *splits[0], 0, seed)
    settings = Settings(
        architecture="linear" if criteria.model == "linear" else "mlp", max_epochs=100,
        batch_size=batch_size_for(len(first.x_train)), patience=10, metric=metric.name,
        metric_context=tuple(sorted(metric_context(metric.name, criteria).items())),
    )
    model_key = _model_fn_key(model_fn)
    # The pilot is cached like the trials, so an identical re-run makes the identical plan.
    timer = store.cache(time_training, ignore=["data", "model_fn"]) if store else time_training
    timing = None
    for candidate in candidates:  # a candidate that cannot train cannot time either: next one
        try:
            pilot = _job(candidate, profile, 0, seed, settings, model_key)
            timing = timer(pilot, first.key, first, threads, model_fn)
            break
        except Exception:  # noqa: BLE001  its own trials will report the error
            continue
    if timing is None:
        raise AdvisorError("No candidate loss could be trained even once; see the errors with "
                           "--debug, or check a user-registered loss and model_fn.")
    keep = (candidates[0].id,) + tuple(c.id for c in candidates if c.loss in DEFAULT_LOSSES)
    plan = plan_trials(prepared.n_rows, tuple(c.id for c in candidates), timing,
                       criteria.budget_seconds, jobs, keep=keep, folds_possible=len(splits))
    plan = plan.replace(cuts=tuple(cuts) + plan.cuts, rows_total=profile.n_rows)
    resample = plan.rows < prepared.n_rows
    if resample:
        prepared = stratified_sample(prepared, plan.rows, seed)
    if resample or plan.folds != len(splits):
        splits, _ = make_folds(prepared, plan.folds, seed)
        folds = [fold_data(prepared, train, test, i, seed) for i, (train, test) in enumerate(splits)]
    else:
        folds = [first] + [fold_data(prepared, train, test, i, seed)
                           for i, (train, test) in enumerate(splits) if i > 0]
    settings = dataclasses.replace(settings, max_epochs=plan.max_epochs)
    by_id = {c.id: c for c in candidates}
    alive = list(plan.candidates)
    results: list = []
    dropped: dict[str, str] = {}
    bar = _Progress(progress, len(alive) * len(folds) * plan.seeds)
    seeds_run = 0
    round_index = 0
    while round_index < plan.seeds:
        if round_index > 0 and time.time() >= deadline:
            break
        trial_seed = seed + SEED_STRIDE * round_index
        batch = [(_job(by_id[cid], profile, f.fold, trial_seed, settings, model_key), f)
                 for f in folds for cid in alive]
        results.extend(_run(batch, deadline, model_fn, cache_dir, threads, jobs, bar))
        round_index += 1
        seeds_run += 1
        if round_index == 1:  # after the first round
            dropped = _hopeless(results, alive, candidates[0].id, metric.greater_is_better,
                                len(folds))
            alive = [cid for cid in alive if cid not in dropped]
            seeds = seeds_affordable(plan, timing, criteria.budget_seconds, jobs,
                                     [r.epochs for r in results],
                                     [r.epochs for r in results if r.candidate_id in alive])
            plan = _with_seeds(plan, seeds)
            bar.resize(len(alive) * len(folds) * (seeds - 1) + len(results))
    bar.close()
    if seeds_run < plan.seeds:
        warnings.append(f"The budget ran out after {seeds_run} of {plan.seeds} planned seed rounds.")
        plan = plan.replace(seeds=seeds_run)
    if any(r.cut for r in results):
        n_cut = sum(r.cut for r in results)
        warnings.append(f"{n_cut} trial(s) were stopped by the {criteria.budget_seconds:g} s "
                        "budget and left out of the comparison.")
    verdict = _verdict(candidates, plan, results, dropped, metric, len(folds))
    return Validation(
        metric=metric.name, metric_title=metric.title, greater_is_better=metric.greater_is_better,
        metric_reason=criteria.metric_reason or "", status=verdict["status"],
        pick=candidates[0].id, winner=verdict["winner"], verdict=verdict["text"],
        candidates=verdict["results"], plan=plan, seconds=round(time.time() - started, 2),
        budget_seconds=criteria.budget_seconds, model=model_key or settings.architecture,
        left_out_features=prepared.left_out, warnings=tuple(warnings),
    )


def row_cap(profile: DatasetProfile, criteria: Criteria) -> tuple[int, str]:
    """Most rows the trials may hold: a fixed ceiling, lowered by ``--memory-limit-mb``.

    Trials hold the table's features several times over (the frame, each fold's float32
    arrays, worker copies); MEMORY_PER_TABLE_COPY of the in-memory table per row is the
    allowance."""
    if not criteria.memory_limit_mb or not profile.n_rows_total:
        return PILOT_ROW_CAP, "the ceiling for any budget"
    per_row_mb = max(profile.memory_mb / profile.n_rows_total, 1e-9) * MEMORY_PER_TABLE_COPY
    fitting = int(criteria.memory_limit_mb / per_row_mb)
    if fitting >= PILOT_ROW_CAP:
        return PILOT_ROW_CAP, "the ceiling for any budget"
    return max(fitting, 100), f"--memory-limit-mb {criteria.memory_limit_mb:g}"


def _with_seeds(plan: Plan, seeds: int) -> Plan:
    """The plan with the seed count the first round's epochs afford, its cuts text to match."""
    from advisor.budget import MAX_SEEDS

    cuts = tuple(c for c in plan.cuts if not c.startswith("seeds "))
    if seeds < MAX_SEEDS:
        cuts = (f"seeds {MAX_SEEDS} → {seeds}",) + cuts
    return plan.replace(seeds=seeds, cuts=cuts)


def _job(candidate: Candidate, profile: DatasetProfile, fold: int, seed: int, settings,
         model_key: str | None):
    from advisor.catalog import CATALOG, get_spec, loss_class
    from advisor.trials import TrialJob

    spec = get_spec(candidate.loss)
    # Catalogue classes travel by import path (a stable cache key); a user's class travels as
    # itself, since a worker process may not be able to import the script that defined it.
    cls = (spec.variants[profile.task].class_path if candidate.loss in CATALOG
           else loss_class(candidate))
    return TrialJob(
        candidate_id=candidate.id, task=profile.task, loss_class=cls,
        loss_config=dict(candidate.keras["config"]),
        class_weight=candidate.fit_kwargs.get("class_weight"), head=candidate.head,
        target_transform=candidate.target_transform, from_logits=candidate.from_logits,
        fold=fold, seed=seed, settings=settings, model_fn_key=model_key,
    )


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


def _run(batch, deadline, model_fn, cache_dir, threads, jobs, bar) -> list:
    from joblib import Parallel, delayed

    from advisor.trials import run_trial

    calls = (delayed(run_trial)(job, data, deadline, model_fn, cache_dir, threads)
             for job, data in batch)
    out = []
    # n_jobs=None for one job: without a joblib backend context it runs in this process, and
    # inside one (joblib.parallel_backend("dask")) it takes the backend's workers.
    for result in Parallel(n_jobs=None if jobs == 1 else jobs,
                           return_as="generator_unordered")(calls):
        out.append(result)
        bar.step()
    # Completion order varies between runs; the statistics must not.
    return sorted(out, key=lambda r: (r.seed, r.fold, r.candidate_id))


def _scores(results, cid: str) -> dict[tuple[int, int], float]:
    return {(r.fold, r.seed): r.score for r in results
            if r.candidate_id == cid and r.score is not None}


def _hopeless(results, alive, pick: str, greater: bool, n_folds: int) -> dict[str, str]:
    """After the first round: candidates worse than the round's best beyond noise (not the pick)."""
    ratio = 1 / max(n_folds - 1, 1)
    means = {cid: np.mean(list(_scores(results, cid).values())) for cid in alive
             if _scores(results, cid)}
    if not means:
        return {}
    best = max(means, key=lambda c: means[c] if greater else -means[c])
    dropped = {}
    for cid in alive:
        if cid in (pick, best) or cid not in means:
            continue
        diff = paired_difference(_scores(results, cid), _scores(results, best), ratio, greater)
        if worse_beyond_noise(diff):
            dropped[cid] = best
    return dropped


def _verdict(candidates, plan: Plan, results, dropped, metric, n_folds) -> dict[str, Any]:
    greater = metric.greater_is_better
    ratio = 1 / max(n_folds - 1, 1)
    rank = {c.id: i for i, c in enumerate(candidates)}
    simple = {c.id: c.complexity for c in candidates}
    pick = candidates[0].id
    scores = {c.id: _scores(results, c.id) for c in candidates}
    diverged = {}
    errors = {}
    for r in results:
        if r.diverged_epoch is not None:
            diverged.setdefault(r.candidate_id, r.diverged_epoch)
        if r.error:
            errors.setdefault(r.candidate_id, r.error)
    usable = [c.id for c in candidates if c.id in plan.candidates and c.id not in diverged
              and c.id not in errors and len(scores[c.id]) >= MIN_TRIALS]

    def diff(a, b) -> Interval:
        return paired_difference(scores[a], scores[b], ratio, greater)

    def simplest(ids):
        return min(ids, key=lambda c: (simple[c], rank[c]))

    def margin_around(reference: str) -> float:
        return equivalence_margin(list(scores[reference].values()))

    def equivalent_and_simpler(reference: str) -> list[str]:
        """Simpler candidates shown equivalent to ``reference`` (TOST-style: the whole interval
        of the difference inside ± the margin), ``reference`` itself first."""
        margin = margin_around(reference)
        return [reference] + [c for c in usable if c != reference
                              and simple[c] < simple[reference]
                              and equivalent(diff(c, reference), margin)]

    def fmt(x):
        return f"{x:+.3g}" if x is not None else "n/a"

    name = metric.title
    pick_usable = pick in usable
    if not pick_usable and usable and (pick in diverged or pick in errors):
        best = max(usable, key=lambda c: np.mean(list(scores[c].values())) * (1 if greater else -1))
        winner = simplest(equivalent_and_simpler(best))
        why = (f"diverged at epoch {diverged[pick]}" if pick in diverged else f"failed ({errors[pick]})")
        status, text = "overturned", (f"Overturned: the rules' pick {pick} {why}; {winner} is the "
                                      f"best working candidate on {name}.")
    elif not pick_usable or len(usable) < 2:
        status, winner = "inconclusive", pick
        n_pick = len(scores[pick])
        text = (f"Inconclusive: {n_pick} trial(s) of the rules' pick {pick} and "
                f"{len(usable)} comparable candidate(s) finished within the budget — too few to "
                f"tell; keeping the rules' pick.")
    else:
        beaten_by = [c for c in usable if c != pick and better_beyond_noise(diff(c, pick))]
        if beaten_by:
            best = max(beaten_by, key=lambda c: diff(c, pick).mean)
            winner = simplest(equivalent_and_simpler(best))
            d = diff(winner, pick)
            status = "overturned"
            text = (f"Overturned: {winner} beats the rules' pick {pick} on {name} by "
                    f"{abs(d.mean):.3g} (95% interval {abs(d.low):.3g} to {abs(d.high):.3g}, "
                    f"{d.n} paired trials)"
                    + (f"; it is equivalent to the best, {best}, and simpler — keeping the "
                       "simpler loss." if winner != best else "."))
        else:
            status = "confirmed"
            winner = simplest(equivalent_and_simpler(pick))
            unresolved = [c for c in usable if c != pick and not worse_beyond_noise(diff(c, pick))]
            n = max((diff(c, pick).n for c in usable if c != pick), default=len(scores[pick]))
            margin = margin_around(pick)
            if winner != pick:
                d = diff(winner, pick)
                text = (f"Tied — keep the simpler loss: {winner} is equivalent to the rules' pick "
                        f"{pick} on {name} (difference {fmt(d.mean)}, 95% interval {fmt(d.low)} "
                        f"to {fmt(d.high)}, inside ±{margin:.3g}; {d.n} paired trials).")
            elif unresolved:
                text = (f"Confirmed: no candidate beats the rules' pick {pick} on {name} beyond "
                        f"noise over {n} paired trials. {', '.join(unresolved)} could not be told "
                        f"apart from it, nor shown equivalent within ±{margin:.3g}: ties go to "
                        "the rules' pick.")
            else:
                text = (f"Confirmed: the rules' pick {pick} is best on {name}, ahead of every "
                        f"other candidate beyond noise over {n} paired trials.")
    out = []
    for c in candidates:
        values = scores[c.id]
        seconds = sum(r.seconds for r in results if r.candidate_id == c.id)
        trial_rows = [r for r in results if r.candidate_id == c.id]
        interval = corrected_interval(list(values.values()), ratio)
        d = diff(c.id, pick) if c.id != pick and values and scores[pick] else None
        if c.id not in plan.candidates:
            state = "not trialled"
        elif c.id in errors:
            state = "failed"
        elif c.id in diverged:
            state = "diverged"
        elif c.id in dropped:
            state = "dropped"
        elif c.id == winner:
            state = "recommended"
        elif c.id == pick:
            state = "pick"
        elif d is not None and better_beyond_noise(d):
            state = "better"
        elif d is not None and worse_beyond_noise(d):
            state = "worse"
        else:
            state = "tied"
        first_seed = min((r.seed for r in trial_rows), default=None)
        out.append(CandidateResult(
            id=c.id, loss=c.loss, title=c.title, status=state,
            mean=interval.mean if values else None, ci_low=interval.low, ci_high=interval.high,
            n_trials=len(values), seconds=round(seconds, 2), diverged=c.id in diverged,
            diverged_epoch=diverged.get(c.id), error=errors.get(c.id),
            diff_mean=d.mean if d is not None and d.n else None,
            diff_ci_low=d.low if d is not None else None,
            diff_ci_high=d.high if d is not None else None,
            scores=tuple(r.score for r in trial_rows),
            folds=tuple(r.fold for r in trial_rows),
            seeds=tuple(r.seed for r in trial_rows),
            epochs=tuple(r.epochs for r in trial_rows),
            curves=tuple(r.val_loss for r in trial_rows if r.seed == first_seed),
        ))
    return {"status": status, "winner": winner, "text": text, "results": tuple(out)}


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal and it is wanted."""

    def __init__(self, wanted: bool, total: int):
        self.on = wanted and sys.stderr.isatty()
        self.total, self.done, self.started = total, 0, time.time()
        self._draw()

    def resize(self, total: int) -> None:
        self.total = total
        self._draw()

    def step(self) -> None:
        self.done += 1
        self._draw()

    def _draw(self) -> None:
        if not self.on:
            return
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.time() - self.started
        sys.stderr.write(f"\rtrials [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
                         f"  {elapsed:5.1f} s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\n")
            sys.stderr.flush()
