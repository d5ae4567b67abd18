"""The profile's facts are right: checked against hand computation on data built to have them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.profiling.profiler import DatasetProfile
from tests.conftest import SAMPLE_DATA


def _table(n=1000, seed=0, **target):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "num": rng.normal(size=n),
        "city": rng.choice(["paris", "lyon", "nice"], n),
        "flag": rng.random(n) < 0.5,
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        "const": 7,
        "note": [f"free text about case number {i} with several words" for i in range(n)],
    })
    for name, values in target.items():
        frame[name] = values
    return frame


def test_binary_class_facts_by_hand():
    y = np.array(["ok"] * 900 + ["sick"] * 100)
    p = advisor.profile(_table(y=y), "y")
    assert p.task == "binary" and p.n_classes == 2
    assert p.class_labels == ("ok", "sick") and p.class_counts == (900, 100)
    assert p.positive_class == "sick" and p.minority_class == "sick"
    assert p.minority_fraction == pytest.approx(0.1) and p.majority_fraction == pytest.approx(0.9)
    assert p.imbalance_ratio == pytest.approx(9.0)
    entropy = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2)
    assert p.entropy_imbalance == pytest.approx(1 - entropy)
    beta = p.effective_samples_beta
    assert p.class_effective_samples == pytest.approx(
        ((1 - beta**900) / (1 - beta), (1 - beta**100) / (1 - beta)))
    assert p.target_mean is None and p.target_outlier_fraction is None  # not applicable


def test_positive_class_is_the_minority_even_when_it_sorts_first():
    p = advisor.profile(_table(y=np.array([0] * 100 + [1] * 900)), "y")
    assert p.class_labels == (1, 0) and p.positive_class == 0


def test_multiclass_small_classes_warn():
    y = np.array(["a"] * 600 + ["b"] * 392 + ["c"] * 8)
    p = advisor.profile(_table(y=y), "y")
    assert p.n_small_classes == 1 and p.minority_count == 8
    assert any("too small to validate" in w and "'c' (8 rows)" in w for w in p.warnings)


def test_regression_facts_and_outlier_rule():
    rng = np.random.default_rng(1)
    y = rng.normal(100, 10, 1000)
    y[:20] = 1000  # 2% gross outliers
    p = advisor.profile(_table(y=y), "y")
    assert p.task == "regression"
    median = np.median(y)
    mad = np.median(np.abs(y - median))
    assert p.target_median == pytest.approx(median) and p.target_mad == pytest.approx(mad)
    assert p.target_robust_scale == pytest.approx(1.4826 * mad)
    assert p.target_outlier_fraction == pytest.approx(0.02, abs=0.004)
    assert p.target_outlier_high == pytest.approx(median + 3.5 * 1.4826 * mad)
    assert p.target_skewness > 5 and p.target_excess_kurtosis > 20
    assert p.target_zero_fraction == 0 and p.target_bounded_unit is False
    assert p.target_dispersion is None  # only for counts


def test_skewness_and_kurtosis_are_scipys_population_moments():
    from scipy import stats

    y = np.random.default_rng(3).lognormal(0, 1, 500)
    p = advisor.profile(_table(n=500, y=y), "y")
    assert (p.target_skewness, p.target_excess_kurtosis) == (stats.skew(y), stats.kurtosis(y))
    # Values too nearly equal for their size: scipy measures no shape (NaN); the profile says 0.
    near = 1e10 + np.array([0.0, 1e-6, 2e-6, 5e-6, 0.0, 3e-6] * 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = advisor.profile(_table(n=30, y=near), "y", task="regression")
    assert (p.target_skewness, p.target_excess_kurtosis) == (0.0, 0.0)


def test_count_facts():
    rng = np.random.default_rng(2)
    lam = rng.gamma(0.5, 2.0, 3000)  # negative binomial: over-dispersed
    y = rng.poisson(lam)
    p = advisor.profile(_table(n=3000, y=y), "y")
    assert p.task == "count"
    assert p.target_dispersion == pytest.approx(y.var() / y.mean())
    assert p.target_dispersion > 2
    assert p.target_zero_fraction == pytest.approx((y == 0).mean())
    assert p.target_integer_valued and p.target_non_negative
    assert p.conflicting_label_fraction is None  # count noise is not label noise


def test_mad_zero_falls_back_to_mean_absolute_deviation():
    y = np.array([0] * 800 + [1] * 150 + [2] * 40 + [30] * 10)
    p = advisor.profile(_table(y=y), "y")
    assert p.target_mad == 0
    assert p.target_robust_scale == pytest.approx(1.253314 * np.abs(y - 0).mean())
    assert p.target_outlier_fraction == pytest.approx(0.01)


def test_feature_kinds_and_missing_cells():
    frame = _table(y=np.arange(1000) % 2)
    frame.loc[:99, "num"] = np.nan
    p = advisor.profile(frame, "y")
    kinds = dict(zip(p.feature_names, p.feature_kinds))
    assert kinds == {"num": "numeric", "city": "categorical", "flag": "categorical",
                     "when": "datetime", "const": "constant", "note": "text"}
    missing = dict(zip(p.feature_names, p.feature_missing_fractions))
    assert missing["num"] == pytest.approx(0.1) and missing["city"] == 0
    assert p.missing_cell_fraction == pytest.approx(100 / 6000)
    assert p.rows_with_missing_fraction == pytest.approx(0.1)
    assert (p.n_numeric_features, p.n_categorical_features, p.n_text_features,
            p.n_datetime_features, p.n_constant_features) == (1, 2, 1, 1, 1)


def test_high_cardinality_and_identifier_columns():
    n = 500
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"row_id": np.arange(n) + 1, "zip": rng.integers(0, 300, n).astype(str),
                          "x": rng.normal(size=n), "y": rng.integers(0, 2, n)})
    p = advisor.profile(frame, "y")
    assert p.identifier_columns == ("row_id",)
    assert p.high_cardinality_columns == ("zip",)


def test_duplicates_and_conflicting_labels():
    rng = np.random.default_rng(4)
    base = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400),
                         "y": rng.integers(0, 2, 400)})
    exact = base.iloc[:20]  # 20 exact duplicate rows
    flipped = base.iloc[20:30].assign(y=lambda d: 1 - d["y"])  # 10 rows relabelled
    frame = pd.concat([base, exact, flipped], ignore_index=True)
    p = advisor.profile(frame, "y")
    assert p.duplicate_row_fraction == pytest.approx(20 / 430)
    assert p.conflicting_label_fraction == pytest.approx(20 / 430)  # both rows of each pair
    assert any("label noise" in w for w in p.warnings)


def test_feature_outliers_found_by_isolation_forest():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 4))
    x[:40] += 12  # 2% far away
    frame = pd.DataFrame(x, columns=list("abcd")).assign(y=rng.integers(0, 2, 2000))
    p = advisor.profile(frame, "y")
    assert 0.015 <= p.feature_outlier_fraction <= 0.035
    clean = advisor.profile(frame.iloc[40:], "y")
    assert clean.feature_outlier_fraction < 0.015


def test_missing_target_rows_are_dropped_with_a_warning():
    y = pd.Series(["a", "b", None, "a", ""] * 40)
    p = advisor.profile(_table(n=200, y=y), "y")
    assert (p.n_rows_total, p.n_rows, p.n_rows_dropped) == (200, 120, 80)
    assert any("Dropped 80 of 200 rows" in w for w in p.warnings)


def test_multilabel_columns_and_delimited_sets_agree():
    rng = np.random.default_rng(6)
    a, b = rng.random(300) < 0.3, rng.random(300) < 0.1
    columns = advisor.profile(_table(n=300, a=a.astype(int), b=b.astype(int)), ["a", "b"])
    sets = np.array(["|".join(t for t, on in (("a", x), ("b", y)) if on) or "none"
                     for x, y in zip(a, b)])
    delimited = advisor.profile(_table(n=300, tags=sets), "tags", task="multilabel")
    assert columns.task == delimited.task == "multilabel"
    assert columns.class_counts == (a.sum(), b.sum())
    assert dict(zip(delimited.class_labels, delimited.class_counts))["b"] == b.sum()
    assert columns.minority_fraction == pytest.approx(b.mean())
    assert columns.label_cardinality == pytest.approx((a.astype(int) + b).mean())


def test_label_sets_become_sorted_0_1_columns():
    from advisor.profiling.target import clean_target

    frame = pd.DataFrame({"tags": ["b | a", "a", " c|a ", "b", "a||", "c"] * 5})
    data = clean_target(frame, ("tags",), task="multilabel")
    assert data.label_separator == "|" and data.names == ("a", "b", "c")
    assert list(data.values.dtypes) == [np.dtype("int64")] * 3
    assert data.values.iloc[:6].to_numpy().tolist() == [[1, 1, 0], [1, 0, 0], [1, 0, 1],
                                                         [0, 1, 0], [1, 0, 0], [0, 0, 1]]


def test_json_round_trip_and_determinism():
    path = SAMPLE_DATA / "diagnosis.csv"
    first = advisor.profile(path, "diagnosis", seed=3)
    again = advisor.profile(path, "diagnosis", seed=3)
    assert first == again
    text = first.to_json()
    rebuilt = DatasetProfile.from_dict(json.loads(text))
    assert rebuilt == first
    assert rebuilt.to_json() == text


@pytest.mark.parametrize("name, target, task", [
    ("diagnosis.csv", "diagnosis", "binary"),
    ("land_cover.csv", "land_cover", "multiclass"),
    ("house_prices.csv", "price_k", "regression"),
    ("claims.csv", "n_claims", "count"),
    ("tags.csv", "is_spam,is_promo,is_urgent", "multilabel"),
])
def test_sample_data_profiles(name, target, task):
    p = advisor.profile(SAMPLE_DATA / name, target)
    assert p.task == task, p.task_reason


def test_profiling_never_imports_tensorflow():
    code = (
        "import sys, advisor\n"
        "from advisor.cli import main\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "try:\n"
        "    main(['profile', sys.argv[1], '--target', 'diagnosis', '--format', 'json'])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(SAMPLE_DATA / "diagnosis.csv")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["task"] == "binary"


def _edge_table(n=60_000, seed=3):
    """More rows than the sample, every dtype the loader makes, missing cells of every kind, a
    few only in rows whose target is missing (they still change the column's dtype)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "i": rng.integers(0, 100, n), "f": rng.normal(size=n), "b": rng.random(n) < 0.5,
        "s": rng.choice(["a", "b", " ", "c"], n), "const": 5, "conststr": "x",
        "d": pd.date_range("2020-01-01", periods=n, freq="h").astype(str),
        "inull": rng.integers(0, 5, n).astype(float), "ionly": rng.integers(0, 5, n).astype(float),
        "bnull": np.where(rng.random(n) < 0.5, "true", "false"), "empty": "",
        "ident": np.arange(n), "y": rng.integers(0, 3, n).astype(float),
    })
    frame.loc[5, "inull"] = np.nan
    frame.loc[7, "bnull"] = ""
    frame.loc[[3, 9, 11], "y"] = np.nan
    frame.loc[3, "ionly"] = np.nan  # missing only where the target is
    frame.loc[100, "f"], frame.loc[101, "f"] = np.inf, np.nan
    frame.loc[3, "conststr"] = ""
    return frame


@pytest.mark.parametrize("target", ["y", "i", "s"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_profiles_as_its_loaded_frame(tmp_path, suffix, target):
    """``profile(path)`` reads pyarrow's table without converting it to pandas; every fact
    equals the profile of the DataFrame ``load_table`` makes of the same file."""
    from advisor.profiling.loading import SourceFormat, load_table
    from advisor.profiling.profiler import profile_frame

    path = tmp_path / f"edge{suffix}"
    frame = _edge_table()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    for seed in (0, 5):
        loaded = load_table(path)
        fmt = SourceFormat(**loaded.attrs["source_format"]).describe()
        expected = profile_frame(loaded, target, source=str(path), source_format=fmt, seed=seed)
        assert advisor.profile(path, target, seed=seed).to_dict() == expected.to_dict()
