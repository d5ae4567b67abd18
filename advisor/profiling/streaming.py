"""The streaming profile: one pass over record batches, never the whole table in memory.

:func:`scan` reads a table (shards, or one large file) batch by batch and keeps only what each
fact needs:

- **exact over every row**: the row count, rows dropped for a missing target, the target's value
  counts (so class counts, the task call's evidence and the distinct count), its min, max, mean,
  variance, skewness and kurtosis (mergeable moments: Chan et al.'s pairwise update, extended to
  the third and fourth moments by Pébay 2008), its zero share; missing cells per column and rows
  with any missing cell; whether each column holds more than one value (constant columns); and
  duplicate rows (a 64-bit hash of every row, features and target — MurmurHash64A's mixing of
  each cell's 64 bits, the features read in Arrow — kept as the distinct hashes
  in 16 sorted arrays by their top bits: 8 bytes per distinct row, so 80 MB for 10⁷ rows, plus a
  copy of one array — a sixteenth — while new hashes merge in; two different rows collide with
  probability about n²/2⁶⁵, 3·10⁻⁶ at 10⁷ rows). The target's value counts cost 16 bytes per
  distinct value up to ``STANDIN_ROWS`` distinct values, then 8 (the distinct values alone: the
  distinct count stays exact, the task call then reads the sample);
- **from a seeded uniform sample** of ``SAMPLE_ROWS`` rows (the profile's ``sample_rows``): the
  target's median, MAD, robust scale, outlier share and fences, decades and histogram, and every
  feature fact the in-memory profiler already reads from its sample (kinds, cardinality,
  identifiers, outliers, conflicting labels). ``DatasetProfile.facts_from_sample`` names them.
  The sample's profile reads the pass's hash of each sampled row's features (kept for the rows
  the samples store) rather than hashing them again, and the exact row count for its identifier
  test.

The features' exact facts are tallied in a thread, one batch behind the thread that reads the
batches, tallies the target and offers rows to the samples (numpy and Arrow release the GIL);
the last batch's tally and the hashes' merge overlap the sample's profile (``Scan.tallied``).

The sample is a reservoir drawn by random tags ("bottom-k" sampling): every row gets a 64-bit key,
a bijective hash (splitmix64) of the seed and its row number, and the sample is the ``k`` rows with
the smallest keys — a uniform ``k``-subset, like Vitter's algorithm R, but one that does not
depend on where batches begin and end, or on the order threads deliver them. The same keys give
the trials' sample: per class, the rows with the smallest keys, ``max(1, round(n_c · cap / n))``
of each class (the quotas of :func:`advisor.validation.prepare.stratified_sample`), each class's
reservoir shrinking to twice its running quota as the pass goes; for regression and counts, the
``cap`` smallest keys overall.

When streaming is used (:func:`streams`): always for a directory or glob of shards; for one file
when reading it whole would not fit — its size times ``IN_MEMORY_COST`` (the in-memory profile's
peak per byte of file, Parquet's decompression included) exceeds ``--memory-limit-mb``, or
``DEFAULT_STREAM_BYTES`` (1 GiB of file) when no limit is given.

The task call (:func:`advisor.profiling.target.infer_task`) reads a stand-in target with the
exact value counts (scaled to ``STANDIN_ROWS`` rows beyond that many, every value kept), so it
decides as it would on the whole column. Rows are "rows with a target" throughout, as in memory.

A table of at most ``SAMPLE_ROWS`` rows (with a target) is its own sample, so its streaming profile
equals the in-memory one on every fact. Multilabel targets (several columns, or delimited label
sets) are not streamed yet: they raise a one-line error.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from advisor.base.errors import AdvisorError, UsageError
from advisor.profiling import features as feats
from advisor.profiling import loading
from advisor.profiling import target as targets
from advisor.profiling.notes import data_warnings
from advisor.profiling.shards import Shards, open_file, open_shards, table_set

SAMPLE_ROWS = feats.SAMPLE_ROWS  # the uniform sample's size, as the in-memory profiler's
BATCH_ROWS = 1 << 18  # rows per record batch (20 number columns: 40 MB)
DEFAULT_STREAM_BYTES = 1 << 30  # one file above this streams when no memory limit is given
IN_MEMORY_COST = 4.0  # bytes of memory an in-memory profile peaks at, per byte of file
STANDIN_ROWS = 1_000_000  # the task call reads at most this many rows of exact value counts
MAX_STRATA = 1000  # more distinct target values than this: not classes (multiclass allows 1000)
MAX_TEXT_LABELS = 200_000  # distinct text targets tracked before the column is refused
MIN_STRATUM_ROWS = 64  # a class reservoir never shrinks below this many rows
# Facts a streaming profile reads from its sample (exact facts are everything else).
SAMPLED_FACTS = (
    "target_median", "target_mad", "target_robust_scale", "target_outlier_fraction",
    "target_outlier_low", "target_outlier_high", "target_decades", "target_histogram_edges",
    "target_histogram_counts", "feature_kinds", "high_cardinality_columns", "identifier_columns",
    "feature_outlier_fraction", "conflicting_label_fraction",
)
_NO_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)


def streams(path: str | os.PathLike, memory_limit_mb: float | None = None) -> bool:
    """Whether ``path`` is profiled by streaming: shards always; one file when its in-memory
    profile (``IN_MEMORY_COST`` × its size) would exceed the memory limit, or when it is larger
    than ``DEFAULT_STREAM_BYTES`` and no limit is given."""
    if table_set(path):
        return True
    try:
        size = os.path.getsize(path)
    except OSError:
        return False  # load_table reports the missing file
    if memory_limit_mb:
        return size * IN_MEMORY_COST > memory_limit_mb * 2**20
    return size > DEFAULT_STREAM_BYTES


def stream_threshold_bytes(memory_limit_mb: float | None = None) -> int:
    """The file size above which one file streams."""
    if memory_limit_mb:
        return int(memory_limit_mb * 2**20 / IN_MEMORY_COST)
    return DEFAULT_STREAM_BYTES


def open_table(path: str | os.PathLike) -> Shards:
    """Shards, or one file, as a dataset read batch by batch."""
    if table_set(path):
        return open_shards(path)
    loading._check_readable(Path(path))
    return open_file(path)


# --------------------------------------------------------------------------------------------
# Mergeable moments


@dataclass
class Moments:
    """Count, mean and central moment sums M2..M4 of a stream, merged batch by batch
    (Chan, Golub & LeVeque 1979 for M2; Pébay 2008 for M3 and M4)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, v: np.ndarray) -> None:
        if not len(v):
            return
        nb = len(v)
        mb = float(v.mean())
        d = v - mb
        d2 = d * d
        m2b, m3b, m4b = float(d2.sum()), float((d2 * d).sum()), float((d2 * d2).sum())
        self.low, self.high = min(self.low, float(v.min())), max(self.high, float(v.max()))
        if self.n == 0:
            self.n, self.mean, self.m2, self.m3, self.m4 = nb, mb, m2b, m3b, m4b
            return
        na, n = self.n, self.n + nb
        delta = mb - self.mean
        m2a, m3a, m4a = self.m2, self.m3, self.m4
        self.m4 = (m4a + m4b + delta**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
                   + 6 * delta**2 * (na * na * m2b + nb * nb * m2a) / n**2
                   + 4 * delta * (na * m3b - nb * m3a) / n)
        self.m3 = (m3a + m3b + delta**3 * na * nb * (na - nb) / n**2
                   + 3 * delta * (na * m2b - nb * m2a) / n)
        self.m2 = m2a + m2b + delta * delta * na * nb / n
        self.mean = self.mean + delta * nb / n
        self.n = n

    @property
    def variance(self) -> float:  # population variance, as numpy's default
        return self.m2 / self.n if self.n else math.nan

    def shape(self) -> tuple[float, float]:
        """Skewness and excess kurtosis (population moments, as scipy's defaults)."""
        if self.n == 0 or self.m2 <= 0:
            return 0.0, 0.0
        m2 = self.m2 / self.n
        return (self.m3 / self.n) / m2**1.5, (self.m4 / self.n) / m2**2 - 3.0


