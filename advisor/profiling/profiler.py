"""The profiler: ``profile(df_or_path, target) -> DatasetProfile``, the facts the rules read.

A profile is a frozen, flat record of facts about one table and its target: the task and the
evidence for it, class balance, the target's distribution, tails and outliers, the features'
kinds and missing cells, and label-noise signs. Names carry their units; a fact that does not
apply to the task is ``None``. The rules engine reads these fields by name, so renaming one is a
breaking change for every rules file.

Target outliers use the modified z-score of Iglewicz & Hoaglin (1993): a value is an outlier when
``|x - median| / (1.4826 * MAD) > 3.5``. When more than half the values are equal (MAD = 0, e.g.
counts that are mostly zero) the scale falls back to ``1.253314 * mean |x - median|``, the same
statistic's consistent estimate for that case; if that is zero too, nothing is an outlier.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from advisor.base.errors import AdvisorError
from advisor.base.records import Record
from advisor.profiling.features import (
    KINDS,
    arrow_missing,
    arrow_missing_count,
    arrow_sample,
    describe_arrow_features,
    describe_features,
)
from advisor.profiling.loading import (
    SourceFormat,
    column_readings,
    load_table,
    pandas_nbytes,
    read_arrow,
    to_frame,
)
from advisor.profiling.notes import data_warnings
from advisor.profiling.streaming import exact_facts, scan, streams
from advisor.profiling.target import (
    CLASSIFICATION_TASKS,
    VALUE_TASKS,
    TargetData,
    TaskCall,
    clean_target,
    infer_task,
    resolve_target,
)

OUTLIER_Z = 3.5
MAD_TO_SIGMA = 1.4826
MEANAD_TO_SIGMA = 1.253314
EFFECTIVE_NUMBER_BETA = 0.999  # Cui et al. 2019's usual choice for the effective number of samples
MIN_CLASS_ROWS = 10  # fewer rows than this cannot be split into validation folds meaningfully
HISTOGRAM_BINS = 40

Label = str | int | float | bool


@dataclass(frozen=True)
class DatasetProfile(Record):
    """Flat facts about a table and its target (``None`` where a fact does not apply)."""

    # The input.
    source: str
    source_format: str
    target: str
    target_columns: tuple[str, ...]
    n_rows_total: int
    n_rows: int
    n_rows_dropped: int
    n_columns: int
    memory_mb: float
    # The task and its evidence.
    task: str
    task_confidence: float
    task_ambiguous: bool
    task_alternative: str | None
    task_reason: str
    task_source: str
    target_dtype: str
    target_unique_count: int
    target_unique_ratio: float
    target_integer_valued: bool | None
    target_non_negative: bool | None
    # Classification (binary, multiclass, multilabel).
    n_classes: int | None
    class_labels: tuple[Label, ...] | None
    class_counts: tuple[int, ...] | None
    positive_class: Label | None
    minority_class: Label | None
    minority_count: int | None
    minority_fraction: float | None
    majority_fraction: float | None
    imbalance_ratio: float | None
    entropy_imbalance: float | None
    class_effective_samples: tuple[float, ...] | None
    effective_samples_beta: float | None
    n_small_classes: int | None
    label_cardinality: float | None
    label_separator: str | None
    # Regression and count.
    target_mean: float | None
    target_std: float | None
    target_min: float | None
    target_max: float | None
    target_median: float | None
    target_mad: float | None
    target_robust_scale: float | None
    target_skewness: float | None
    target_excess_kurtosis: float | None
    target_outlier_fraction: float | None
    target_outlier_low: float | None
    target_outlier_high: float | None
    target_zero_fraction: float | None
    target_bounded_unit: bool | None
    target_dispersion: float | None
    target_decades: float | None
    # Histogram of the target (values beyond the edges counted in the end bins), for reports.
    target_histogram_edges: tuple[float, ...] | None
    target_histogram_counts: tuple[int, ...] | None
    # Features.
    n_features: int
    n_numeric_features: int
    n_categorical_features: int
    n_text_features: int
    n_datetime_features: int
    n_constant_features: int
    feature_names: tuple[str, ...]
    feature_kinds: tuple[str, ...]
    feature_missing_fractions: tuple[float, ...]
    missing_cell_fraction: float
    rows_with_missing_fraction: float
    max_feature_missing_fraction: float
    high_cardinality_columns: tuple[str, ...]
    identifier_columns: tuple[str, ...]
    feature_outlier_fraction: float | None
    feature_outlier_sample_rows: int | None
    duplicate_row_fraction: float
    conflicting_label_fraction: float | None
    sample_rows: int
    seed: int
    warnings: tuple[str, ...]
    # Streaming profiles: the fields read from the sample of sample_rows rows (None in memory).
    facts_from_sample: tuple[str, ...] | None = None

    @property
    def is_classification(self) -> bool:
        return self.task in CLASSIFICATION_TASKS


def profile(data: pd.DataFrame | str | os.PathLike, target: str | list[str] | None = None,
            task: str | None = None, *, encoding: str | None = None, seed: int = 0,
            memory_limit_mb: float | None = None) -> DatasetProfile:
    """Profile a DataFrame or a file. ``target`` is a column, ``"a,b,c"`` or a list (multilabel).

    ``task`` overrides the inferred task (it is checked against the data, not trusted). Raises
    :class:`advisor.AdvisorError` with a one-line message for bad input. A directory or glob of
    shards, or one file too large for ``memory_limit_mb``, is profiled in one streaming pass
    (:func:`profile_streamed`); another file from pyarrow's table, without converting it to
    pandas (:func:`profile_table`: the same profile as of the loaded DataFrame).
    """
    if isinstance(data, (str, os.PathLike)) and streams(data, memory_limit_mb):
        return profile_streamed(data, target, task, encoding=encoding, seed=seed)[0]
    if isinstance(data, (str, os.PathLike)):
        table, fmt = read_arrow(data, encoding=encoding)
        return profile_table(table, target, task, source=str(Path(data)),
                             source_format=fmt.describe(), seed=seed)
    frame, source, fmt = _as_frame(data, encoding)
    return profile_frame(frame, target, task, source=source, source_format=fmt, seed=seed)


def profile_streamed(path: str | os.PathLike, target=None, task: str | None = None, *,
                     encoding: str | None = None, seed: int = 0, keep_rows=0):
    """Profile shards or a large file in one pass over record batches: the profile of the pass's
    seeded sample, with every fact the pass knows exactly put in (see
    :mod:`advisor.profiling.streaming`). Returns ``(profile, trials' sample)``; the sample holds
    ``keep_rows`` rows (or ``keep_rows(megabytes per row)``), None when that is 0."""
    found = scan(path, target, task, seed=seed, keep_rows=keep_rows, encoding=encoding)
    # The pass counted every missing cell: the sample's are not counted (exact_facts puts the
    # pass's counts, and the warnings they make, in their place).
    sampled = profile_frame(found.sample, found.target, found.call.task, source=found.source,
                            source_format=found.source_format, seed=seed, count_missing=False,
                            table_rows=found.n_rows, row_hashes=found.sample_hashes)
    classes = (_class_facts(found.class_counts(), found.call.task)
               if found.call.task in ("binary", "multiclass") else {})
    exact = exact_facts(found, sampled, classes, min_class_rows=MIN_CLASS_ROWS)
    return sampled.replace(**exact), found.trial_sample


def profile_frame(frame: pd.DataFrame, target=None, task: str | None = None, *,
                  source: str = "DataFrame", source_format: str = "pandas DataFrame",
                  seed: int = 0, count_missing: bool = True,
                  table_rows: int | None = None, row_hashes=None) -> DatasetProfile:
    """Profile an in-memory table; ``source`` names it in messages. ``count_missing=False``
    (for a caller that counted them already) reports no missing feature cells; ``table_rows``
    (for a frame that samples a larger table) is that table's rows with a target, which the
    feature facts' identifier test reads; ``row_hashes()``, when given, returns a hash of each
    row's features (the streaming pass's), read instead of hashing them again."""
    if frame.shape[1] == 0 or len(frame) == 0:
        raise AdvisorError(f"Input {source} has no rows or no columns; expected a table with data.")
    frame = frame.rename(columns=str) if not all(isinstance(c, str) for c in frame.columns) else frame
    names = resolve_target(frame, target, source)

    def features(data: TargetData, labels: bool):
        rest = frame.drop(columns=list(names))
        hashes = row_hashes
        if not data.keep.all():
            rest = rest[data.keep]
            hashes = None if row_hashes is None else (lambda: row_hashes()[data.keep])
        return describe_features(rest, data.values, seed=seed, labels=labels,
                                 count_missing=count_missing, table_rows=table_rows,
                                 row_hashes=hashes)

    return _profile(frame, names, features, target, task, n_rows_total=len(frame),
                    n_columns=frame.shape[1],
                    memory_mb=float(frame.memory_usage(index=False).sum() / 2**20),
                    source=source, source_format=source_format, seed=seed)


def profile_table(table: pa.Table, target=None, task: str | None = None, *,
                  source: str = "table", source_format: str = "Arrow table",
                  seed: int = 0) -> DatasetProfile:
    """Profile a table as read by :func:`advisor.profiling.loading.read_arrow`: the same profile
    as :func:`profile_frame` of the loader's pandas frame, without converting the whole table —
    the target columns and the features' seeded sample are converted, the features' missing
    cells and the frame's memory are counted in Arrow (:func:`describe_arrow_features`)."""
    readings = column_readings(table.schema)
    if readings is None or table.num_columns == 0 or table.num_rows == 0:
        return profile_frame(to_frame(table), target, task, source=source,
                             source_format=source_format, seed=seed)
    names = resolve_target(table.column_names, target, source)
    rest = table.drop_columns(list(names))
    converted: dict[str, pd.Series] = {}

    def whole(name: str) -> pd.Series:
        """A feature column (every row) as the loader converts it, once."""
        if name not in converted:
            converted[name] = to_frame(rest.select([name]))[name]
        return converted[name]

    features_readings = {name: readings[name] for name in rest.column_names}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Meanwhile, in Arrow's kernels (which release the GIL), while this thread cleans the
        # target: the features' sample, when no row will be dropped for a missing target (else
        # the sample is drawn from the kept rows, after), then their missing cells, every row.
        sampled = (pool.submit(arrow_sample, rest, features_readings, whole, seed)
                   if _target_complete(table, names, readings) else None)
        missing = pool.submit(arrow_missing, rest, features_readings, whole)

        def features(data: TargetData, labels: bool):
            keep = None if data.keep.all() else data.keep
            return describe_arrow_features(
                rest, features_readings, whole, data.values, keep, seed=seed, labels=labels,
                missing=missing.result, sample=sampled.result if sampled is not None else None)

        try:
            return _profile(to_frame(table.select(list(names))), names, features, target, task,
                            n_rows_total=table.num_rows, n_columns=table.num_columns,
                            memory_mb=_frame_megabytes(table, readings), source=source,
                            source_format=source_format, seed=seed)
        finally:
            for future in (sampled, missing):
                if future is not None:
                    future.cancel()


