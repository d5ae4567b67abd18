"""Facts about the feature columns: kinds, missing cells, cardinality, outliers, duplicates, conflicts.

Cheap facts (kinds, missing fractions) read every row. Costly ones (feature outliers, duplicate
rows, conflicting labels) read a seeded sample whose size the profile reports, so profiling stays
within a small multiple of the time it takes to read the file.

A cell is missing when pandas says so (``NaN``, ``None``, ``pd.NA``, ``NaT``), when it holds an
empty or whitespace-only string, or when it is ±inf in a numeric column: :func:`missing_mask`
is the one definition, shared with the trials' preparation (:mod:`advisor.validation.prepare`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from advisor.profiling.isolation import anomaly_scores

KINDS = ("numeric", "categorical", "text", "datetime", "constant")
# Rows the costly facts read (duplicates, conflicts, kinds): shares settle to ±0.5% well before.
SAMPLE_ROWS = 50_000
# Rows IsolationForest scores: its trees see 256 rows each, so more rows only cost time.
OUTLIER_SAMPLE_ROWS = 5_000
# Fewer rows than this say nothing about outliers or about every value being distinct.
IDENTIFIER_MIN_ROWS = 20
MIN_OUTLIER_ROWS = 20
# More distinct values than this makes a categorical column expensive to one-hot encode.
HIGH_CARDINALITY = 50
# Text: long strings (mean length at least this), mostly distinct and mostly holding a space.
TEXT_MIN_MEAN_LENGTH = 30
TEXT_MIN_DISTINCT_SHARE = 0.5
TEXT_MIN_SPACED_SHARE = 0.5
# Integer row keys span at most this many times the row count (ids with gaps, or offset).
IDENTIFIER_SPAN_PER_ROW = 2
# Dates: this many leading values are read, and this share of them must look like and parse
# as dates.
DATE_SNIFF_ROWS = 200
DATE_SHARE = 0.95
# IsolationForest anomaly score s = 2^(-E[h]/c(n)) above which a row is an outlier.
ANOMALY_SCORE = 0.65
# Trees in the forest: path lengths settle well before the paper's 100, and cost is per tree.
ISOLATION_TREES = 50


@dataclass(frozen=True)
class FeatureFacts:
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    missing_fractions: tuple[float, ...]
    missing_cell_fraction: float
    rows_with_missing_fraction: float
    high_cardinality_columns: tuple[str, ...]
    identifier_columns: tuple[str, ...]
    outlier_fraction: float | None
    outlier_sample_rows: int | None
    duplicate_row_fraction: float
    conflicting_label_fraction: float | None
    sample_rows: int


def sample_positions(n_rows: int, seed: int, size: int = SAMPLE_ROWS) -> np.ndarray:
    """Sorted row positions of a seeded uniform sample (all rows when there are few)."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=size, replace=False))


def missing_mask(column: pd.Series) -> np.ndarray:
    """Boolean mask of the missing cells: pandas' missing markers, blank strings, ±inf."""
    mask = np.array(column.isna(), dtype=bool)  # a writable copy
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        blank = [c for c in dtype.categories if isinstance(c, str) and not c.strip()]
        if blank:
            mask |= column.isin(blank).to_numpy(dtype=bool)
    elif pd.api.types.is_object_dtype(dtype):
        values = column.to_numpy()
        mask |= np.fromiter((isinstance(v, str) and not v.strip() for v in values), bool,
                            len(values))
    elif pd.api.types.is_string_dtype(dtype):
        mask |= column.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    elif pd.api.types.is_float_dtype(dtype):
        mask |= np.isinf(column.to_numpy(dtype="float64", na_value=np.nan))
    return mask


def missing_count(column: pd.Series) -> tuple[int, np.ndarray | None]:
    """``missing_mask(column)``'s count, with the mask only when a cell is missing (most columns
    have none): floats test finiteness once, integers and booleans in numpy storage cannot miss,
    and Arrow-backed text counts nulls and blank strings inside Arrow."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return 0, None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        mask = ~np.isfinite(column.to_numpy())
    elif arrow_text(dtype):
        values = column.array.__arrow_array__()
        blank = arrow_blank(values)
        blanks = pc.sum(blank).as_py() or 0
        if values.null_count + blanks == 0:
            return 0, None
        mask = (pc.or_kleene(blank, values.is_null()) if blanks else values.is_null()).to_numpy()
    else:
        mask = missing_mask(column)
    count = int(mask.sum())
    return count, (mask if count else None)


def arrow_text(dtype) -> bool:
    """Text held in Arrow string arrays, whose ``str.strip`` is Arrow's ``utf8_trim_whitespace``."""
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def arrow_blank(values):
    """Arrow strings that are empty or only white space (null where the value is null): the
    strings ``utf8_trim_whitespace`` makes empty, without building the trimmed copies."""
    return pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))