# --------------------------------------------------------------------------------------------
# Seeded samples by random tags


def row_keys(start: int, count: int, seed: int) -> np.ndarray:
    """splitmix64 of (row number + a seed offset): distinct rows get distinct uniform keys."""
    offset = np.uint64(_splitmix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0])
    x = np.arange(start, start + count, dtype=np.uint64) + offset
    return _splitmix(x)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class BottomK:
    """The ``capacity`` rows with the smallest keys seen so far: a uniform sample of them."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.keys = np.empty(0, dtype=np.uint64)
        self.ids = np.empty(0, dtype=np.int64)
        self.threshold = _NO_KEY  # keys below this may enter
        self.seen = 0  # rows offered

    def offer(self, keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Take the rows that belong; returns the mask of the offered rows now held."""
        self.seen += len(keys)
        passed = keys < self.threshold if len(self.keys) >= self.capacity else np.ones(len(keys), bool)
        if self.capacity <= 0 or not passed.any():
            return np.zeros(len(keys), bool)
        k = np.concatenate([self.keys, keys[passed]])
        i = np.concatenate([self.ids, ids[passed]])
        self._keep(k, i, self.capacity)
        if self.threshold != _NO_KEY:  # keys are distinct: the kept ones are at most the largest
            passed &= keys <= self.threshold
        return passed

    def shrink(self, capacity: int) -> None:
        self.capacity = capacity
        if len(self.keys) > capacity:
            self._keep(self.keys, self.ids, capacity)

    def smallest(self, k: int) -> np.ndarray:
        """Ids of the ``k`` smallest keys held."""
        if k >= len(self.keys):
            return self.ids
        return self.ids[np.argpartition(self.keys, k - 1)[:k]]

    def _keep(self, k: np.ndarray, i: np.ndarray, capacity: int) -> None:
        if len(k) > capacity:
            part = np.argpartition(k, capacity - 1)[:capacity]
            k, i = k[part], i[part]
        self.keys, self.ids = k, i
        self.threshold = k.max() if len(k) >= capacity and len(k) else _NO_KEY


class _RowStore:
    """Arrow rows that may be in a sample, by kept-row id; compacted to the held ids now and then."""

    def __init__(self):
        self.tables: list[pa.Table] = []
        self.rows = 0

    def add(self, batch: pa.RecordBatch, ids: np.ndarray) -> None:
        if len(ids):
            table = pa.Table.from_batches([batch]).append_column("__row__", pa.array(ids))
            self.tables.append(table)
            self.rows += len(ids)

    def compact(self, held: np.ndarray) -> None:
        if not self.tables:
            return
        table = self._rows(held)
        self.tables, self.rows = [table], table.num_rows

    def frame(self, ids: np.ndarray) -> pd.DataFrame:
        """The rows with these ids, in row order, as the in-memory loader would give them."""
        return loading.to_frame(self._rows(ids).drop_columns(["__row__"]))

    def _rows(self, ids: np.ndarray) -> pa.Table:
        """The stored rows with these ids, in row order (batches come in row order). A mask
        keeps that order and, on a table of many chunks, is cheaper than a take; when every
        stored row is wanted (often, once compacted), there is nothing to copy."""
        table = pa.concat_tables(self.tables)
        wanted = _member(table.column("__row__").to_numpy(), _sorted_unique(ids))
        return table if wanted.all() else table.filter(pa.array(wanted))


def _sorted_unique(ids: np.ndarray) -> np.ndarray:
    ids = np.sort(ids)
    return ids[np.concatenate([[True], ids[1:] != ids[:-1]])] if len(ids) else ids


def _member(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_ids)`` for sorted, distinct ids, by binary search."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[at] == values


# --------------------------------------------------------------------------------------------
# The pass