def _target_complete(table: pa.Table, names: tuple[str, ...], readings: dict) -> bool:
    """Whether no row can be dropped for a missing target: one target column of numbers or
    text with no missing cell (null, NaN, ±inf, blank text — cells ``clean_target`` drops or
    refuses). False also means "not known": the sample then waits for the target's cleaning."""
    if len(names) != 1 or readings[names[0]][0] == "pandas":
        return False
    count, _ = arrow_missing_count(table.column(names[0]), readings[names[0]][0], None)
    return count == 0


def _frame_megabytes(table: pa.Table, readings: dict) -> float:
    """What the loader's pandas frame of ``table`` takes (``memory_usage(index=False)``)."""
    total = sum(pandas_nbytes(table.column(name), reading, dtype,
                              lambda name=name: to_frame(table.select([name]))[name])
                for name, (reading, dtype) in readings.items())
    return float(total / 2**20)


def _profile(frame: pd.DataFrame, names: tuple[str, ...], features, target, task: str | None, *,
             n_rows_total: int, n_columns: int, memory_mb: float, source: str,
             source_format: str, seed: int) -> DatasetProfile:
    """The profile from the target's columns in ``frame`` and ``features(target data, labels)``,
    the feature facts of the rows with a target."""
    data = clean_target(frame, names, source, task)
    # The target's value counts, once: the task call, the distinct count and the class facts
    # all read them (three passes over a large column otherwise).
    counts = (data.values.value_counts(sort=False, dropna=True)
              if isinstance(data.values, pd.Series) else None)
    call = infer_task(data.values, ",".join(names), source, forced=task, counts=counts)
    facts = features(data, call.task in CLASSIFICATION_TASKS)
    values = data.values
    target_facts = _target_facts(values, call, counts)
    class_facts = _class_facts(values, call.task, counts)
    warnings = data_warnings(
        target=names[0], target_given=target is not None, cleaning=data.warnings, call=call,
        class_labels=class_facts.get("class_labels"), class_counts=class_facts.get("class_counts"),
        min_class_rows=MIN_CLASS_ROWS, feature_names=facts.names,
        missing_fractions=facts.missing_fractions, identifier_columns=facts.identifier_columns,
        conflicting_label_fraction=facts.conflicting_label_fraction, n_rows=len(values))
    return DatasetProfile(
        source=source,
        source_format=source_format,
        target=",".join(names),
        target_columns=tuple(values.columns) if isinstance(values, pd.DataFrame) else names,
        n_rows_total=n_rows_total,
        n_rows=len(values),
        n_rows_dropped=n_rows_total - len(values),
        n_columns=n_columns,
        memory_mb=memory_mb,
        task=call.task,
        task_confidence=call.confidence,
        task_ambiguous=call.ambiguous,
        task_alternative=call.alternative,
        task_reason=call.reason,
        task_source=call.source,
        **_feature_fields(facts),
        seed=seed,
        label_separator=data.label_separator,
        warnings=tuple(warnings),
        **target_facts,
        **class_facts,
    )


