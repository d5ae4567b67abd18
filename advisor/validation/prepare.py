"""Turning a table into the arrays every trial shares: features, encoded target, folds.

Every feature column is first normalised to one of two forms, whatever its storage (NumPy,
pandas' nullable dtypes, Arrow-backed strings or timestamps, Python objects): **float64 with NaN**
for numbers and dates, or **Python strings in an object column with NaN** for categories. A cell
is missing when :func:`advisor.profiling.features.missing_mask` says so (``NaN``, ``None``, ``pd.NA``,
``NaT``, blank strings, ±inf). Numbers are used as they are, dates as days since 1970-01-01 (UTC),
booleans and other labels as text.

Features then go through one scikit-learn ``ColumnTransformer`` fitted on each fold's training
rows only: numeric columns are median-imputed (with a missing-value indicator where the training
rows had missing cells) and standardised, categorical ones imputed with their most frequent value
and one-hot encoded, at most ``MAX_CATEGORIES`` columns each (rarer values share one "infrequent"
column). Identifier, constant, free-text and all-missing columns are left out, and the run says so:
:func:`describe_features` states, for every column, what the trials did with it. Folds are
stratified for classification (on the rarest label for multilabel) and on target quantiles for
regression and counts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from advisor.base.records import Record
from advisor.losses.protocol import VALIDATION_FRACTION
from advisor.profiling.features import as_float, missing_mask
from advisor.profiling.profiler import DatasetProfile, encode_labels
from advisor.profiling.target import clean_target, resolve_target

if TYPE_CHECKING:  # pragma: no cover
    from advisor.validation.trials import FoldData

MAX_CATEGORIES = 20  # one-hot columns per feature ("infrequent" included): few inputs per column
REGRESSION_STRATA = 5  # target quantile bins that regression and count folds are stratified on
TREATMENTS = ("numeric", "one-hot", "left out")  # what FeatureUse.treatment may say
EPOCH = pd.Timestamp("1970-01-01")  # dates are days since this (UTC), whatever unit or zone


@dataclass(frozen=True)
class FeatureUse(Record):
    """One feature column: its facts, and what the trials did with it."""

    name: str
    kind: str  # the profile's: numeric | categorical | text | datetime | constant
    missing_fraction: float
    distinct: int | None  # distinct non-missing values among the rows with a target; None: unknown
    treatment: str  # numeric | one-hot | left out
    detail: str  # how, or why not: "standardised + missing indicator", "3 levels", "identifier"
    inputs: int | None = None  # model input columns it became; None: no fitted preprocessing
    levels: int | None = None  # one-hot: values with a column of their own
    infrequent: int | None = None  # one-hot: rarer values sharing the one "infrequent" column

    @property
    def summary(self) -> str:
        """The treatment and its detail in one phrase: "one-hot: 3 levels"."""
        return f"{self.treatment}: {self.detail}"


@dataclass(frozen=True)
class Prepared:
    """Features and encoded target of the rows with a target, before any fold is fitted."""

    features: pd.DataFrame  # float64 (numeric, dates) and object-of-str (categorical) columns
    y: np.ndarray  # binary 0/1, class indices, a 0/1 matrix (multilabel) or values
    strata: np.ndarray
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    left_out: tuple[str, ...]  # "name (reason)"
    reasons: tuple[tuple[str, str], ...] = ()  # (name, reason) of each left-out column
    distinct: tuple[tuple[str, int], ...] = ()  # (name, distinct non-missing values), every column
    task: str = "binary"  # decides what the early-stopping split stratifies on

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def take(self, rows: np.ndarray) -> Prepared:
        return dataclasses.replace(self, features=self.features.iloc[rows], y=self.y[rows],
                                   strata=self.strata[rows])


def prepare(frame: pd.DataFrame, prof: DatasetProfile) -> Prepared:
    """The profiled table as features and an encoded target; see the module's docstring."""
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)  # as the profile named them
    names = resolve_target(frame, prof.target, prof.source)
    cleaned = clean_target(frame, names, prof.source,
                           task="multilabel" if prof.label_separator else None)
    rows = frame[cleaned.keep]
    y = _encode(cleaned.values, prof)
    missing = dict(zip(prof.feature_names, prof.feature_missing_fractions))
    numeric, categorical, reasons, columns, distinct = [], [], [], {}, []
    for name, kind in zip(prof.feature_names, prof.feature_kinds):
        column = rows[name]
        reason = left_out_reason(name, kind, missing.get(name, 0.0), prof)
        values = None
        if reason is None:
            values = _normalise(column, kind)
            if pd.isna(values).all():
                reason = "all missing"
        if reason is not None:
            reasons.append((name, reason))
            distinct.append((name, _distinct(column)))
            continue
        columns[name] = values
        distinct.append((name, int(values.nunique())))
        (numeric if kind in ("numeric", "datetime") else categorical).append(name)
    features = pd.DataFrame(columns, index=rows.index)
    return Prepared(features, y, _strata(y, prof), tuple(numeric), tuple(categorical),
                    tuple(f"{name} ({reason})" for name, reason in reasons), tuple(reasons),
                    tuple(distinct), prof.task)