class _Distinct:
    """Exact distinct values (and their counts while they are few) of a numeric stream."""

    def __init__(self):
        self.values = np.empty(0, dtype=np.float64)
        self.counts: np.ndarray | None = np.empty(0, dtype=np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_rows = 0

    def add(self, v: np.ndarray) -> None:
        values, counts = np.unique(v, return_counts=True)
        self.pending.append((values, counts))
        self.pending_rows += len(values)
        if self.pending_rows > max(len(self.values), 1 << 16):  # doubling: O(n log n) overall
            self.merge()

    def merge(self) -> None:
        if not self.pending:
            return
        values = np.concatenate([self.values] + [p[0] for p in self.pending])
        if self.counts is not None:
            counts = np.concatenate([self.counts] + [p[1] for p in self.pending])
            self.values, inverse = np.unique(values, return_inverse=True)
            self.counts = np.bincount(inverse, weights=counts).astype(np.int64)
            if len(self.values) > STANDIN_ROWS:
                self.counts = None  # too many to count: distinct values only (8 bytes each)
        else:
            self.values = np.unique(values)
        self.pending, self.pending_rows = [], 0


class _Hashes:
    """Distinct 64-bit row hashes: 8 bytes per distinct row (see the module docstring), kept in
    ``BUCKETS`` sorted arrays by the hash's top bits, so that merging new hashes in copies one
    bucket at a time (a sixteenth of the hashes), not all of them at once."""

    BUCKETS = 16

    def __init__(self):
        self.unique = [np.empty(0, dtype=np.uint64) for _ in range(self.BUCKETS)]
        self.pending: list[list[np.ndarray]] = [[] for _ in range(self.BUCKETS)]
        self.pending_rows = [0] * self.BUCKETS
        self._edges = (np.arange(1, self.BUCKETS, dtype=np.uint64)
                       << np.uint64(64 - int(math.log2(self.BUCKETS))))

    def add(self, h: np.ndarray) -> None:
        h = np.sort(h)
        cuts = np.searchsorted(h, self._edges)
        for b, part in enumerate(np.split(h, cuts)):
            if len(part):
                self.pending[b].append(part)
                self.pending_rows[b] += len(part)
                if self.pending_rows[b] > max(len(self.unique[b]), 1 << 18):
                    self._merge(b)

    def _merge(self, b: int) -> None:
        if self.pending[b]:
            merged = np.concatenate([self.unique[b]] + self.pending[b])
            merged.sort()  # in place; sorted runs sort fast
            keep = np.empty(len(merged), dtype=bool)
            keep[:1] = True
            np.not_equal(merged[1:], merged[:-1], out=keep[1:])
            self.unique[b] = merged[keep]
            self.pending[b], self.pending_rows[b] = [], 0

    def merge(self) -> int:
        """The number of distinct hashes."""
        for b in range(self.BUCKETS):
            self._merge(b)
        return sum(len(u) for u in self.unique)


@dataclass
class _Column:
    missing: int = 0
    first: Any = None
    varies: bool = False


@dataclass
class Scan:
    """What one pass over a table found: exact facts, the uniform sample, the trials' sample."""

    source: str
    source_format: str
    target: str
    n_rows_total: int
    n_rows: int
    n_columns: int
    memory_mb: float
    call: targets.TaskCall
    target_dtype: str
    numeric_target: bool
    moments: Moments
    zeros: int
    integer_valued: bool
    n_distinct: int
    counts: pd.Series | None  # exact value counts of the target, when there are few values
    feature_names: tuple[str, ...]
    # () -> (feature_missing, feature_varies, rows_with_missing, distinct_rows): the features'
    # exact facts, tallied in a thread that may still be finishing (see the properties)
    tallied: Callable[[], tuple]
    sample: pd.DataFrame  # the uniform sample (kept rows), in row order
    # () -> the features' hash of each of the sample's rows, from the pass (see _FeatureTally)
    sample_hashes: Callable[[], np.ndarray]
    trial_sample: pd.DataFrame | None  # rows for the trials, in row order
    target_given: bool = True
    sampled_task: bool = False  # the task call read a scaled or sampled target

    @property
    def feature_missing(self) -> tuple[int, ...]:
        return self.tallied()[0]

    @property
    def feature_varies(self) -> tuple[bool, ...]:
        return self.tallied()[1]

    @property
    def rows_with_missing(self) -> int:
        return self.tallied()[2]

    @property
    def distinct_rows(self) -> int:
        return self.tallied()[3]

    def class_counts(self) -> _Counted:
        """The exact counts, for :func:`advisor.profiling.profiler._class_facts`."""
        return _Counted(self.counts)


class _Counted:
    """Exact value counts in the one shape the class facts read (``value_counts``)."""

    def __init__(self, counts: pd.Series):
        self._counts = counts

    def value_counts(self, sort: bool = False) -> pd.Series:
        return self._counts

    def __len__(self) -> int:
        return int(self._counts.sum())


def scan(path: str | os.PathLike, target=None, task: str | None = None, *, seed: int = 0,
         keep_rows: int | Callable[[float], int] = 0, batch_rows: int = BATCH_ROWS,
         encoding: str | None = None) -> Scan:
    """One pass over the table at ``path`` (see the module docstring).

    ``keep_rows``: the trials' sample size, or a function of the table's in-memory megabytes per
    row that returns it (the pipeline passes ``rows_within``); 0 draws no trials' sample.
    """
    if encoding not in (None, "utf-8", "utf8"):
        raise UsageError(f"--encoding {encoding} is not supported for sharded or streamed "
                         "tables; convert them to UTF-8 or Parquet.")
    table = open_table(path)
    source = str(path)
    names = targets.resolve_target(pd.DataFrame(columns=table.schema.names), target, source)
    if len(names) > 1:
        raise AdvisorError(f"Multilabel targets ({', '.join(names)}) are not profiled from shards "
                           "or streamed files yet; pass one file that fits in memory.")
    name = names[0]
    tally = _TargetTally(name, source, task)
    fnames = tuple(n for n in table.schema.names if n != name)
    features = _FeatureTally(fnames, source)
    samples = _Samples(keep_rows, seed)
    n_total, memory, tallied, added = _pass(table, name, tally, features, samples, batch_rows)
    counts, n_distinct, dtype = tally.counts(table.schema.field(name).type)
    standin, sampled_task = _standin(counts, tally.first_values, dtype, tally.n, seed)
    sample, trial, sample_ids = samples.frames(counts, tally.n)

    stored, with_features = features.stored, bool(fnames)  # not the tally: its hashes go

    def sample_hashes() -> np.ndarray:
        added()  # the last batch's hashes
        return _hashes_of(stored, sample_ids) if with_features else np.zeros(len(sample_ids),
                                                                              dtype=np.uint64)
    if standin is None:  # too many distinct values to count: the task call reads the sample
        standin = targets._as_numbers(sample[name].loc[~targets._missing_mask(sample[name])])
    return Scan(
        source=source, source_format=table.describe(), target=name, n_rows_total=n_total,
        n_rows=tally.n, n_columns=len(table.schema.names), memory_mb=memory,
        call=targets.infer_task(standin, name, source, forced=task), target_dtype=str(dtype),
        numeric_target=tally.moments.n > 0, moments=tally.moments, zeros=tally.zeros,
        integer_valued=tally.integer, n_distinct=n_distinct, counts=counts,
        feature_names=fnames, tallied=tallied, sample=sample, sample_hashes=sample_hashes,
        trial_sample=trial, target_given=target is not None, sampled_task=sampled_task,
    )


def _pass(table: Shards, name: str, tally: _TargetTally, features: _FeatureTally,
          samples: _Samples, batch_rows: int):
    """Every batch through the tallies and the samples: (rows read, the table's in-memory
    megabytes, ``tallied()``: the features' exact facts, see :class:`Scan`, ``added()``: waits
    for the last batch's tally, after which the sampled rows' hashes are all known).

    The features' exact facts (missing cells, constant columns, row hashes: numpy and Arrow
    work that releases the GIL) are tallied in a thread, one batch behind this one, which reads
    the next batch, tallies the target and offers rows to the samples meanwhile; the last
    batch's tally and the hashes' merge overlap the sample's profile."""
    n_total, memory = 0, 0.0
    pool = ThreadPoolExecutor(max_workers=1)
    adding = stored = None
    try:
        for shard, batch in _batches(table, batch_rows):
            # Only the target becomes pandas; the features are read in Arrow (``_FeatureTally``).
            column = _pandas_column(batch, name)
            converted = features.pandas_columns(batch)  # the few columns not read in Arrow, once
            batch_mb = features.megabytes(batch, {**converted, name: column})
            memory += batch_mb
            n_total += batch.num_rows
            samples.size_for(batch_mb / batch.num_rows)
            start = tally.n
            kept, keep, labels = tally.add(column, shard)
            if kept is None:
                continue
            if len(kept) < batch.num_rows:
                batch = batch.filter(pa.array(keep))
                converted = {n: c[keep].reset_index(drop=True) for n, c in converted.items()}
            if adding is not None:
                adding.result()  # one batch in the thread at a time: memory stays bounded
            stored = Future()  # the rows the samples take: the tally keeps their hashes
            adding = pool.submit(features.add, batch, kept, converted, start, stored)
            stored.set_result(samples.offer(batch, labels, start, batch_rows))
        tally.check(n_total)
    except BaseException:
        if stored is not None:
            stored.cancel()  # a tally waiting for it stops (it is not set when offering failed)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    n_kept = tally.n

    def summary():
        if adding is not None:
            adding.result()
        return (features.missing(), features.varies(), features.rows_missing,
                features.distinct_rows(n_kept))

    tallied = pool.submit(summary)
    pool.shutdown(wait=False)
    return n_total, memory, tallied.result, (adding.result if adding is not None else _nothing)


def _nothing() -> None:
    return None


class _TargetTally:
    """The target over every row: rows kept, value counts, moments, zeros, integer-ness."""

    def __init__(self, name: str, source: str, task: str | None):
        self.name, self.source, self.task = name, source, task
        self.n = 0
        self.moments, self.distinct = Moments(), _Distinct()
        self.text_counts: Counter | None = None
        self.bool_counts: Counter | None = None
        self.zeros = 0
        self.integer = True
        self.nulls = False
        self.first_values: pd.Series | None = None

    def add(self, column: pd.Series, shard: str):
        """(kept values, keep mask, labels) of one batch; (None, mask, None) when none is kept."""
        missing = targets._missing_mask(column).to_numpy(dtype=bool)
        self.nulls |= bool(missing.any())
        keep = ~missing
        kept = targets._as_numbers(column[keep])
        start = self.n
        self.n += len(kept)
        if not len(kept):
            return None, keep, None
        if self.first_values is None:
            self.first_values = kept
        if pd.api.types.is_numeric_dtype(kept) and not pd.api.types.is_bool_dtype(kept):
            return kept, keep, self._numbers(kept, start, shard)
        if pd.api.types.is_bool_dtype(kept):
            self.bool_counts = self.bool_counts or Counter()
            self.bool_counts.update({bool(k): int(c) for k, c in kept.value_counts().items()})
            return kept, keep, kept.to_numpy(dtype=bool)
        self._text(kept)
        return kept, keep, kept.to_numpy(dtype=object)

    def _numbers(self, kept: pd.Series, start: int, shard: str) -> np.ndarray:
        v = kept.to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(v).any():
            at = start + int(np.flatnonzero(np.isinf(v))[0])
            raise AdvisorError(
                f"Target column '{self.name}' in {self.source} holds ±inf (first at row "
                f"{at + 1} of those with a target, in {shard}); expected finite numbers. Drop "
                "or fix those rows.")
        self.moments.add(v)
        self.zeros += int((v == 0).sum())
        self.integer = self.integer and bool(np.all(v == np.round(v)))
        self.distinct.add(v)
        return v

    def _text(self, kept: pd.Series) -> None:
        if (self.text_counts is None and self.task in (None, "multilabel")
                and targets._is_text(kept)
                and targets._label_separator(kept, forced=self.task == "multilabel")):
            raise AdvisorError(
                f"Target column '{self.name}' in {self.source} holds delimited label sets "
                "(multilabel); those are not profiled from shards or streamed files yet. Pass "
                "one file that fits in memory.")
        self.text_counts = self.text_counts if self.text_counts is not None else Counter()
        self.text_counts.update(kept.astype("object").value_counts().to_dict())
        if len(self.text_counts) > MAX_TEXT_LABELS:
            raise AdvisorError(
                f"Target column '{self.name}' in {self.source} holds more than "
                f"{MAX_TEXT_LABELS:,} distinct text values: an identifier, not labels. Pass "
                "another --target.")

    def check(self, n_total: int) -> None:
        name, source = self.name, self.source
        if n_total == 0:
            raise AdvisorError(f"Input {source} has columns but no rows; expected data rows.")
        if self.n == 0:
            raise AdvisorError(f"Target column '{name}' in {source} has no values (all "
                               f"{n_total} rows are missing). Choose another column with --target.")
        if self.n < targets.MIN_ROWS:
            raise AdvisorError(
                f"Target column '{name}' in {source} has only {self.n} non-missing values; "
                f"expected at least {targets.MIN_ROWS} rows to profile. Add rows or choose "
                "another target.")

    def counts(self, arrow_type: pa.DataType):
        """(exact value counts or None when too many, distinct count, the column's dtype as
        the in-memory loader gives it: int64 columns with a missing cell become float64)."""
        if self.moments.n:
            self.distinct.merge()
            integer = pa.types.is_integer(arrow_type) and not self.nulls
            dtype = np.dtype("int64") if integer else np.dtype("float64")
            values, counts = self.distinct.values, self.distinct.counts
            series = (pd.Series(counts, index=pd.Index(values.astype(dtype)))
                      if counts is not None else None)
            return series, len(values), dtype
        found = self.bool_counts if self.bool_counts is not None else self.text_counts
        series = pd.Series(found, dtype="int64")
        return series, len(series), self.first_values.dtype


class _FeatureTally:
    """The features over every row: missing cells, constant columns, distinct rows; and the
    features' hash (before the target is mixed in) of every row the samples stored, so that
    the sample's profile reads its rows' hashes instead of hashing them again (for conflicting
    labels): 16 bytes per stored row, pruned whenever the samples' store is compacted, so at
    most a few times the rows the reservoirs hold (a small share of what the store holds of
    those rows)."""

    def __init__(self, names: tuple[str, ...], source: str = "the table"):
        self.names, self.source = names, source
        self.columns = {n: _Column() for n in names}
        self.rows_missing = 0
        self.hashes = _Hashes()
        self.stored: list[tuple[np.ndarray, np.ndarray]] = []  # (row ids, features' hashes)
        self._last: tuple[pa.Schema, dict[str, tuple[str, Any]]] | None = None

    def readings(self, schema: pa.Schema) -> dict[str, tuple[str, Any]]:
        """Each column's (reading, pandas dtype): how the in-memory loader converts a batch of
        this schema (its pandas metadata included) decides how the column is read."""
        last = self._last
        if last is not None and (last[0] is schema or last[0].equals(schema)):
            return last[1]
        found = loading.column_readings(schema)
        if found is None:
            raise AdvisorError(f"Input {self.source} has pandas metadata that makes a column "
                               "the index (or repeats a column name), which is not streamed; "
                               "write it with to_parquet(..., index=False).")
        self._last = (schema, found)
        return found

    def pandas_columns(self, batch: pa.RecordBatch) -> dict[str, pd.Series]:
        """The batch's feature columns that are read through pandas, converted."""
        return {name: _pandas_column(batch, name) for name in self.names
                if self.readings(batch.schema)[name][0] == "pandas"}

    def megabytes(self, batch: pa.RecordBatch, converted: dict[str, pd.Series]) -> float:
        """What the batch takes as the in-memory loader's DataFrame (``memory_usage``);
        ``converted``: the columns read through pandas (:meth:`pandas_columns`, and the
        target)."""
        total = sum(loading.pandas_nbytes(batch.column(name), reading, dtype,
                                          lambda name=name: converted[name])
                    for name, (reading, dtype) in self.readings(batch.schema).items())
        return total / 2**20

    def add(self, batch: pa.RecordBatch, target: pd.Series, converted: dict[str, pd.Series],
            start: int = 0, stored: Future | None = None) -> None:
        """One batch's rows (those with a target, the first numbered ``start``): missing cells,
        rows with any, whether each column varies, and every row's hash (MurmurHash64A's mixing
        over the row's cells); the features' hashes of the rows the samples store are kept
        (``stored``: the mask of them, set by the thread that offers the batch to the samples;
        that takes less time than this tally, so waiting for it rarely waits)."""
        any_missing = np.zeros(batch.num_rows, dtype=bool)
        h = np.full(batch.num_rows, (len(self.names) * int(_MURMUR)) % 2**64, dtype=np.uint64)
        scratch = np.empty((2, batch.num_rows), dtype=np.uint64)
        readings = self.readings(batch.schema)
        for name in self.names:
            reading = readings[name][0]
            mask, bits = _column_facts(batch, name, reading, self.columns[name],
                                       converted.get(name))
            if mask is not None:
                any_missing |= mask
            # Floats and text come as new arrays (see their readers): mixed where they are.
            _absorb(h, bits, scratch, owned=reading in ("float", "text"))
        self.rows_missing += int(any_missing.sum())
        if self.names:
            if stored is not None:
                mask, held = stored.result()
                if mask.any():
                    self.stored.append((np.flatnonzero(mask) + start, h[mask]))
                if held is not None:  # the samples' store was compacted to these rows: so is this
                    self._prune(held)
            _absorb(h, _column_bits(target), scratch, owned=True)
            tmp = scratch[1]  # MurmurHash64A's finish: h ^= h >> 47; h *= m; h ^= h >> 47
            np.bitwise_xor(h, np.right_shift(h, _SHIFT, out=tmp), out=h)
            np.multiply(h, _MURMUR, out=h)
            np.bitwise_xor(h, np.right_shift(h, _SHIFT, out=tmp), out=h)
            self.hashes.add(h)

    def missing(self) -> tuple[int, ...]:
        return tuple(self.columns[n].missing for n in self.names)

    def varies(self) -> tuple[bool, ...]:
        return tuple(self.columns[n].varies for n in self.names)

    def distinct_rows(self, n: int) -> int:
        return self.hashes.merge() if self.names else n

    def _prune(self, held: np.ndarray) -> None:
        """Keep the hashes of the ``held`` rows only, in one array (in place: the list is
        shared with the scan's ``sample_hashes``)."""
        ids, hashes = _joined(self.stored)
        keep = _member(ids, _sorted_unique(held))
        self.stored[:] = [(ids[keep], hashes[keep])]


def _joined(stored: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The tally's kept (row ids, hashes) as two arrays, ids sorted (batches come in row
    order)."""
    if not stored:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    return np.concatenate([i for i, _ in stored]), np.concatenate([h for _, h in stored])


def _hashes_of(stored: list[tuple[np.ndarray, np.ndarray]], ids: np.ndarray) -> np.ndarray:
    """The features' hashes of the rows ``ids`` from the tally's kept (row ids, hashes)."""
    known, hashes = _joined(stored)
    if not _member(ids, known).all():
        raise RuntimeError("the streaming pass kept no features' hash for a sampled row")
    return hashes[np.searchsorted(known, ids)]


class _Samples:
    """The seeded samples of one pass: uniform (the profile's), per class (the trials')."""

    def __init__(self, keep_rows, seed: int):
        self.keep_rows, self.seed = keep_rows, seed
        self.cap: int | None = keep_rows if isinstance(keep_rows, int) else None
        self.uniform = BottomK(max(SAMPLE_ROWS, self.cap or 0))
        self.strata: dict[Any, BottomK] | None = {}
        self.store = _RowStore()
        self.seen = 0

    def size_for(self, mb_per_row: float) -> None:
        """The trials' sample size, from the first batch's megabytes per row."""
        if self.cap is None:
            self.cap = int(self.keep_rows(max(mb_per_row, 1e-9)))
            self.uniform = BottomK(max(SAMPLE_ROWS, self.cap))

    def offer(self, batch: pa.RecordBatch, labels: np.ndarray, start: int,
              batch_rows: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Offer one batch's rows (the first numbered ``start``) to the samples; returns the mask
        of those stored (held by a reservoir now) and, when the store was compacted, the ids of
        the rows it still holds (None otherwise)."""
        count = batch.num_rows
        self.seen = start + count
        keys = row_keys(start, count, self.seed)
        ids = np.arange(start, start + count, dtype=np.int64)
        passed = self.uniform.offer(keys, ids)
        if self.strata is not None:
            passed |= self._offer_strata(labels, keys, ids)
        if passed.any():
            # Filtered as it comes (keeping the whole batch until the samples are taken would
            # save a copy on a small table, but costs a large one 30 MB of peak memory).
            self.store.add(batch.filter(pa.array(passed)), ids[passed])
        held = self.uniform.capacity + sum(r.capacity for r in (self.strata or {}).values())
        compacted = None
        if self.store.rows > 2 * held + batch_rows:
            compacted = _held_ids(self.uniform, self.strata)
            self.store.compact(compacted)
        return passed, compacted

    def _offer_strata(self, labels, keys, ids) -> np.ndarray:
        passed = np.zeros(len(ids), dtype=bool)
        codes, uniques = pd.factorize(labels, use_na_sentinel=False)
        near = _near_rows(self.strata, uniques, keys)
        totals = np.bincount(codes, minlength=len(uniques)) if near is not None else None
        if near is not None:  # only rows below some class's threshold can enter
            codes, keys, ids = codes[near], keys[near], ids[near]
        for code, label in enumerate(uniques):
            member = codes == code
            label = _label_of(label)
            reservoir = self.strata.get(label)
            if reservoir is None:
                if len(self.strata) >= MAX_STRATA:  # not classes: the trials take uniform rows
                    self.strata = None
                    return passed
                reservoir = self.strata[label] = BottomK(max(self.cap or 1, 1))
            took = _scatter(member, reservoir.offer(keys[member], ids[member]))
            if near is None:
                passed |= took
            else:
                passed[near[took]] = True
                reservoir.seen += int(totals[code]) - int(member.sum())  # the class's rows
        if self.cap:
            _shrink_strata(self.strata, self.cap, self.seen)
        return passed

    def frames(self, counts: pd.Series | None, n: int):
        """(uniform sample, trials' sample or None, the uniform sample's row ids), each in row
        order."""
        classes = (self.strata is not None and counts is not None
                   and len(counts) <= MAX_STRATA)
        sample_ids = self.uniform.smallest(SAMPLE_ROWS)
        if classes:  # every class in the sample, so its profile agrees with the exact task
            have = np.sort(sample_ids)
            extra = [r.smallest(1)[0] for r in self.strata.values()
                     if len(r.ids) and not _member(r.ids, have).any()]
            if extra:
                sample_ids = np.concatenate([self.uniform.smallest(SAMPLE_ROWS - len(extra)),
                                             extra])
        trial_ids = None
        if self.cap:
            trial_ids = (_stratified_ids(self.strata, self.cap, n) if classes
                         else self.uniform.smallest(self.cap))
        if trial_ids is not None:  # two frames from the store: compact it to their rows first
            self.store.compact(np.concatenate([sample_ids, trial_ids]))
        sample = self.store.frame(np.asarray(sample_ids))
        trial = self.store.frame(np.asarray(trial_ids)) if trial_ids is not None else None
        self.store = _RowStore()  # the stored rows are in the frames now: free them
        return sample, trial, _sorted_unique(np.asarray(sample_ids))


def _batches(table: Shards, batch_rows: int):
    """(shard path, record batch) over every shard in order; a shard that fails to read or
    convert is named in a one-line error."""
    if table.container == "parquet":
        # Parquet through ParquetFile without pre-buffering: the dataset scanner pre-buffers and
        # reads ahead whole row groups (a 4 M-row file peaked at 500-700 MB just being read);
        # this reads one row group's columns at a time (about 150 MB for the same file). A row
        # group no longer than a batch is read whole, in one call (the batch holds as many rows
        # either way, and batch by batch costs a 10⁵-row file nearly twice the time).
        import pyarrow.parquet as pq

        schema = table.schema
        for path in table.files:
            try:
                reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
                for group in range(reader.metadata.num_row_groups):
                    if reader.metadata.row_group(group).num_rows <= batch_rows:
                        read = reader.read_row_group(group, use_threads=True)
                        batches = read.combine_chunks().to_batches()
                    else:
                        batches = reader.iter_batches(batch_size=batch_rows, row_groups=[group],
                                                      use_threads=True)
                    for batch in batches:
                        if batch.num_rows:
                            yield path, _conform(batch, schema)
            except (pa.ArrowException, OSError) as exc:
                raise _shard_error(path, exc) from None
        return
    for fragment in table.dataset.get_fragments():
        try:
            for batch in fragment.to_batches(schema=table.schema, batch_size=batch_rows,
                                             use_threads=True, batch_readahead=2,
                                             fragment_readahead=1):
                if batch.num_rows:
                    yield fragment.path, batch
        except (pa.ArrowException, OSError) as exc:
            raise _shard_error(fragment.path, exc) from None


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A shard's batch in the agreed schema: its column order, widened types."""
    if batch.schema.equals(schema):
        return batch
    arrays = [batch.column(f.name).cast(f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _shard_error(path: str, exc: Exception) -> AdvisorError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return AdvisorError(f"Shard {path} cannot be read as the other shards are ({detail}). Fix or "
                        "re-write that shard.")


_MURMUR = np.uint64(0xC6A4A7935BD1E995)  # MurmurHash64A's multiplier


_SHIFT = np.uint64(47)


def _absorb(h: np.ndarray, bits: np.ndarray, scratch: np.ndarray, owned: bool = False) -> None:
    """Mix one 64-bit word per row into the rows' hashes, as MurmurHash64A mixes each 8-byte
    block of its input. In place, in ``scratch`` (two rows of len(h) words, reused: a fresh 2 MB
    temporary per operation costs several times the arithmetic); ``owned`` bits are a new
    array it may overwrite (``bits`` may otherwise be Arrow's read-only memory)."""
    k, tmp = (bits if owned else scratch[0]), scratch[1]
    np.multiply(bits, _MURMUR, out=k)
    np.right_shift(k, _SHIFT, out=tmp)
    np.bitwise_xor(k, tmp, out=k)
    np.multiply(k, _MURMUR, out=k)
    np.bitwise_xor(h, k, out=h)
    np.multiply(h, _MURMUR, out=h)


def _pandas_column(batch: pa.RecordBatch, name: str) -> pd.Series:
    """One column of a batch as the in-memory loader converts it."""
    return loading.to_frame(pa.Table.from_batches([batch.select([name])]))[name]


def _column_facts(batch: pa.RecordBatch, name: str, reading: str, state: _Column,
                  col: pd.Series | None = None):
    """One batch of one feature column: adds its missing cells (and whether it holds two
    values) to ``state``; returns (the missing cells' mask, or None when none is missing; 64
    bits per cell, equal exactly when the cells' values are — the same in every batch, whose
    Arrow type ``_conform`` made the same). Numbers, booleans and text are read in Arrow with the
    in-memory loader's meaning of missing (null, NaN, ±inf, blank text); other columns through
    pandas, as that loader converts them."""
    values = batch.column(name)
    if reading == "float":
        return _float_facts(values, state)
    if reading == "integer":
        return _integer_facts(values, state)
    if reading == "text":
        return _text_facts(values, state)
    col = _pandas_column(batch, name) if col is None else col  # as converted already
    mask = feats.missing_mask(col)
    n_missing = int(mask.sum())
    state.missing += n_missing
    if not state.varies and n_missing < len(col):
        state.first, state.varies = _varies(col[~mask], state.first)
    return (mask if n_missing else None), _column_bits(col, integers=True)


def _float_facts(values: pa.Array, state: _Column):
    """Floats: missing when null, NaN or ±inf; bits are the value's, -0.0 as 0.0 and every
    NaN alike."""
    v = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)  # null as NaN
    finite = np.isfinite(v)
    n_missing = len(v) - int(np.count_nonzero(finite))
    state.missing += n_missing
    if not state.varies and n_missing < len(v):
        present = v[finite] if n_missing else v
        _note_range(state, float(present.min()), float(present.max()))
    bits = np.add(v, 0.0).view(np.uint64)  # a new array, -0.0 as 0.0
    if not n_missing:
        return None, bits
    bits[np.isnan(v)] = _NAN_BITS
    return ~finite, bits


def _integer_facts(values: pa.Array, state: _Column):
    """Integers and booleans: missing only when null; bits are the integer's own. (A column
    with a missing cell anywhere becomes float64 in the in-memory loader, which merges
    integers beyond 2⁵³ with their neighbours; the pass keeps them apart, so its duplicates
    and conflicting labels can differ from the in-memory profile's there, and are the exact
    ones.)"""
    nulls = values.null_count
    if not state.varies and nulls < len(values):
        low, high = pc.min_max(values).values()
        _note_range(state, float(low.as_py()), float(high.as_py()))
    state.missing += nulls
    filled = values.fill_null(False if pa.types.is_boolean(values.type) else 0) if nulls \
        else values
    v = filled.to_numpy(zero_copy_only=False)
    bits = v.view(np.uint64) if v.dtype.itemsize == 8 else v.astype(np.int64).view(np.uint64)
    if not nulls:
        return None, bits
    missing = values.is_null().to_numpy(zero_copy_only=False)
    return missing, np.where(missing, _NAN_BITS, bits)


def _text_facts(values: pa.Array, state: _Column):
    """Text, through its dictionary: blank strings found and content-hashed once per distinct
    value. Blank strings are missing but hash as what they hold, as in pandas."""
    encoded = pc.dictionary_encode(values)
    words = encoded.dictionary
    codes = encoded.indices
    codes = (codes.fill_null(-1) if values.null_count else codes).to_numpy(zero_copy_only=False)
    blank = np.append(feats.arrow_blank(words).to_numpy(zero_copy_only=False), True)
    missing = blank[codes] if values.null_count or blank[:-1].any() else None
    n_missing = int(missing.sum()) if missing is not None else 0
    state.missing += n_missing
    if not state.varies and n_missing < len(values):
        present = words.filter(pa.array(~blank[:-1]))
        head = present[0].as_py() if state.first is None else state.first
        state.first, state.varies = head, len(present) > 1 or present[0].as_py() != head
    hashed = pd.util.hash_array(np.asarray(words.to_numpy(zero_copy_only=False), dtype=object),
                                categorize=False)
    return missing, np.append(hashed, _NAN_BITS)[codes]


def _note_range(state: _Column, low: float, high: float) -> None:
    """Whether a numeric column holds two values, from this batch's smallest and largest."""
    head = low if state.first is None else state.first
    state.first, state.varies = head, bool(low != head or high != head)


def _varies(values: pd.Series, first):
    """(first value, whether the column holds two different values) after these values."""
    if not len(values):
        return first, False
    if feats.holds_numbers(values) or feats.is_boolean(values):
        v = feats.as_float(values) if not feats.is_boolean(values) else \
            values.astype("object").map(bool).to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        if not len(v):
            return first, False
        head = float(v[0]) if first is None else first
        return head, bool(v.min() != head or v.max() != head)
    text = values if pd.api.types.is_string_dtype(values.dtype) else values.astype(str)
    head = str(text.iloc[0]) if first is None else first
    return head, bool(text.nunique() > 1 or text.iloc[0] != head)


_NAN_BITS = np.uint64(0x7FF8DEADBEEF0001)  # every missing number hashes alike


def _column_bits(col: pd.Series, integers: bool = False) -> np.ndarray:
    """64 bits per cell that are equal exactly when the cells' values are. Numbers as float64,
    except, with ``integers``, integer columns (nullable ones too) by their own 64 bits, as
    pandas hashes them (float64 would merge integers beyond 2⁵³): for a feature read through
    pandas, whose dtype the schema fixes for every batch. The target's dtype can change from
    one batch to the next (int64, or float64 where a batch held a missing cell), so it is
    hashed as float64."""
    dtype = col.dtype
    if integers and pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        missing = col.isna().to_numpy(dtype=bool)
        v = col.to_numpy(dtype="uint64" if unsigned else "int64", na_value=0).view(np.uint64)
        bits = np.where(missing, _NAN_BITS, v) if missing.any() else v.copy()
    elif pd.api.types.is_bool_dtype(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)):
        v = col.to_numpy(dtype="float64", na_value=np.nan) + 0.0  # -0.0 as 0.0
        bits = v.view(np.uint64)
        bits = np.where(np.isnan(v), _NAN_BITS, bits)
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        bits = col.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.uint64)
    else:
        # Text and everything else: hash each distinct value once (by content), then the codes.
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), categorize=False)
        bits = np.append(hashed, _NAN_BITS)[codes]  # code -1 (missing) takes the last
    return bits