def _feature_fields(facts) -> dict[str, Any]:
    """The profile's fields about the features, from :func:`describe_features`' facts."""
    kinds = facts.kinds
    return dict(
        n_features=len(facts.names),
        **{f"n_{kind}_features": kinds.count(kind) for kind in KINDS},
        feature_names=facts.names,
        feature_kinds=kinds,
        feature_missing_fractions=facts.missing_fractions,
        missing_cell_fraction=facts.missing_cell_fraction,
        rows_with_missing_fraction=facts.rows_with_missing_fraction,
        max_feature_missing_fraction=max(facts.missing_fractions, default=0.0),
        high_cardinality_columns=facts.high_cardinality_columns,
        identifier_columns=facts.identifier_columns,
        feature_outlier_fraction=facts.outlier_fraction,
        feature_outlier_sample_rows=facts.outlier_sample_rows,
        duplicate_row_fraction=facts.duplicate_row_fraction,
        conflicting_label_fraction=facts.conflicting_label_fraction,
        sample_rows=facts.sample_rows,
    )


def encode_labels(values: pd.Series, prof: DatasetProfile) -> np.ndarray:
    """Integer class indices in ``prof.class_labels`` order (binary: 1 = the positive class)."""
    lookup = {_label_key(label): i for i, label in enumerate(prof.class_labels or ())}
    keys = values.map(lambda v: lookup.get(_label_key(_native(v)), -1)).to_numpy()
    if (keys < 0).any():
        unknown = values[keys < 0].iloc[0]
        raise AdvisorError(f"Target value {unknown!r} is not one of the profiled classes.")
    return keys.astype("int64")