def left_out_reason(name: str, kind: str, missing_fraction: float,
                    prof: DatasetProfile) -> str | None:
    """Why the trials leave a column out (all missing, identifier, constant, free text), or None."""
    if missing_fraction >= 1.0:
        return "all missing"
    if name in prof.identifier_columns:
        return "identifier"
    if kind == "constant":
        return "constant"
    if kind == "text":
        return "free text"
    return None


def _normalise(column: pd.Series, kind: str) -> pd.Series:
    """float64 with NaN (numbers, dates) or an object column of str with NaN (everything else)."""
    if kind == "datetime":
        return pd.Series(_as_days(column), index=column.index, dtype="float64")
    if kind == "numeric":
        return pd.Series(as_float(column), index=column.index, dtype="float64")
    return _as_text(column)


def _as_days(column: pd.Series) -> np.ndarray:
    """Dates (datetime64 in any unit, time-zone aware or not, Arrow timestamps, date objects or
    date strings) as days since 1970-01-01 UTC; what does not parse is missing."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = pd.to_datetime(column)  # Arrow timestamps to NumPy's, units kept
    else:
        cells = column.astype(object).where(~missing_mask(column), None)
        stamps = pd.to_datetime(cells, errors="coerce", utc=True, format="mixed")
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    days = (stamps - EPOCH) / pd.Timedelta(days=1)
    return days.to_numpy(dtype="float64", na_value=np.nan)


def _as_text(column: pd.Series) -> pd.Series:
    """Labels as Python strings in an object column, missing cells as NaN: one type for the
    imputer and the encoder, whatever mix of types the column held (3 and 3.0 both read "3")."""
    mask = missing_mask(column)
    values = column.to_numpy(dtype=object)
    out = np.full(len(values), np.nan, dtype=object)
    keep = np.flatnonzero(~mask)
    out[keep] = [v if type(v) is str else _label_text(v) for v in values[keep]]
    return pd.Series(out, index=column.index, dtype=object)


def _label_text(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _distinct(column: pd.Series) -> int:
    present = column[~missing_mask(column)]
    try:
        return int(present.nunique())
    except TypeError:  # unhashable cells (lists, dicts): count their text
        return int(present.map(str).nunique())


def _encode(values, prof: DatasetProfile) -> np.ndarray:
    if prof.task == "multilabel":
        return values.to_numpy(dtype="int64")
    if prof.task in ("binary", "multiclass"):
        return encode_labels(values, prof)
    return values.to_numpy(dtype="float64")


def _strata(y: np.ndarray, prof: DatasetProfile) -> np.ndarray:
    if prof.task in ("binary", "multiclass"):
        return y
    if prof.task == "multilabel":
        positives = y.sum(axis=0)
        return y[:, int(np.argmin(np.minimum(positives, len(y) - positives)))]
    edges = np.quantile(y, np.linspace(0, 1, REGRESSION_STRATA + 1)[1:-1])
    return np.searchsorted(edges, y, side="right")


def stratified_sample(prepared: Prepared, n: int, seed: int) -> Prepared:
    """``n`` rows keeping the strata's shares (every stratum keeps at least one row)."""
    if n >= prepared.n_rows:
        return prepared
    rng = np.random.default_rng(seed)
    picked = []
    strata, counts = np.unique(prepared.strata, return_counts=True)
    quotas = np.maximum(1, np.round(counts * n / prepared.n_rows).astype(int))
    for stratum, quota in zip(strata, quotas):
        members = np.flatnonzero(prepared.strata == stratum)
        picked.append(rng.choice(members, size=min(quota, len(members)), replace=False))
    return prepared.take(np.sort(np.concatenate(picked)))