def _label_of(label):
    if isinstance(label, np.generic):
        label = label.item()
    return label


def _near_rows(strata: dict, uniques, keys: np.ndarray) -> np.ndarray | None:
    """When every label of a batch has a full reservoir, the positions of the rows whose key is
    below the largest of their thresholds (no other row can enter one); else None."""
    found = [strata.get(_label_of(label)) for label in uniques]
    if not found or any(r is None or r.threshold == _NO_KEY for r in found):
        return None
    return np.flatnonzero(keys < max(r.threshold for r in found))


def _scatter(member: np.ndarray, passed: np.ndarray) -> np.ndarray:
    out = np.zeros(len(member), dtype=bool)
    out[np.flatnonzero(member)[passed]] = True
    return out


def _quota(count: int, cap: int, n: int) -> int:
    return max(1, int(np.round(count * cap / n)))


def _shrink_strata(strata: dict, cap: int, n_so_far: int) -> None:
    """Each class's reservoir shrinks to twice its running quota (never below
    ``MIN_STRATUM_ROWS``): shares settle early, so the reservoirs hold about 2 × cap rows in all
    rather than cap per class. A class whose share later more than doubles gets fewer rows than
    its quota (all its reservoir holds)."""
    for reservoir in strata.values():
        target = max(MIN_STRATUM_ROWS, 2 * _quota(reservoir.seen, cap, n_so_far))
        if target < reservoir.capacity:
            reservoir.shrink(target)