def is_boolean(column: pd.Series) -> bool:
    """True/false values, in any storage: numpy or nullable booleans, Arrow's, or Python objects."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return True
    return (pd.api.types.is_object_dtype(column.dtype)
            and pd.api.types.infer_dtype(column, skipna=True) == "boolean")


def holds_numbers(column: pd.Series) -> bool:
    """Numbers in any storage: numeric dtypes (booleans excluded), durations, or an object column
    whose values are all ints, floats or decimals (e.g. built from Python lists with ``None``)."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return True
    return (pd.api.types.is_object_dtype(dtype)
            and pd.api.types.infer_dtype(column, skipna=True) in _NUMBER_KINDS)


_NUMBER_KINDS = ("integer", "floating", "mixed-integer-float", "decimal")


def as_float(column: pd.Series) -> np.ndarray:
    """A numeric, boolean or duration column as float64 (durations in days), missing as NaN."""
    if pd.api.types.is_timedelta64_dtype(column.dtype):
        values = (column / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    elif pd.api.types.is_object_dtype(column.dtype):
        values = pd.to_numeric(column.where(~missing_mask(column), None).map(_number),
                               errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isinf(values), np.nan, values)


def _number(value):
    """A Python object as a number for ``pd.to_numeric`` (booleans as 0/1, anything else as is)."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    return value


def describe_features(features: pd.DataFrame, target: pd.Series | pd.DataFrame | None,
                      seed: int = 0, labels: bool = True) -> FeatureFacts:
    """All feature facts for ``features`` (target columns already removed).

    ``labels`` says the target holds class labels, so that identical features with different
    targets are a label-noise sign; for regression and counts that is ordinary noise.
    """
    positions = sample_positions(len(features), seed)
    sample = features.iloc[positions] if len(positions) < len(features) else features
    names = tuple(str(c) for c in features.columns)
    kinds = tuple(column_kind(features[c], sample[c]) for c in features.columns)
    # Column by column: a frame-wide isna() would build (and interleave) a rows × columns block.
    n = len(features)
    found = [missing_count(features[name]) for name in features.columns]
    counts = [count for count, _ in found]
    missing_fractions = tuple(count / n for count in counts) if n else ()
    cells = sum(counts) / (n * len(counts)) if names and n else 0.0
    any_missing = np.zeros(n, dtype=bool)
    for _, mask in found:
        if mask is not None:
            any_missing |= mask
    rows_missing = float(any_missing.mean()) if n else 0.0
    high = tuple(
        name for name, kind in zip(names, kinds)
        if kind in ("categorical", "text") and sample[name].nunique() > HIGH_CARDINALITY
    )
    identifiers = tuple(
        name for name, kind in zip(names, kinds) if _looks_like_identifier(sample[name], kind, len(features))
    )
    outliers, outlier_rows = _outlier_fraction(sample, kinds, seed)
    target_sample = None if target is None else target.iloc[positions]
    duplicates, conflicts = _duplicates_and_conflicts(sample, target_sample)
    if not labels:
        conflicts = None
    return FeatureFacts(
        names=names,
        kinds=kinds,
        missing_fractions=missing_fractions,
        missing_cell_fraction=float(cells),
        rows_with_missing_fraction=float(rows_missing),
        high_cardinality_columns=high,
        identifier_columns=identifiers,
        outlier_fraction=outliers,
        outlier_sample_rows=outlier_rows,
        duplicate_row_fraction=duplicates,
        conflicting_label_fraction=conflicts,
        sample_rows=len(sample),
    )


def column_kind(column: pd.Series, sample: pd.Series) -> str:
    """One of KINDS for a feature column; ``sample`` is a seeded subset of its rows.

    A column with no value at all (every cell missing) is ``constant``: it holds nothing to learn.
    """
    values = sample[~missing_mask(sample)]
    if values.empty:
        return "constant"
    if is_boolean(column):
        return "categorical" if values.nunique() > 1 or column.nunique() > 1 else "constant"
    if holds_numbers(column):
        numbers = as_float(values)
        numbers = numbers[~np.isnan(numbers)]
        if len(numbers) and numbers.min() != numbers.max():  # the sample settles it
            return "numeric"
        everything = as_float(column)
        everything = everything[~np.isnan(everything)]
        return "constant" if len(everything) == 0 or everything.min() == everything.max() \
            else "numeric"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "constant" if column.nunique() <= 1 else "datetime"
    first = values.iloc[0]
    if isinstance(first, (dt.date, dt.datetime, pd.Timestamp)):
        return "datetime"
    text = values if pd.api.types.is_string_dtype(values) else values.astype("object").map(str)
    distinct = text.nunique()
    if distinct == 1:
        # Constant in the sample: confirm on every row (a cheap comparison, not a hash).
        full = column[~missing_mask(column)]
        return "constant" if (full.astype(str) == str(text.iloc[0])).all() else "categorical"
    if _looks_like_dates(text):
        return "datetime"
    lengths = text.str.len()
    if (lengths.mean() >= TEXT_MIN_MEAN_LENGTH and distinct / len(text) >= TEXT_MIN_DISTINCT_SHARE
            and text.str.contains(" ", regex=False).mean() >= TEXT_MIN_SPACED_SHARE):
        return "text"
    return "categorical"


def _looks_like_identifier(sample: pd.Series, kind: str, n_rows: int) -> bool:
    """Row keys: every sampled value distinct — integers packed in a range near the row count,
    or labels (codes, UUIDs) that never repeat. They carry no signal a model can generalise."""
    values = sample[~missing_mask(sample)]
    if len(values) < IDENTIFIER_MIN_ROWS or kind not in ("numeric", "categorical"):
        return False
    if kind == "numeric":
        v = as_float(values)
        # Cheap tests first: most numeric features are not integers packed near the row count.
        if not (np.all(v == np.round(v)) and v.max() - v.min() < IDENTIFIER_SPAN_PER_ROW * n_rows):
            return False
    return bool(values.nunique() == len(values))


def _looks_like_dates(text: pd.Series) -> bool:
    head = text.iloc[:DATE_SNIFF_ROWS].astype(str)
    if not head.str.contains(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).mean() > DATE_SHARE:
        return False
    parsed = pd.to_datetime(head, errors="coerce", format="mixed", utc=True)  # zones may differ
    return bool(parsed.notna().mean() > DATE_SHARE)


def _outlier_fraction(sample: pd.DataFrame, kinds: tuple[str, ...], seed: int):
    """Share of rows whose IsolationForest anomaly score exceeds ``ANOMALY_SCORE`` (the forest
    of :mod:`advisor.profiling.isolation`: scikit-learn's algorithm, all trees grown at once).

    scikit-learn's ``contamination='auto'`` threshold (score 0.5) flags 5–20% of clean Gaussian
    rows in few dimensions; 0.65 flags about 1% of them and finds planted 2% outliers (Liu, Ting
    & Zhou 2008 define the score).
    """
    numeric = [c for c, k in zip(sample.columns, kinds) if k == "numeric"]
    if not numeric:
        return None, None
    block = sample[numeric].iloc[:OUTLIER_SAMPLE_ROWS]
    if len(block) < MIN_OUTLIER_ROWS:
        return None, None
    values = np.column_stack([as_float(block[c]) for c in numeric])
    medians = np.nanmedian(values, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    values = np.where(np.isnan(values), medians, values)
    scores = anomaly_scores(values, ISOLATION_TREES, seed)
    return float((scores > ANOMALY_SCORE).mean()), len(block)


def _duplicates_and_conflicts(sample: pd.DataFrame, target):
    """Share of rows repeating an earlier row, and of rows whose features repeat with another label."""
    if sample.shape[1] == 0:
        return 0.0, None
    feature_hash = pd.util.hash_pandas_object(sample, index=False).to_numpy()
    if target is None:
        return float(pd.Series(feature_hash).duplicated().mean()), None
    target_hash = pd.util.hash_pandas_object(
        target if isinstance(target, pd.DataFrame) else target.to_frame(), index=False
    ).to_numpy()
    pairs = pd.DataFrame({"f": feature_hash, "t": target_hash})
    duplicates = float(pairs.duplicated().mean())
    labels_per_features = pairs.groupby("f")["t"].transform("nunique")
    conflicts = float((labels_per_features > 1).mean())
    return duplicates, conflicts
