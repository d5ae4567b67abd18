"""The target: finding it in a table, cleaning it, and deciding what kind of task it poses.

``infer_task(series)`` classifies a target into the closed vocabulary of tasks below and returns
the evidence it used, a confidence and, when the call is a judgement (integers 0..9 with many
zeros: counts or classes?), the alternative it weighed. Unlike the usual one-threshold
heuristics it has no jump at a row count: every rule reads shares and shapes, not sizes.

- ``binary``: exactly two distinct values.
- ``multiclass``: three or more unordered labels (strings, or a few integer codes).
- ``multilabel``: several 0/1 target columns, or one column of delimited label sets.
- ``regression``: real-valued numbers.
- ``count``: non-negative integers shaped like event counts (mode near zero, right tail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.suggest import did_you_mean
from advisor.profiling.features import IDENTIFIER_MIN_ROWS, as_float, holds_numbers

CLASSIFICATION_TASKS = ("binary", "multiclass", "multilabel")
VALUE_TASKS = ("regression", "count")  # the target is a number the model predicts
TASKS = CLASSIFICATION_TASKS + VALUE_TASKS
# Integer targets with more distinct values than this are not read as class codes.
MAX_INTEGER_CLASSES = 20
# A string column whose values are this unique is an identifier, not a label.
IDENTIFIER_UNIQUE_RATIO = 0.95
MIN_ROWS = 5  # fewer target values than this leave nothing to profile or fold
# More classes than this is a code or a key, not a target softmax can learn (AutoGluon's cap,
# docs/losses.md §2).
MAX_CLASSES = 1000
# A call below this confidence names its alternative as a real possibility (--task decides).
AMBIGUOUS_BELOW = 0.75
# Text labels of which more than this share parse as numbers are numbers stored as text.
NUMERIC_TEXT_SHARE = 0.99
# Text targets with more distinct labels than this are read with less confidence as classes.
MANY_TEXT_LABELS = 50
# Non-integer numbers with at most this many distinct values might be class codes (deepchecks'
# limit for floats, docs/losses.md §2).
FEW_FLOAT_VALUES = 5
# Integer codes 1..k with no zero and k in this range look like a rating scale (ordered classes).
RATING_SCALE_SIZES = (4, 10)
# A count target with at least this share of zeros is called with more confidence.
COUNT_ZERO_SHARE = 0.2
# Counts: skewness of at least this (a right tail), at least this many distinct values, and a
# median no larger than this (larger integers are amounts, e.g. prices, not event counts).
COUNT_MIN_SKEWNESS = 0.5
COUNT_MIN_VALUES = 3
COUNT_MAX_MEDIAN = 1000
LABEL_SEPARATORS = ("|", ";", ",")
# Delimited label sets are judged on this many rows; a separator must appear in at least this
# share of them (unless --task multilabel says so), and the labels be 2 to this many.
LABEL_SAMPLE_ROWS = 20_000
LABEL_SET_SHARE = 0.2
MAX_LABELS = 200
SHOWN_COLUMNS = 40  # column names an unknown --target lists
EXACT_INTEGERS = 2**53  # float64 holds every integer below this exactly
_GUESSED_TARGETS = ("target", "label", "labels", "y", "class", "outcome")


@dataclass(frozen=True)
class TargetData:
    """The cleaned target: one Series, or a 0/1 frame for multilabel, and the rows it kept."""

    names: tuple[str, ...]
    values: pd.Series | pd.DataFrame
    keep: np.ndarray  # boolean mask over the original rows
    label_separator: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskCall:
    """What the target is, how sure we are, and why."""

    task: str
    confidence: float
    alternative: str | None
    reason: str
    source: str = "inferred"  # inferred | user

    @property
    def ambiguous(self) -> bool:
        return self.alternative is not None and self.confidence < AMBIGUOUS_BELOW


def resolve_target(frame, target, source: str = "the data") -> tuple[str, ...]:
    """Column names of the target: one name, several (multilabel), or a guess when None.
    ``frame``: the table (a DataFrame), or its column names."""
    columns = [str(c) for c in getattr(frame, "columns", frame)]
    if target is None:
        lowered = {c.lower(): c for c in columns}
        for guess in _GUESSED_TARGETS:
            if guess in lowered:
                return (lowered[guess],)
        return (columns[-1],)
    if isinstance(target, str):
        names = [target] if target in columns else [t.strip() for t in target.split(",")]
    else:
        names = [str(t) for t in target]
    if not names or any(not n for n in names):
        raise UsageError(f"Empty target name in {target!r}; pass --target COLUMN or --target a,b,c.")
    for name in names:
        if name not in columns:
            hint = did_you_mean(name, columns)
            shown = ", ".join(columns[:SHOWN_COLUMNS]) + (", …" if len(columns) > SHOWN_COLUMNS
                                                          else "")
            raise UsageError(
                f"Target column '{name}' not found in {source}.{hint} Columns are: {shown}. "
                "Pass --target with one of them."
            )
    if len(set(names)) != len(names):
        raise UsageError(f"Target columns repeat a name in {target!r}; list each column once.")
    return tuple(names)


def clean_target(frame: pd.DataFrame, names: tuple[str, ...], source: str = "the data",
                 task: str | None = None) -> TargetData:
    """Drop rows whose target is missing, refuse ±inf and empty targets, split label sets."""
    if len(names) > 1:
        return _clean_label_columns(frame, names, source)
    name = names[0]
    column = frame[name]
    missing = _missing_mask(column)
    n_missing = int(missing.sum())
    if n_missing == len(column):
        raise AdvisorError(
            f"Target column '{name}' in {source} has no values (all {len(column)} rows are "
            "missing). Choose another column with --target."
        )
    kept = _as_numbers(column[~missing])
    if pd.api.types.is_numeric_dtype(kept) and not pd.api.types.is_bool_dtype(kept):
        as_float = kept.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(as_float)
        if infinite.any():
            first = int(np.flatnonzero(~missing)[np.flatnonzero(infinite)[0]])
            raise AdvisorError(
                f"Target column '{name}' in {source} holds ±inf in {int(infinite.sum())} rows "
                f"(first at row {first + 1}); expected finite numbers. Drop or fix those rows."
            )
    warnings = []
    if n_missing:
        warnings.append(
            f"Dropped {n_missing} of {len(column)} rows ({n_missing / len(column):.1%}) whose "
            f"target '{name}' is missing."
        )
    if len(kept) < MIN_ROWS:
        raise AdvisorError(
            f"Target column '{name}' in {source} has only {len(kept)} non-missing values; "
            f"expected at least {MIN_ROWS} rows to profile. Add rows or choose another target."
        )
    separator = None
    if task in (None, "multilabel") and _is_text(kept):
        separator = _label_separator(kept, forced=task == "multilabel")
    if task == "multilabel" and separator is None:
        raise UsageError(
            f"--task multilabel needs several 0/1 target columns (--target a,b,c) or one column "
            f"of delimited labels such as 'x|y'; '{name}' in {source} holds single labels."
        )
    if separator is not None:
        values = _split_label_sets(kept, separator)
        return TargetData(tuple(values.columns), values, ~missing.to_numpy(), separator, tuple(warnings))
    return TargetData(names, kept, ~missing.to_numpy(), None, tuple(warnings))


def infer_task(values: pd.Series | pd.DataFrame, name: str = "target", source: str = "the data",
               forced: str | None = None, counts: pd.Series | None = None) -> TaskCall:
    """The task a target poses, with its evidence; ``forced`` (``--task``) is checked, not trusted.
    ``counts``: ``values.value_counts(sort=False)``, when the caller has them already."""
    if isinstance(values, pd.DataFrame):
        call = TaskCall("multilabel", 0.99, None,
                        f"{values.shape[1]} label columns of 0/1 values.")
        return _user_call(call, forced, values, name, source)
    if counts is None:
        counts = values.value_counts(sort=False, dropna=True)
    n, k = len(values), len(counts)
    if k == 1:
        only = counts.index[0]
        raise AdvisorError(
            f"Target column '{name}' in {source} has a single value ({only!r} in all {n} rows); "
            "there is nothing to learn. Choose a target with at least two classes or values."
        )
    if _is_text(values) or isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(values):
        call = _text_call(values, counts, name, source)
    elif pd.api.types.is_bool_dtype(values):
        call = TaskCall("binary", 0.99, None, "boolean values.")
    else:
        call = _numeric_call(values.to_numpy(dtype="float64"), counts, name, source)
    return _user_call(call, forced, values, name, source)


def _user_call(call: TaskCall, forced: str | None, values, name: str, source: str) -> TaskCall:
    if forced is None or forced == "auto":
        return call
    if forced not in TASKS:
        raise UsageError(f"Unknown task '{forced}'; expected one of {', '.join(TASKS)} or auto.")
    if forced == call.task:
        return TaskCall(forced, 1.0, None, call.reason, "user")
    problem = _incompatible(forced, values)
    if problem:
        raise UsageError(
            f"--task {forced} does not fit target '{name}' in {source}: {problem}. The data "
            f"looks like {call.task} ({call.reason.rstrip('.')}); drop --task or pick another."
        )
    return TaskCall(forced, 1.0, None, f"set by the user; the data alone suggests {call.task} "
                    f"({call.reason.rstrip('.')}).", "user")


def _incompatible(task: str, values) -> str | None:
    if isinstance(values, pd.DataFrame):
        return None if task == "multilabel" else "it has several label columns"
    k = values.nunique()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "binary" and k != 2:
        return f"binary needs exactly 2 classes, found {k}"
    if task == "multiclass" and k > MAX_CLASSES:
        return f"{k} distinct values are too many classes (at most {MAX_CLASSES})"
    if task in VALUE_TASKS and not numeric:
        return f"{task} needs numbers, found {values.dtype} values"
    if task == "count":
        v = values.to_numpy(dtype="float64")
        if (v < 0).any() or not np.all(v == np.round(v)):
            return "count needs non-negative integers"
    if task == "multilabel":
        return "multilabel needs several 0/1 columns or delimited label sets"
    return None


def _text_call(values: pd.Series, counts: pd.Series, name: str, source: str) -> TaskCall:
    n, k = len(values), len(counts)
    if k == 2:
        return TaskCall("binary", 0.99, None, f"two distinct labels ({_pair(counts.index)}).")
    if n >= IDENTIFIER_MIN_ROWS and k / n >= IDENTIFIER_UNIQUE_RATIO:
        raise AdvisorError(
            f"Target column '{name}' in {source} looks like an identifier: {k} distinct values in "
            f"{n} rows ({k / n:.0%} unique); expected labels or quantities. Pass another --target."
        )
    numeric = pd.to_numeric(values.astype("object"), errors="coerce")
    if numeric.notna().mean() > NUMERIC_TEXT_SHARE:
        return TaskCall("multiclass", 0.6, "regression",
                        f"{k} distinct labels stored as text, though nearly all parse as numbers.")
    confidence = 0.95 if k <= MANY_TEXT_LABELS else 0.8
    return TaskCall("multiclass", confidence, None, f"{k} distinct text labels.")


def _numeric_call(v: np.ndarray, counts: pd.Series, name: str, source: str) -> TaskCall:
    n, k = len(v), len(counts)
    if k == 2:
        return TaskCall("binary", 0.99, None, f"two distinct values ({_pair(counts.index)}).")
    integer = bool(np.all(v == np.round(v)))
    lowest = float(v.min())
    if not integer:
        if k <= FEW_FLOAT_VALUES:
            return TaskCall("regression", 0.6, "multiclass",
                            f"non-integer numbers but only {k} distinct values.")
        unit = " bounded in [0, 1]" if lowest >= 0 and v.max() <= 1 else ""
        return TaskCall("regression", 0.95, None, f"non-integer numbers{unit}, {k} distinct values.")
    all_distinct = n >= IDENTIFIER_MIN_ROWS and k == n
    if all_distinct and (np.all(np.diff(v) > 0) or v.max() - lowest == n - 1):
        raise AdvisorError(
            f"Target column '{name}' in {source} looks like an identifier: all {n} values are "
            "distinct integers running consecutively; expected labels or quantities. Pass another "
            "--target."
        )
    if lowest < 0:
        if k <= MAX_INTEGER_CLASSES:
            return TaskCall("multiclass", 0.7, "regression",
                            f"{k} distinct integer codes, some negative.")
        return TaskCall("regression", 0.9, None, f"{k} distinct integers, some negative.")
    shape = _count_shape(v, counts)
    if k <= MAX_INTEGER_CLASSES:
        codes = sorted(int(c) for c in counts.index)
        contiguous = codes[-1] - codes[0] == k - 1
        if shape and not contiguous:
            # Class codes are rarely numbered with gaps; counts skip rare values all the time.
            return TaskCall("count", 0.8, "multiclass",
                            f"{k} distinct non-negative integers shaped like counts ({shape}), "
                            f"with gaps in {codes[0]}..{codes[-1]} as sparse tails have.")
        if shape:
            return TaskCall("count", 0.6, "multiclass",
                            f"{k} distinct non-negative integers shaped like counts ({shape}); "
                            "they could also be class codes.")
        if contiguous and codes[0] == 1 and RATING_SCALE_SIZES[0] <= k <= RATING_SCALE_SIZES[1]:
            return TaskCall("multiclass", 0.6, "regression",
                            f"integer codes 1..{k} with no zero, as ratings are: ordered, so "
                            "regression is the alternative.")
        if contiguous and codes[0] in (0, 1):
            return TaskCall("multiclass", 0.85, None,
                            f"{k} contiguous integer codes {codes[0]}..{codes[-1]}, not count-shaped.")
        return TaskCall("multiclass", 0.7, "regression", f"{k} distinct integer codes {codes[:6]}"
                        f"{'…' if k > 6 else ''}, not count-shaped.")
    if shape:
        zeros = (v == 0).mean() >= COUNT_ZERO_SHARE
        return TaskCall("count", 0.85 if zeros else 0.75, "regression",
                        f"{k} distinct non-negative integers shaped like counts ({shape}).")
    return TaskCall("regression", 0.8, "count",
                    f"{k} distinct non-negative integers, not shaped like counts "
                    "(no mass at zero, no right tail).")


def _count_shape(v: np.ndarray, counts: pd.Series) -> str | None:
    """Why ``v`` looks like event counts, or None.

    Counts are small non-negative integers with a right tail: skewness >= COUNT_MIN_SKEWNESS and
    the mode at or below the median. Amounts (median above COUNT_MAX_MEDIAN) are read as
    quantities, not counts.
    """
    median = float(np.median(v))
    if v.min() < 0 or median > COUNT_MAX_MEDIAN or len(counts) < COUNT_MIN_VALUES:
        return None
    from scipy import stats

    skew = float(stats.skew(v)) if v.std() > 0 else 0.0
    if not math.isfinite(skew):  # values too nearly equal for scipy to measure a shape
        return None
    mode = float(counts.idxmax())
    if skew < COUNT_MIN_SKEWNESS or mode > median:
        return None
    zero = float((v == 0).mean())
    return f"mode {mode:g}, {zero:.0%} zeros, skewness {skew:.2f}"


def _as_numbers(kept: pd.Series) -> pd.Series:
    """Numbers held as Python objects (a frame built from lists with ``None``) as a numeric
    column — int64 when every value is a whole number — so they are read as the numbers they
    are, exactly as the same values in a numeric column would be."""
    if not pd.api.types.is_object_dtype(kept.dtype) or not holds_numbers(kept):
        return kept
    values = as_float(kept)
    if np.isnan(values).any():  # a value that is not a finite number: leave the column as it is
        return kept
    if np.all(values == np.round(values)) and np.abs(values).max() < EXACT_INTEGERS:
        return pd.Series(values.astype("int64"), index=kept.index, name=kept.name)
    return pd.Series(values, index=kept.index, name=kept.name)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) and not pd.api.types.is_numeric_dtype(values)


def _missing_mask(column: pd.Series) -> pd.Series:
    missing = column.isna()
    if _is_text(column):
        missing |= column.astype("object").map(lambda x: isinstance(x, str) and not x.strip()).astype(bool)
    return missing


def _pair(index) -> str:
    return " and ".join(repr(_native(x)) for x in sorted(index, key=str))


def _native(x):
    """A plain Python value; a whole float (3.0) as the integer it is, so labels read alike
    whether a column stores them as ints or floats."""
    x = x.item() if hasattr(x, "item") else x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def _label_separator(values: pd.Series, forced: bool) -> str | None:
    """The separator of delimited label sets ('a|b'), if the column is one."""
    text = values.astype("object")
    sample = text.iloc[:LABEL_SAMPLE_ROWS]
    for sep in LABEL_SEPARATORS:
        has = sample.map(lambda s, sep=sep: sep in s)
        share = float(has.mean())
        if share == 0 or (share < LABEL_SET_SHARE and not forced):
            continue
        tokens = pd.Series([t.strip() for s in sample for t in s.split(sep) if t.strip()])
        n_tokens = tokens.nunique()
        n_sets = sample.nunique()
        if 2 <= n_tokens <= MAX_LABELS and (forced or n_tokens < n_sets):
            return sep
    return None


def _split_label_sets(values: pd.Series, sep: str) -> pd.DataFrame:
    """One 0/1 column per label (sorted), labels stripped of surrounding blanks."""
    from sklearn.preprocessing import MultiLabelBinarizer

    sets = values.astype("object").map(lambda s: {t.strip() for t in s.split(sep) if t.strip()})
    binarizer = MultiLabelBinarizer()
    matrix = binarizer.fit_transform(sets).astype("int64")
    return pd.DataFrame(matrix, index=values.index, columns=[str(c) for c in binarizer.classes_])


def _clean_label_columns(frame: pd.DataFrame, names: tuple[str, ...], source: str) -> TargetData:
    block = frame[list(names)]
    missing = block.isna().any(axis=1)
    kept = block[~missing]
    columns = {}
    for name in names:
        col = kept[name]
        values = set(pd.unique(col.astype("object")))
        mapping = _binary_mapping(values)
        if mapping is None:
            shown = ", ".join(repr(_native(x)) for x in sorted(values, key=str)[:5])
            raise AdvisorError(
                f"Multilabel target column '{name}' in {source} must hold 0/1 (or true/false, "
                f"yes/no) values; found {shown}. Pass only label columns in --target."
            )
        columns[name] = col.astype("object").map(mapping).astype("int8").to_numpy()
    if len(kept) < MIN_ROWS:
        raise AdvisorError(
            f"Target columns {', '.join(names)} in {source} have only {len(kept)} complete rows; "
            f"expected at least {MIN_ROWS}."
        )
    warnings = []
    if missing.any():
        warnings.append(f"Dropped {int(missing.sum())} of {len(block)} rows with a missing label "
                        f"in {', '.join(names)}.")
    values = pd.DataFrame(columns, index=kept.index)
    return TargetData(names, values, ~missing.to_numpy(), None, tuple(warnings))


def _binary_mapping(values: set) -> dict | None:
    normalised = {v: str(_native(v)).strip().lower() for v in values}
    positives, negatives = {"1", "1.0", "true", "yes", "y"}, {"0", "0.0", "false", "no", "n"}
    if not set(normalised.values()) <= positives | negatives:
        return None
    return {v: int(t in positives) for v, t in normalised.items()}