def _held_ids(uniform: BottomK, strata) -> np.ndarray:
    parts = [uniform.ids] + ([r.ids for r in strata.values()] if strata else [])
    return np.concatenate(parts)


def _stratified_ids(strata: dict, cap: int, n: int) -> np.ndarray:
    """Per class, the rows with the smallest keys: ``max(1, round(n_c · cap / n))`` of them."""
    if cap >= n:
        return np.sort(np.concatenate([r.ids for r in strata.values()]))
    picked = [r.smallest(_quota(r.seen, cap, n)) for r in strata.values()]
    return np.sort(np.concatenate(picked))


def _standin(counts: pd.Series | None, first_values: pd.Series, dtype, n: int, seed: int):
    """A target column with the exact distribution of values, for the task call: the values
    repeated by their counts (shuffled, seeded) when there are at most ``STANDIN_ROWS`` rows;
    beyond that, counts scaled down to ``STANDIN_ROWS`` rows (largest remainders, every value
    kept), whose shares differ from the exact ones by under 10⁻⁶. ``None`` when the values are
    too many to count: the task call then reads the sample."""
    if counts is None:
        return None, True
    values = counts.index.to_numpy()
    c = counts.to_numpy(dtype=np.int64)
    if n > STANDIN_ROWS:
        if len(c) > STANDIN_ROWS // 2:
            return None, True
        quota = c * (STANDIN_ROWS - len(c)) / n
        scaled = np.floor(quota).astype(np.int64) + 1
        rest = STANDIN_ROWS - int(scaled.sum())
        if rest > 0:
            scaled[np.argsort(-(quota - np.floor(quota)), kind="stable")[:rest]] += 1
        c = scaled
    repeated = np.repeat(values, c)
    if len(values) == len(repeated):  # all distinct: row order is evidence (a running id)
        np.random.default_rng(seed).shuffle(repeated)
    if isinstance(dtype, np.dtype):  # numbers and booleans
        return pd.Series(repeated.astype(dtype)), n > STANDIN_ROWS
    return pd.Series(pd.array(repeated, dtype=first_values.dtype)), n > STANDIN_ROWS