def make_folds(prepared: Prepared, n_folds: int, seed: int) -> tuple[list, str | None]:
    """Outer folds (train, test) index pairs, and a note when stratification had to give way."""
    from sklearn.model_selection import KFold, StratifiedKFold

    _, counts = np.unique(prepared.strata, return_counts=True)
    note = None
    if counts.min() >= n_folds:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(prepared.n_rows), prepared.strata)), None
    if counts.min() >= 2:
        note = (f"the smallest class has {counts.min()} rows: folds reduced from {n_folds} to "
                f"{counts.min()} to stay stratified")
        splitter = StratifiedKFold(int(counts.min()), shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(prepared.n_rows), prepared.strata)), note
    note = "a class has a single row: folds are not stratified"
    splitter = KFold(n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(prepared.n_rows))), note


def fold_data(prepared: Prepared, train: np.ndarray, test: np.ndarray, fold: int,
              seed: int, *, return_transformer: bool = False) -> FoldData | tuple[FoldData, Any]:
    """Fit the preprocessing on the fold's training rows (minus an inner validation split).

    Returns the fold's :class:`~advisor.validation.trials.FoldData`; with ``return_transformer=True``, the
    pair ``(FoldData, fitted ColumnTransformer)``, which :func:`describe_features` reads.
    """
    import joblib
    from sklearn.model_selection import train_test_split

    from advisor.losses.protocol import split_strata
    from advisor.validation.trials import FoldData

    # The early-stopping split the printed code makes too (advisor.losses.protocol): stratified on the
    # labels for classification, plain for values.
    strata = split_strata(prepared.y[train], prepared.task)
    if strata is not None and np.unique(strata, return_counts=True)[1].min() < 2:
        strata = None
    fit_rows, val_rows = train_test_split(train, test_size=VALIDATION_FRACTION, random_state=seed,
                                          stratify=strata)
    transformer = _transformer(prepared)
    frame = prepared.features
    x_fit = transformer.fit_transform(frame.iloc[fit_rows]).astype("float32")
    x_val = transformer.transform(frame.iloc[val_rows]).astype("float32")
    x_test = transformer.transform(frame.iloc[test]).astype("float32")
    y = prepared.y
    arrays = (x_fit, y[fit_rows], x_val, y[val_rows], x_test, y[test])
    data = FoldData(joblib.hash(arrays), fold, *arrays)
    return (data, transformer) if return_transformer else data


def fit_transformer(prepared: Prepared, rows: np.ndarray | None = None):
    """The preprocessing fitted on ``rows`` (all rows when None), as the trials fit it."""
    transformer = _transformer(prepared)
    frame = prepared.features if rows is None else prepared.features.iloc[rows]
    return transformer.fit(frame)


def _transformer(prepared: Prepared):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if prepared.numeric:
        parts.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True,
                                     keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]), list(prepared.numeric)))
    if prepared.categorical:
        parts.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                     max_categories=MAX_CATEGORIES, sparse_output=False)),
        ]), list(prepared.categorical)))
    if not parts:
        from advisor.base.errors import AdvisorError

        raise AdvisorError("No usable feature columns to train on (all are identifiers, constant, "
                           "free text or missing); add features or pass model inputs another way.")
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


# --- what the trials did with each column --------------------------------------------------------

_STANDARDISED = "standardised"
_DAYS = "days since 1970-01-01, standardised"
_INDICATOR = " + missing indicator"


def describe_features(prepared: Prepared, profile: DatasetProfile,
                      transformer=None) -> tuple[FeatureUse, ...]:
    """Every feature column of ``profile``, in its order, with what the trials did with it.

    ``transformer`` is a fitted ``ColumnTransformer`` (``fold_data(..., return_transformer=True)``
    or :func:`fit_transformer`): missing indicators and one-hot levels are then read from it, as
    the trials saw them. Without it they are what the whole table implies.
    """
    distinct = dict(prepared.distinct)
    reasons = dict(prepared.reasons)
    indicated, encoded = _fitted(prepared, transformer)
    out = []
    for name, kind, missing in zip(profile.feature_names, profile.feature_kinds,
                                   profile.feature_missing_fractions):
        facts = dict(name=name, kind=kind, missing_fraction=float(missing),
                     distinct=distinct.get(name))
        if name in reasons:
            out.append(FeatureUse(**facts, treatment="left out", detail=reasons[name], inputs=0))
        elif name in prepared.numeric:
            flag = indicated[name] if indicated is not None else missing > 0
            out.append(_numeric_use(facts, kind, flag))
        elif name in prepared.categorical:
            if encoded is not None:
                levels, infrequent = encoded[name]
            else:
                levels, infrequent = _expected_levels(distinct.get(name))
            out.append(_one_hot_use(facts, levels, infrequent, missing > 0))
    return tuple(out)