def _as_frame(data, encoding):
    if isinstance(data, pd.DataFrame):
        return data, "DataFrame", "pandas DataFrame"
    if isinstance(data, (str, os.PathLike)):
        frame = load_table(data, encoding=encoding)
        fmt = SourceFormat(**frame.attrs["source_format"]).describe()
        return frame, str(Path(data)), fmt
    raise AdvisorError(
        f"Expected a pandas DataFrame or a file path, got {type(data).__name__}. Pass a path "
        "such as 'data.csv' or a DataFrame."
    )


def _target_facts(values, call: TaskCall, counts: pd.Series | None = None) -> dict[str, Any]:
    empty = dict.fromkeys(
        ["target_mean", "target_std", "target_min", "target_max", "target_median", "target_mad",
         "target_robust_scale", "target_skewness", "target_excess_kurtosis",
         "target_outlier_fraction", "target_outlier_low", "target_outlier_high",
         "target_zero_fraction", "target_bounded_unit", "target_dispersion", "target_decades",
         "target_integer_valued", "target_non_negative", "target_histogram_edges",
         "target_histogram_counts"]
    )
    if isinstance(values, pd.DataFrame):
        return {**empty, "target_dtype": "multilabel", "target_unique_count": values.shape[1],
                "target_unique_ratio": values.shape[1] / len(values)}
    unique = int(values.nunique()) if counts is None else len(counts)
    base = {**empty, "target_dtype": str(values.dtype), "target_unique_count": unique,
            "target_unique_ratio": unique / len(values)}
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric:
        return base
    v = values.to_numpy(dtype="float64")
    integer = bool(np.all(v == np.round(v)))
    base.update(target_integer_valued=integer, target_non_negative=bool(v.min() >= 0))
    if call.task in VALUE_TASKS:
        base.update(_value_facts(v, call.task, integer))
    return base


