"""Facts about the feature columns: kinds, missing cells, cardinality, outliers, duplicates, conflicts.

Cheap facts (kinds, missing fractions) read every row. Costly ones (feature outliers, duplicate
rows, conflicting labels) read a seeded sample whose size the profile reports, so profiling stays
within a small multiple of the time it takes to read the file. A table read from a file is not
converted to pandas (:func:`describe_arrow_features`): its missing cells are counted in Arrow,
in a thread while the sample is read, and only the sample's rows become pandas — the same facts
as :func:`describe_features` of the converted frame.

A cell is missing when pandas says so (``NaN``, ``None``, ``pd.NA``, ``NaT``), when it holds an
empty or whitespace-only string, or when it is ±inf in a numeric column: :func:`missing_mask`
is the one definition, shared with the trials' preparation (:mod:`advisor.validation.prepare`).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from advisor.profiling.isolation import anomaly_scores
from advisor.profiling.loading import arrow_text, to_frame

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
IDENTIFIER_HEAD_ROWS = 256  # values read first: one that is not an integer settles "no key"
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
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return np.zeros(len(column), dtype=bool)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return ~np.isfinite(column.to_numpy())  # NaN, ±inf
    if arrow_text(dtype):
        values = column.array.__arrow_array__()
        if not len(values):
            return np.zeros(0, dtype=bool)
        return pc.or_kleene(arrow_blank(values), values.is_null()).to_numpy(zero_copy_only=False)
    mask = np.array(column.isna(), dtype=bool)  # a writable copy
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
    if arrow_text(dtype):
        return _arrow_text_missing(column.array.__arrow_array__())
    mask = missing_mask(column)
    count = int(mask.sum())
    return count, (mask if count else None)


def _arrow_text_missing(values) -> tuple[int, np.ndarray | None]:
    """Arrow strings: nulls and blank strings, the mask only when one is missing."""
    blank = arrow_blank(values)
    blanks = pc.sum(blank).as_py() or 0
    if values.null_count + blanks == 0:
        return 0, None
    mask = (pc.or_kleene(blank, values.is_null()) if blanks else values.is_null())
    count = values.null_count + blanks
    return count, mask.to_numpy(zero_copy_only=False)


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
                      seed: int = 0, labels: bool = True,
                      count_missing: bool = True, table_rows: int | None = None,
                      row_hashes=None) -> FeatureFacts:
    """All feature facts for ``features`` (target columns already removed).

    ``labels`` says the target holds class labels, so that identical features with different
    targets are a label-noise sign; for regression and counts that is ordinary noise.
    ``count_missing=False`` counts no missing cell (the caller knows them: the streaming pass).
    ``table_rows``: when ``features`` are a sample of a larger table (the streaming pass's),
    that table's row count, which the identifier test reads (keys packed near the row count).
    ``row_hashes()``: a hash of each row of ``features`` (equal rows, equal hashes), when the
    caller has them: the duplicates and conflicting labels then read them instead of hashing.
    """
    positions = sample_positions(len(features), seed)
    sample = features.iloc[positions] if len(positions) < len(features) else features
    if row_hashes is not None and len(positions) < len(features):
        every = row_hashes
        row_hashes = lambda: every()[positions]  # noqa: E731
    # Column by column: a frame-wide isna() would build (and interleave) a rows × columns block.
    # Counted in a thread (numpy and Arrow kernels release the GIL) while this one reads the
    # sample; the columns are taken out of the frame here, once.
    columns = [features[name] for name in features.columns]
    with ThreadPoolExecutor(max_workers=1) as pool:
        found = pool.submit(lambda: [missing_count(column) if count_missing else (0, None)
                                     for column in columns])
        values = {name: present(sample[name]) for name in features.columns}
        kinds = tuple(column_kind(column, sample[c], values[c])
                      for c, column in zip(features.columns, columns))
        target_sample = None if target is None else target.iloc[positions]
        return _facts(sample, values, len(features), kinds, found.result, target_sample, seed,
                      labels, table_rows, row_hashes)


def describe_arrow_features(table: pa.Table, readings: dict, whole, target, keep=None,
                            seed: int = 0, labels: bool = True, missing=None,
                            sample=None) -> FeatureFacts:
    """:func:`describe_features` of the rows ``keep`` (a mask; every row when None) of ``table``
    as the loader's pandas frame, without converting the table: missing cells are counted in
    Arrow over every row (null, NaN, ±inf, blank text — the same cells), and only the seeded
    sample's rows are converted to pandas, with the dtypes the whole columns get.

    ``readings``: :func:`advisor.profiling.loading.column_readings` of its schema; ``whole(name)``:
    a whole column (every row) as the loader converts it, used only where the sample leaves a
    column's kind open and for columns Arrow cannot read as pandas does; ``missing()``: the
    :func:`arrow_missing` of ``table``, and ``sample()``: its :func:`arrow_sample` (used when
    every row is kept), when the caller computes them meanwhile (in a thread)."""
    rows = np.flatnonzero(keep) if keep is not None else None  # the kept rows' labels
    n = table.num_rows if rows is None else len(rows)
    positions = sample_positions(n, seed)

    def kept(name: str) -> pd.Series:
        return whole(name) if rows is None else whole(name)[keep]

    if rows is None:
        sample = sample() if sample is not None else arrow_sample(table, readings, whole, seed)
    else:
        sample = _arrow_sample(table, rows[positions], n, readings, kept)
    names = table.column_names
    values = {name: present(sample[name]) for name in names}
    kinds = tuple(column_kind(lambda name=name: kept(name), sample[name], values[name])
                  for name in names)
    target_sample = None if target is None else target.iloc[positions]

    def found():
        every = missing() if missing is not None else arrow_missing(table, readings, whole)
        if rows is None:
            return every
        return [(0, None) if mask is None else (int(mask[keep].sum()), mask[keep])
                for _, mask in every]

    return _facts(sample, values, n, kinds, found, target_sample, seed, labels)


def arrow_missing(table: pa.Table, readings: dict, whole) -> list[tuple[int, np.ndarray | None]]:
    """Every column's :func:`arrow_missing_count`, over every row."""
    return [arrow_missing_count(table.column(name), readings[name][0],
                                lambda name=name: whole(name))
            for name in table.column_names]


def arrow_missing_count(values: pa.ChunkedArray, reading: str, whole) -> tuple[int, np.ndarray | None]:
    """:func:`missing_count` of an Arrow column that the loader converts as ``reading`` says
    (:func:`advisor.profiling.loading.reading`), counted in Arrow; ``whole()`` converts the
    column when Arrow cannot read it as pandas does."""
    if reading == "integer":  # integers and booleans: missing only when null
        nulls = values.null_count
        return nulls, (values.is_null().to_numpy(zero_copy_only=False) if nulls else None)
    if reading == "float":  # null, NaN or ±inf
        finite = pc.is_finite(values)  # null where the value is
        count = len(values) - (pc.sum(finite).as_py() or 0)
        if not count:
            return 0, None
        return count, pc.invert(pc.fill_null(finite, False)).to_numpy(zero_copy_only=False)
    if reading == "text":
        return _arrow_text_missing(values)
    return missing_count(whole())


def arrow_sample(table: pa.Table, readings: dict, whole, seed: int) -> pd.DataFrame:
    """The seeded sample of every row of ``table`` (``sample_positions``) as pandas, with its
    whole columns' dtypes (see :func:`describe_arrow_features` for the arguments)."""
    return _arrow_sample(table, sample_positions(table.num_rows, seed), table.num_rows, readings,
                         whole)


def _arrow_sample(table: pa.Table, rows: np.ndarray, n: int, readings: dict,
                  kept) -> pd.DataFrame:
    """The table's ``rows`` (the sample of ``n`` kept rows) as pandas, each column with the
    dtype its whole column gets: integers with a null anywhere become float64, booleans Python
    objects, even where the sample holds no null; any other dtype that differs is taken from
    the kept rows' whole column (``kept(name)``)."""
    every = len(rows) == table.num_rows
    sample = to_frame(table if every else table.take(rows), release=not every)
    sample.index = rows
    for name, (reading, dtype) in readings.items():
        if reading == "integer" and table.column(name).null_count:
            wanted = np.dtype(object) if dtype.kind == "b" else np.dtype("float64")
        else:
            wanted = dtype
        if sample[name].dtype == wanted:
            continue
        if reading == "integer" and wanted.kind == "f":
            sample[name] = sample[name].astype("float64")
        elif reading == "integer":
            sample[name] = sample[name].astype(object)
        else:
            sample[name] = kept(name).loc[rows]
    return sample


def _facts(sample: pd.DataFrame, values: dict, n: int, kinds: tuple[str, ...], found,
           target_sample, seed: int, labels: bool, table_rows: int | None = None,
           row_hashes=None) -> FeatureFacts:
    """The feature facts from the sample (``values``: its columns' present cells), the kinds and
    every column's (missing count, mask): ``found``, or ``found()`` — read last, so that it can
    be counted meanwhile. ``table_rows``, ``row_hashes``: see :func:`describe_features`."""
    names = tuple(str(c) for c in sample.columns)
    block = _outlier_block(sample, kinds)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The forest is whole-array numpy (the GIL released): it grows while this thread reads
        # cardinalities and hashes the sample's rows.
        forest = pool.submit(_outlier_fraction, block, seed) if block is not None else None
        high = tuple(
            name for name, kind in zip(names, kinds)
            if kind in ("categorical", "text") and sample[name].nunique() > HIGH_CARDINALITY
        )
        identifiers = tuple(
            name for name, kind in zip(names, kinds)
            if _looks_like_identifier(values[name], kind, table_rows or n)
        )
        duplicates, conflicts = _duplicates_and_conflicts(
            sample, target_sample, row_hashes() if row_hashes is not None else None)
        outliers, outlier_rows = forest.result() if forest is not None else (None, None)
    if not labels:
        conflicts = None
    found = found() if callable(found) else found
    counts = [count for count, _ in found]
    missing_fractions = tuple(count / n for count in counts) if n else ()
    cells = sum(counts) / (n * len(counts)) if names and n else 0.0
    any_missing = np.zeros(n, dtype=bool)
    for _, mask in found:
        if mask is not None:
            any_missing |= mask
    rows_missing = float(any_missing.mean()) if n else 0.0
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


def column_kind(column, sample: pd.Series, values: pd.Series | None = None) -> str:
    """One of KINDS for a feature column; ``sample`` is a seeded subset of its rows, with the
    column's dtype. ``column`` is the whole column, or a function that returns it (a column
    read in Arrow is converted only when its sample leaves the kind open, or holds objects).

    A column with no value at all (every cell missing) is ``constant``: it holds nothing to learn.
    ``values``: the sample's present cells (:func:`present`), when known.
    """
    whole = column if callable(column) else (lambda: column)
    values = present(sample) if values is None else values
    if values.empty:
        return "constant"
    # The dtype says what the column holds, except for Python objects: those read every value.
    typed = whole() if pd.api.types.is_object_dtype(sample.dtype) else sample
    if is_boolean(typed):
        return "categorical" if values.nunique() > 1 or whole().nunique() > 1 else "constant"
    if holds_numbers(typed):
        numbers = as_float(values)
        numbers = numbers[~np.isnan(numbers)]
        if len(numbers) and numbers.min() != numbers.max():  # the sample settles it
            return "numeric"
        everything = as_float(whole())
        everything = everything[~np.isnan(everything)]
        return "constant" if len(everything) == 0 or everything.min() == everything.max() \
            else "numeric"
    if pd.api.types.is_datetime64_any_dtype(typed):
        return "constant" if whole().nunique() <= 1 else "datetime"
    first = values.iloc[0]
    if isinstance(first, (dt.date, dt.datetime, pd.Timestamp)):
        return "datetime"
    text = values if pd.api.types.is_string_dtype(values) else values.astype("object").map(str)
    distinct = text.nunique()
    if distinct == 1:
        # Constant in the sample: confirm on every row (a cheap comparison, not a hash).
        full = whole()
        full = full[~missing_mask(full)]
        return "constant" if (full.astype(str) == str(text.iloc[0])).all() else "categorical"
    if _looks_like_dates(text):
        return "datetime"
    lengths = text.str.len()
    if (lengths.mean() >= TEXT_MIN_MEAN_LENGTH and distinct / len(text) >= TEXT_MIN_DISTINCT_SHARE
            and text.str.contains(" ", regex=False).mean() >= TEXT_MIN_SPACED_SHARE):
        return "text"
    return "categorical"


def present(column: pd.Series) -> pd.Series:
    """The cells that are not missing (:func:`missing_mask`)."""
    mask = missing_mask(column)
    return column[~mask] if mask.any() else column


def _looks_like_identifier(values: pd.Series, kind: str, n_rows: int) -> bool:
    """Row keys: every sampled value distinct — integers packed in a range near the row count,
    or labels (codes, UUIDs) that never repeat. They carry no signal a model can generalise.
    ``values``: the sample's present cells."""
    if len(values) < IDENTIFIER_MIN_ROWS or kind not in ("numeric", "categorical"):
        return False
    if kind == "numeric":
        # Cheap tests first: most numeric features are not integers packed near the row count,
        # and a non-integer among the first values settles it without reading the rest.
        head = as_float(values.iloc[:IDENTIFIER_HEAD_ROWS])
        if not np.all(head == np.round(head)):
            return False
        v = as_float(values)
        if not (np.all(v == np.round(v)) and v.max() - v.min() < IDENTIFIER_SPAN_PER_ROW * n_rows):
            return False
    return bool(values.nunique() == len(values))


def _looks_like_dates(text: pd.Series) -> bool:
    head = text.iloc[:DATE_SNIFF_ROWS].astype(str)
    if not head.str.contains(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).mean() > DATE_SHARE:
        return False
    parsed = pd.to_datetime(head, errors="coerce", format="mixed", utc=True)  # zones may differ
    return bool(parsed.notna().mean() > DATE_SHARE)


def _outlier_block(sample: pd.DataFrame, kinds: tuple[str, ...]) -> np.ndarray | None:
    """The numeric columns of the sample's first ``OUTLIER_SAMPLE_ROWS`` rows as floats, a
    missing cell as its column's median (0 when the column has none); None when there are no
    numeric columns or too few rows."""
    numeric = [c for c, k in zip(sample.columns, kinds) if k == "numeric"]
    if not numeric:
        return None
    block = sample[numeric].iloc[:OUTLIER_SAMPLE_ROWS]
    if len(block) < MIN_OUTLIER_ROWS:
        return None
    values = np.column_stack([as_float(block[c]) for c in numeric])
    medians = np.nanmedian(values, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    return np.where(np.isnan(values), medians, values)


def _outlier_fraction(values: np.ndarray, seed: int) -> tuple[float, int]:
    """Share of rows (of :func:`_outlier_block`) whose IsolationForest anomaly score exceeds
    ``ANOMALY_SCORE`` (the forest of :mod:`advisor.profiling.isolation`: scikit-learn's
    algorithm, all trees grown at once), and the rows scored.

    scikit-learn's ``contamination='auto'`` threshold (score 0.5) flags 5–20% of clean Gaussian
    rows in few dimensions; 0.65 flags about 1% of them and finds planted 2% outliers (Liu, Ting
    & Zhou 2008 define the score).
    """
    scores = anomaly_scores(values, ISOLATION_TREES, seed)
    return float((scores > ANOMALY_SCORE).mean()), len(values)


def _duplicates_and_conflicts(sample: pd.DataFrame, target, feature_hash=None):
    """Share of rows repeating an earlier row, and of rows whose features repeat with another
    label; ``feature_hash``: each row's features hashed (pandas' hash of the rows when None)."""
    if sample.shape[1] == 0:
        return 0.0, None
    if feature_hash is None:
        feature_hash = pd.util.hash_pandas_object(sample, index=False).to_numpy()
    n = len(feature_hash)
    if target is None:
        features = np.sort(feature_hash)
        return float((n - 1 - np.count_nonzero(features[1:] != features[:-1])) / n), None
    target_hash = pd.util.hash_pandas_object(
        target if isinstance(target, pd.DataFrame) else target.to_frame(), index=False
    ).to_numpy()
    # Rows sorted by (features' hash, target's hash): a row repeats an earlier one unless it
    # starts a new pair; a features' group conflicts when it holds more than one pair.
    order = np.lexsort((target_hash, feature_hash))
    features, labels = feature_hash[order], target_hash[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = features[1:] != features[:-1]
    new_pair = new_group.copy()
    new_pair[1:] |= labels[1:] != labels[:-1]
    duplicates = float((n - np.count_nonzero(new_pair)) / n)
    group = np.cumsum(new_group) - 1
    sizes = np.bincount(group)
    pairs = np.bincount(group, weights=new_pair)
    conflicts = float(sizes[pairs > 1].sum() / n)
    return duplicates, conflicts
