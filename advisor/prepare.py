"""Turning a table into the arrays every trial shares: features, encoded target, folds.

Features go through one scikit-learn ``ColumnTransformer`` fitted on each fold's training rows
only: numeric columns are median-imputed (with missing-value indicators) and standardised,
categorical ones imputed and one-hot encoded with a cap on categories. Identifier, constant and
free-text columns are left out, and the run says so. Folds are stratified for classification
(on the rarest label for multilabel) and on target quantiles for regression and counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from advisor.profiler import DatasetProfile, encode_labels
from advisor.target import clean_target, resolve_target
from advisor.trials import FoldData

MAX_CATEGORIES = 20
VALIDATION_FRACTION = 0.15
REGRESSION_STRATA = 5


@dataclass(frozen=True)
class Prepared:
    """Features and encoded target of the rows with a target, before any fold is fitted."""

    features: pd.DataFrame
    y: np.ndarray  # binary 0/1, class indices, a 0/1 matrix (multilabel) or values
    strata: np.ndarray
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    left_out: tuple[str, ...]  # "name (reason)"

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def take(self, rows: np.ndarray) -> Prepared:
        return Prepared(self.features.iloc[rows], self.y[rows], self.strata[rows], self.numeric,
                        self.categorical, self.left_out)


def prepare(frame: pd.DataFrame, prof: DatasetProfile) -> Prepared:
    names = resolve_target(frame, prof.target, prof.source)
    cleaned = clean_target(frame, names, prof.source,
                           task="multilabel" if prof.label_separator else None)
    rows = frame[cleaned.keep]
    y = _encode(cleaned.values, prof)
    kinds = dict(zip(prof.feature_names, prof.feature_kinds))
    numeric, categorical, left_out, columns = [], [], [], {}
    for name, kind in kinds.items():
        column = rows[name]
        if name in prof.identifier_columns:
            left_out.append(f"{name} (identifier)")
        elif kind == "constant":
            left_out.append(f"{name} (constant)")
        elif kind == "text":
            left_out.append(f"{name} (free text)")
        elif kind == "datetime":
            stamps = pd.to_datetime(column, errors="coerce", format="mixed") \
                if not pd.api.types.is_datetime64_any_dtype(column) else column
            columns[name] = stamps.astype("int64").where(stamps.notna()).astype("float64") / 86400e9
            numeric.append(name)
        elif kind == "numeric" or pd.api.types.is_bool_dtype(column):
            columns[name] = column.astype("float64")
            numeric.append(name)
        else:
            text = column.astype("object")
            columns[name] = text.where(text.isna(), text.astype(str))
            categorical.append(name)
    features = pd.DataFrame(columns, index=rows.index)
    return Prepared(features, y, _strata(y, prof), tuple(numeric), tuple(categorical),
                    tuple(left_out))


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
              seed: int) -> FoldData:
    """Fit the preprocessing on the fold's training rows (minus an inner validation split)."""
    import joblib
    from sklearn.model_selection import train_test_split

    strata = prepared.strata[train]
    _, counts = np.unique(strata, return_counts=True)
    stratify = strata if counts.min() >= 2 else None
    fit_rows, val_rows = train_test_split(train, test_size=VALIDATION_FRACTION, random_state=seed,
                                          stratify=stratify)
    transformer = _transformer(prepared)
    frame = prepared.features
    x_fit = transformer.fit_transform(frame.iloc[fit_rows]).astype("float32")
    x_val = transformer.transform(frame.iloc[val_rows]).astype("float32")
    x_test = transformer.transform(frame.iloc[test]).astype("float32")
    y = prepared.y
    arrays = (x_fit, y[fit_rows], x_val, y[val_rows], x_test, y[test])
    return FoldData(joblib.hash(arrays), fold, *arrays)


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
        from advisor.errors import AdvisorError

        raise AdvisorError("No usable feature columns to train on (all are identifiers, constant "
                           "or free text); add features or pass model inputs another way.")
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