def _value_facts(v: np.ndarray, task: str, integer: bool) -> dict[str, Any]:
    """The distribution of a regression or count target: moments, robust scale, outlier fences
    (modified z-score), zeros, dispersion, decades spanned, and its histogram."""
    median = float(np.median(v))
    deviations = np.abs(v - median)
    mad = float(np.median(deviations))
    scale = MAD_TO_SIGMA * mad or MEANAD_TO_SIGMA * float(deviations.mean())
    if scale > 0:
        outliers = float((deviations / scale > OUTLIER_Z).mean())
        low, high = median - OUTLIER_Z * scale, median + OUTLIER_Z * scale
    else:
        outliers, low, high = 0.0, median, median
    mean, std = float(v.mean()), float(v.std())
    skew, kurt = _shape(v, std)
    positive = v[v > 0]
    decades = None
    if len(positive) >= 2 and v.min() >= 0:
        q01, q99 = np.quantile(positive, [0.01, 0.99])
        decades = float(math.log10(q99 / q01)) if q01 > 0 else None
    edges, counts = _histogram(v, low, high, integer)
    return dict(
        target_histogram_edges=edges,
        target_histogram_counts=counts,
        target_mean=mean,
        target_std=std,
        target_min=float(v.min()),
        target_max=float(v.max()),
        target_median=median,
        target_mad=mad,
        target_robust_scale=scale,
        target_skewness=skew,
        target_excess_kurtosis=kurt,
        target_outlier_fraction=outliers,
        target_outlier_low=low,
        target_outlier_high=high,
        target_zero_fraction=float((v == 0).mean()),
        target_bounded_unit=bool(v.min() >= 0 and v.max() <= 1),
        target_dispersion=float(v.var() / mean) if task == "count" and mean > 0 else None,
        target_decades=decades,
    )


def _shape(v: np.ndarray, std: float) -> tuple[float, float]:
    """Skewness and excess kurtosis (population moments: scipy's defaults); 0 for a constant, and
    for values so nearly equal against their size that scipy finds no shape to measure (NaN)."""
    if std <= 0:
        return 0.0, 0.0
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's "catastrophic cancellation"
        skew, kurt = float(stats.skew(v)), float(stats.kurtosis(v))
    if not (math.isfinite(skew) and math.isfinite(kurt)):
        return 0.0, 0.0
    return skew, kurt