def describe_features_from_profile(profile: DatasetProfile) -> tuple[FeatureUse, ...]:
    """What the trials would do with each feature column, from the profile's facts alone (no
    table at hand, e.g. ``--no-validate``): one-hot level counts are then unknown, except that a
    high-cardinality column is certain to fill every column and pool the rest."""
    out = []
    for name, kind, missing in zip(profile.feature_names, profile.feature_kinds,
                                   profile.feature_missing_fractions):
        facts = dict(name=name, kind=kind, missing_fraction=float(missing), distinct=None)
        reason = left_out_reason(name, kind, missing, profile)
        if reason is not None:
            out.append(FeatureUse(**facts, treatment="left out", detail=reason, inputs=0))
        elif kind in ("numeric", "datetime"):
            out.append(_numeric_use(facts, kind, missing > 0))
        elif name in profile.high_cardinality_columns:
            out.append(_one_hot_use(facts, MAX_CATEGORIES - 1, None, missing > 0))
        else:
            out.append(FeatureUse(**facts, treatment="one-hot",
                                  detail=f"≤ {MAX_CATEGORIES} levels"
                                         + (", missing → most frequent" if missing > 0 else "")))
    return tuple(out)


def _numeric_use(facts: dict, kind: str, indicator: bool) -> FeatureUse:
    detail = (_DAYS if kind == "datetime" else _STANDARDISED) + (_INDICATOR if indicator else "")
    return FeatureUse(**facts, treatment="numeric", detail=detail, inputs=1 + int(indicator))


def _one_hot_use(facts: dict, levels: int, infrequent: int | None, missing: bool) -> FeatureUse:
    """One-hot with ``levels`` own columns; ``infrequent`` values pooled in one more (None:
    some, number unknown)."""
    detail = f"{levels} level{'s' if levels != 1 else ''}"
    pooled = infrequent is None or infrequent > 0
    if infrequent:
        detail += f" + infrequent ({infrequent} value{'s' if infrequent != 1 else ''})"
    elif infrequent is None:
        detail += " + infrequent (the rarer values)"
    if missing:
        detail += ", missing → most frequent"
    return FeatureUse(**facts, treatment="one-hot", detail=detail,
                      inputs=levels + int(pooled), levels=levels,
                      infrequent=infrequent)


def _expected_levels(distinct: int | None) -> tuple[int, int | None]:
    """One-hot levels and pooled values a column of ``distinct`` values gets (before fitting)."""
    if distinct is None:
        return MAX_CATEGORIES - 1, None
    if distinct <= MAX_CATEGORIES:
        return distinct, 0
    return MAX_CATEGORIES - 1, distinct - (MAX_CATEGORIES - 1)


def _fitted(prepared: Prepared, transformer):
    """From a fitted ColumnTransformer: {numeric column: has a missing indicator} and
    {categorical column: (own levels, values pooled as infrequent)}; (None, None) without one."""
    if transformer is None:
        return None, None
    indicated: dict[str, bool] = {}
    encoded: dict[str, tuple[int, int]] = {}
    if prepared.numeric:
        imputer = transformer.named_transformers_["numeric"].named_steps["impute"]
        flagged = (set(int(i) for i in imputer.indicator_.features_)
                   if imputer.indicator_ is not None else set())
        indicated = {name: i in flagged for i, name in enumerate(prepared.numeric)}
    if prepared.categorical:
        encoder = transformer.named_transformers_["categorical"].named_steps["onehot"]
        pooled = getattr(encoder, "infrequent_categories_", None) or [None] * len(
            prepared.categorical)
        for i, name in enumerate(prepared.categorical):
            rare = 0 if pooled[i] is None else len(pooled[i])
            encoded[name] = (len(encoder.categories_[i]) - rare, rare)
    return indicated, encoded