# --------------------------------------------------------------------------------------------
# The profile: the sample's, with every exact fact replaced


def exact_facts(found: Scan, sampled, class_facts: dict[str, Any], *,
                min_class_rows: int) -> dict[str, Any]:
    """The fields of ``sampled`` (the in-memory profile of ``found.sample``) that the pass knows
    exactly, with the warnings they change; ``class_facts`` are the profiler's class facts over
    the exact counts. The result is what ``sampled.replace(**…)`` needs."""
    n = found.n_rows
    call = found.call
    facts: dict[str, Any] = {
        "n_rows_total": found.n_rows_total,
        "n_rows": n,
        "n_rows_dropped": found.n_rows_total - n,
        "n_columns": found.n_columns,
        "memory_mb": found.memory_mb,
        "task": call.task,
        "task_confidence": call.confidence,
        "task_ambiguous": call.ambiguous,
        "task_alternative": call.alternative,
        "task_reason": call.reason,
        "task_source": call.source,
        "target_dtype": found.target_dtype,
        "target_unique_count": found.n_distinct,
        "target_unique_ratio": found.n_distinct / n,
        **class_facts,
    }
    if found.numeric_target:
        m = found.moments
        facts.update(target_integer_valued=found.integer_valued,
                     target_non_negative=bool(m.low >= 0))
        if call.task in targets.VALUE_TASKS:
            mean, variance = m.mean, m.variance
            skew, kurt = m.shape()
            facts.update(
                target_mean=mean, target_std=math.sqrt(variance), target_min=m.low,
                target_max=m.high, target_skewness=skew, target_excess_kurtosis=kurt,
                target_zero_fraction=found.zeros / n,
                target_bounded_unit=bool(m.low >= 0 and m.high <= 1),
                target_dispersion=(variance / mean if call.task == "count" and mean > 0
                                   else None))
    facts.update(_feature_facts(found, sampled))
    sampled_facts = [f for f in SAMPLED_FACTS if getattr(sampled, f, None) is not None]
    if found.sampled_task:
        sampled_facts.append("task_reason")
    facts["facts_from_sample"] = tuple(sampled_facts)
    facts["warnings"] = _warnings(found, sampled, facts, min_class_rows)
    return facts