def _histogram(v: np.ndarray, fence_low: float, fence_high: float, integer: bool):
    """Bins over the bulk of the target and both outlier fences; the tails pile into the end bins
    so gross outliers neither vanish nor squash the picture."""
    low = max(float(v.min()), min(fence_low, float(np.quantile(v, 0.005))))
    high = min(float(v.max()), max(fence_high, float(np.quantile(v, 0.995))))
    if high <= low:
        low, high = float(v.min()) - 0.5, float(v.max()) + 0.5
    if integer and high - low <= HISTOGRAM_BINS:
        edges = np.arange(np.floor(low) - 0.5, np.ceil(high) + 1.0)  # one bin per integer
    else:
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
    return tuple(float(e) for e in edges), tuple(int(c) for c in counts)


def _class_facts(values, task: str, counts: pd.Series | None = None) -> dict[str, Any]:
    """Class counts and balance; ``counts`` are ``values.value_counts(sort=False)`` when known."""
    keys = ["n_classes", "class_labels", "class_counts", "positive_class", "minority_class",
            "minority_count", "minority_fraction", "majority_fraction", "imbalance_ratio",
            "entropy_imbalance", "class_effective_samples", "effective_samples_beta",
            "n_small_classes", "label_cardinality"]
    facts: dict[str, Any] = dict.fromkeys(keys)
    if task == "multilabel":
        positives = values.sum(axis=0).to_numpy(dtype="int64")
        n = len(values)
        rare = np.minimum(positives, n - positives)
        worst = int(np.argmin(rare))
        facts.update(
            n_classes=values.shape[1],
            class_labels=tuple(str(c) for c in values.columns),
            class_counts=tuple(int(p) for p in positives),
            minority_class=str(values.columns[worst]),
            minority_count=int(rare[worst]),
            minority_fraction=float(rare[worst] / n),
            majority_fraction=float(positives.max() / n),
            imbalance_ratio=float(max((n - p) / p if p else math.inf for p in positives)),
            n_small_classes=int((rare < MIN_CLASS_ROWS).sum()),
            label_cardinality=float(values.to_numpy().sum(axis=1).mean()),
        )
        return facts
    if task not in ("binary", "multiclass"):
        return facts
    counts = values.value_counts(sort=False) if counts is None else counts
    labels = [_native(x) for x in counts.index]
    order = sorted(range(len(labels)), key=lambda i: _sort_key(labels[i]))
    if task == "binary":
        # The positive class is the minority (PR-AUC and recall speak of it); a tie takes the
        # label that sorts last (1, True, "yes"), as scikit-learn does.
        low, high = order
        order = [high, low] if counts.iloc[low] < counts.iloc[high] else [low, high]
    labels = [labels[i] for i in order]
    n_c = counts.to_numpy(dtype="int64")[order]
    n = int(n_c.sum())
    p = n_c / n
    k = len(n_c)
    entropy = float(-(p * np.log(p)).sum() / math.log(k))
    beta = EFFECTIVE_NUMBER_BETA
    effective = (1 - beta ** n_c.astype(float)) / (1 - beta)
    smallest = int(np.argmin(n_c))
    facts.update(
        n_classes=k,
        class_labels=tuple(labels),
        class_counts=tuple(int(c) for c in n_c),
        positive_class=labels[1] if task == "binary" else None,
        minority_class=labels[smallest],
        minority_count=int(n_c[smallest]),
        minority_fraction=float(p.min()),
        majority_fraction=float(p.max()),
        imbalance_ratio=float(n_c.max() / n_c.min()),
        entropy_imbalance=1.0 - entropy,
        class_effective_samples=tuple(float(e) for e in effective),
        effective_samples_beta=beta,
        n_small_classes=int((n_c < MIN_CLASS_ROWS).sum()),
    )
    return facts


def _native(x):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def _sort_key(label):
    return (0, label, "") if isinstance(label, (int, float, bool)) else (1, 0, str(label))


def _label_key(label):
    return (type(label) is str, str(_native(label)))