def _feature_facts(found: Scan, sampled) -> dict[str, Any]:
    """Exact missing cells; kinds from the sample, but a column the sample saw as constant that
    holds two values somewhere is not constant."""
    n = found.n_rows
    names = found.feature_names
    fractions = tuple(m / n for m in found.feature_missing)
    kinds = list(sampled.feature_kinds)
    for i, (name, varies) in enumerate(zip(names, found.feature_varies)):
        if kinds[i] == "constant" and varies:
            kinds[i] = _kind_when_varying(found.sample[name])
    sample = found.sample
    # The sample's profile read the exact row count (``table_rows``): a column whose kind the
    # pass changed is tested again, the others keep its answer.
    identifiers = tuple(
        name for name, kind, before in zip(names, kinds, sampled.feature_kinds)
        if (feats._looks_like_identifier(feats.present(sample[name]), kind, n)
            if kind != before else name in sampled.identifier_columns))
    high = tuple(name for name, kind, before in zip(names, kinds, sampled.feature_kinds)
                 if kind in ("categorical", "text")
                 and (name in sampled.high_cardinality_columns if kind == before
                      else sample[name].nunique() > feats.HIGH_CARDINALITY))
    return {
        "feature_kinds": tuple(kinds),
        "n_numeric_features": kinds.count("numeric"),
        "n_categorical_features": kinds.count("categorical"),
        "n_text_features": kinds.count("text"),
        "n_datetime_features": kinds.count("datetime"),
        "n_constant_features": kinds.count("constant"),
        "feature_missing_fractions": fractions,
        "missing_cell_fraction": (sum(found.feature_missing) / (n * len(names)) if names else 0.0),
        "rows_with_missing_fraction": found.rows_with_missing / n,
        "max_feature_missing_fraction": max(fractions, default=0.0),
        "identifier_columns": identifiers,
        "high_cardinality_columns": high,
        "duplicate_row_fraction": (n - found.distinct_rows) / n if names else 0.0,
    }


def _kind_when_varying(sample: pd.Series) -> str:
    if feats.is_boolean(sample):
        return "categorical"
    if feats.holds_numbers(sample):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(sample):
        return "datetime"
    return "categorical"


def _warnings(found: Scan, sampled, facts: dict[str, Any], min_class_rows: int) -> tuple[str, ...]:
    """The in-memory profiler's warnings, from the exact facts (the sampled ones from the sample)."""
    name, n, total = found.target, found.n_rows, found.n_rows_total
    dropped = ([f"Dropped {total - n} of {total} rows ({(total - n) / total:.1%}) whose "
                f"target '{name}' is missing."] if total > n else [])
    return tuple(data_warnings(
        target=name, target_given=found.target_given, cleaning=dropped, call=found.call,
        class_labels=facts.get("class_labels"), class_counts=facts.get("class_counts"),
        min_class_rows=min_class_rows, feature_names=found.feature_names,
        missing_fractions=facts["feature_missing_fractions"],
        identifier_columns=facts["identifier_columns"],
        conflicting_label_fraction=sampled.conflicting_label_fraction, n_rows=n))
