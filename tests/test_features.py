"""The features: their facts (``advisor.profiling.features``) and what the trials do with each column
(``advisor.validation.prepare.describe_features``), shown in the text output and both reports."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.profiling import features as facts
from advisor.reporting.textout import format_features
from advisor.validation.prepare import (
    MAX_CATEGORIES,
    FeatureUse,
    describe_features,
    describe_features_from_profile,
    fit_transformer,
    fold_data,
    make_folds,
    prepare,
)
from tests.conftest import SAMPLE_DATA

N = 100


def _table() -> pd.DataFrame:
    """One column per treatment the trials know."""
    i = np.arange(N)
    return pd.DataFrame({
        "clean": np.random.default_rng(0).normal(size=N),
        "gappy": np.where(i % 10 == 0, np.nan, np.random.default_rng(1).normal(size=N)),
        "when": [f"2021-{1 + k % 12:02d}-{1 + k % 28:02d}" for k in i],
        "colour": np.array(["red", "green", "blue"])[i % 3],
        "city": [f"city-{k % 60:02d}" for k in i],  # 60 values: beyond one-hot's 20 columns
        "code": [f"id-{k:03d}" for k in i],  # every value distinct: an identifier
        "same": ["x"] * N,
        "note": [f"a free text note, number {k}, about something" for k in i],
        "empty": [None] * N,
        "flag": pd.Series([True, False, None, True] * (N // 4), dtype=object),
        "y": np.tile(["yes", "no"], N // 2),
    })


# name, kind, missing fraction, distinct, treatment, detail, inputs, levels, infrequent
FITTED = [
    ("clean", "numeric", 0.0, 100, "numeric", "standardised", 1, None, None),
    ("gappy", "numeric", 0.1, 90, "numeric", "standardised + missing indicator", 2, None, None),
    ("when", "datetime", 0.0, 84, "numeric", "days since 1970-01-01, standardised", 1, None,
     None),
    ("colour", "categorical", 0.0, 3, "one-hot", "3 levels", 3, 3, 0),
    ("city", "categorical", 0.0, 60, "one-hot", "19 levels + infrequent (41 values)", 20,
     19, 41),
    ("code", "categorical", 0.0, 100, "left out", "identifier", 0, None, None),
    ("same", "constant", 0.0, 1, "left out", "constant", 0, None, None),
    ("note", "text", 0.0, 100, "left out", "free text", 0, None, None),
    ("empty", "constant", 1.0, 0, "left out", "all missing", 0, None, None),
    ("flag", "categorical", 0.25, 2, "one-hot", "2 levels, missing → most frequent", 2, 2, 0),
]


def _row(use: FeatureUse) -> tuple:
    return (use.name, use.kind, use.missing_fraction, use.distinct, use.treatment, use.detail,
            use.inputs, use.levels, use.infrequent)


def test_describe_features_reads_the_fitted_preprocessing():
    frame = _table()
    prof = advisor.profile(frame, "y")
    prepared = prepare(frame, prof)
    transformer = fit_transformer(prepared)
    uses = describe_features(prepared, prof, transformer)
    assert [_row(u) for u in uses] == FITTED
    width = transformer.transform(prepared.features).shape[1]
    assert sum(u.inputs for u in uses) == width == 29
    assert prepared.left_out == ("code (identifier)", "same (constant)", "note (free text)",
                                 "empty (all missing)")


def test_without_a_fitted_transformer_levels_follow_the_distinct_values():
    frame = _table()
    prof = advisor.profile(frame, "y")
    prepared = prepare(frame, prof)
    assert [_row(u) for u in describe_features(prepared, prof)] == FITTED


def test_a_fold_reports_what_its_own_training_rows_made():
    frame = _table()
    prof = advisor.profile(frame, "y")
    prepared = prepare(frame, prof)
    train, test = make_folds(prepared, 5, 0)[0][0]
    data, transformer = fold_data(prepared, train, test, 0, 0, return_transformer=True)
    assert data.key == fold_data(prepared, train, test, 0, 0).key
    uses = {u.name: u for u in describe_features(prepared, prof, transformer)}
    assert sum(u.inputs for u in uses.values()) == data.x_train.shape[1] == 29
    # 48 of the 60 "city" values occur in the fold's 68 fitting rows: 19 keep a column of their
    # own, 29 share "infrequent"; a "gappy" NaN among those rows earns its indicator.
    assert uses["city"].detail == "19 levels + infrequent (29 values)"
    assert uses["gappy"].detail == "standardised + missing indicator"


def test_describe_features_from_profile_says_what_trials_would_do():
    prof = advisor.profile(_table(), "y")
    rows = [(u.name, u.treatment, u.detail, u.inputs, u.distinct)
            for u in describe_features_from_profile(prof)]
    assert rows == [
        ("clean", "numeric", "standardised", 1, None),
        ("gappy", "numeric", "standardised + missing indicator", 2, None),
        ("when", "numeric", "days since 1970-01-01, standardised", 1, None),
        ("colour", "one-hot", f"≤ {MAX_CATEGORIES} levels", None, None),
        ("city", "one-hot", "19 levels + infrequent (the rarer values)", 20, None),
        ("code", "left out", "identifier", 0, None),
        ("same", "left out", "constant", 0, None),
        ("note", "left out", "free text", 0, None),
        ("empty", "left out", "all missing", 0, None),
        ("flag", "one-hot", f"≤ {MAX_CATEGORIES} levels, missing → most frequent", None, None),
    ]
    assert prof.high_cardinality_columns == ("city", "code", "note")


def test_feature_use_round_trips_through_json():
    frame = _table()
    prof = advisor.profile(frame, "y")
    uses = describe_features(prepare(frame, prof), prof)
    assert tuple(FeatureUse.from_dict(u.to_dict()) for u in uses) == uses
    assert uses[4].summary == "one-hot: 19 levels + infrequent (41 values)"


def test_text_block_has_one_short_line_per_column():
    frame = _table()
    prof = advisor.profile(frame, "y")
    prepared = prepare(frame, prof)
    lines = format_features(describe_features(prepared, prof, fit_transformer(prepared)), True)
    assert lines[0] == ("Features (10 columns → 29 model inputs, as the trials' preprocessing "
                        "made them):")
    assert lines[1] == "  clean   numeric        0.0% missing  100 distinct  numeric: standardised"
    assert lines[5] == ("  city    categorical    0.0% missing   60 distinct  one-hot: 19 levels"
                        " + infrequent (41 values)")
    assert lines[9] == "  empty   constant     100.0% missing    0 distinct  left out: all missing"
    assert len(lines) == 11 and max(len(line) for line in lines) <= 100
    fallback = format_features(describe_features_from_profile(prof), False)
    assert fallback[0] == "Features (10 columns, as trials would use them):"
    assert fallback[6] == "  code    categorical    0.0% missing  left out: identifier"


# --- the rendered recommendation ----------------------------------------------------------------

DIAGNOSIS_TREATMENTS = {
    "age": "numeric: standardised",
    "sex": f"one-hot: ≤ {MAX_CATEGORIES} levels",
    "bmi": "numeric: standardised + missing indicator",
    "systolic_bp": "numeric: standardised",
    "fasting_glucose": "numeric: standardised",
    "hba1c": "numeric: standardised",
    "cholesterol": "numeric: standardised + missing indicator",
    "smoker": f"one-hot: ≤ {MAX_CATEGORIES} levels",
    "family_history": f"one-hot: ≤ {MAX_CATEGORIES} levels",
    "crp_mg_l": "numeric: standardised + missing indicator",
}


@pytest.fixture(scope="module")
def diagnosis_rec():
    return advisor.recommend(SAMPLE_DATA / "diagnosis.csv", target="diagnosis", validate=False)


def test_every_feature_is_listed_in_text_markdown_and_html(diagnosis_rec, cli, tmp_path):
    from advisor.reporting.report import render

    rec = diagnosis_rec
    assert set(rec.profile.feature_names) == set(DIAGNOSIS_TREATMENTS)
    result = cli("recommend", SAMPLE_DATA / "diagnosis.csv", "--target", "diagnosis",
                 "--no-validate")
    assert result.exit_code == 0, result
    block = result.stdout.split("Features (10 columns, as trials would use them):\n", 1)[1]
    listed = dict(re.findall(r"^  (\S+) +\S+ +[\d.]+% missing  (.+)$", block, re.MULTILINE))
    assert listed == DIAGNOSIS_TREATMENTS
    markdown = render(rec, "md")
    section = markdown[markdown.index("## 3. Features"):markdown.index("## 4. ")]
    for name, summary in DIAGNOSIS_TREATMENTS.items():
        treatment, detail = summary.split(": ", 1)
        row = rf"^\| `{name}` \| \w+ \| [\d.]+% \| {treatment} \| {re.escape(detail)} \|"
        assert re.search(row, section, re.MULTILINE), name
    html = render(rec, "html")
    section = html[html.index('<section id="features">'):html.index('<section id="criteria">')]
    for name, summary in DIAGNOSIS_TREATMENTS.items():
        treatment, detail = summary.split(": ", 1)
        assert (f"<td><code>{name}</code></td>" in section
                and f"<td>{treatment}</td><td>{detail}</td>" in section), name


def test_fitted_features_are_what_every_rendering_shows(diagnosis_rec):
    from advisor.profiling.loading import load_table
    from advisor.reporting.report import render
    from advisor.reporting.textout import format_recommendation

    rec = diagnosis_rec
    prepared = prepare(load_table(SAMPLE_DATA / "diagnosis.csv"), rec.profile)
    uses = describe_features(prepared, rec.profile, fit_transformer(prepared))
    rec = rec.replace(validation=rec.validation.replace(features=uses))
    assert [(u.name, u.distinct, u.summary) for u in uses][:3] == [
        ("age", 73, "numeric: standardised"), ("sex", 2, "one-hot: 2 levels"),
        ("bmi", 238, "numeric: standardised + missing indicator")]
    text = format_recommendation(rec)
    assert "Features (10 columns → 17 model inputs, as the trials' preprocessing made them):" in text
    assert "  sex              categorical    0.0% missing    2 distinct  one-hot: 2 levels" in text
    markdown = render(rec, "md")
    assert "10 columns became 17 model inputs" in markdown
    assert "| `sex` | categorical | 0.0% | 2 | one-hot | 2 levels | 2 |" in markdown
    html = render(rec, "html")
    assert ('<tr class="one-hot"><td><code>sex</code></td><td>categorical</td><td class="num">'
            '0.0%</td><td class="num">2</td><td>one-hot</td><td>2 levels</td>'
            '<td class="num">2</td></tr>') in html


# --- advisor.profiling.features: the facts ----------------------------------------------------------------


def test_missing_mask_counts_blanks_and_infinities():
    cells = pd.Series([None, "", "  ", "a", np.nan, pd.NA, 0], dtype=object)
    assert facts.missing_mask(cells).tolist() == [True, True, True, False, True, True, False]
    numbers = pd.Series([1.0, np.nan, np.inf, -np.inf])
    assert facts.missing_mask(numbers).tolist() == [False, True, True, True]
    arrow = pd.Series(["a", " ", None], dtype="string[pyarrow]")
    assert facts.missing_mask(arrow).tolist() == [False, True, True]
    category = pd.Series(["a", "", None]).astype("category")
    assert facts.missing_mask(category).tolist() == [False, True, True]


def test_column_kinds():
    def kind(values) -> str:
        column = pd.Series(values)
        return facts.column_kind(column, column)

    assert kind([1.5, 2.0, 3.0]) == "numeric"
    assert kind([7, 7, 7]) == "constant"
    assert kind([None, None]) == "constant"
    assert kind(["", " ", None]) == "constant"
    assert kind(["a", "b", "a"]) == "categorical"
    assert kind([True, False, True]) == "categorical"
    assert kind(pd.Series([1, 2, None], dtype=object)) == "numeric"
    assert kind(pd.to_timedelta([1, 2, 3], unit="h")) == "numeric"
    assert kind(["2021-01-05", "2021-02-07", "2022-03-01"]) == "datetime"
    assert kind(pd.to_datetime(["2021-01-05", "2021-02-07"])) == "datetime"
    assert kind([dt.date(2020, 1, 1), dt.date(2020, 1, 2)]) == "datetime"
    assert kind([f"a long sentence with spaces, number {i}" for i in range(10)]) == "text"


def test_number_helpers():
    assert facts.is_boolean(pd.Series([True, None], dtype=object))
    assert facts.is_boolean(pd.Series([True, None], dtype="boolean"))
    assert not facts.is_boolean(pd.Series([1, 0]))
    assert facts.holds_numbers(pd.Series([1, 2.5, None], dtype=object))
    assert not facts.holds_numbers(pd.Series([1, "a"], dtype=object))
    assert not facts.holds_numbers(pd.Series([True, False]))
    values = facts.as_float(pd.Series([1, None, 2.5, np.inf], dtype=object))
    assert np.array_equal(values, [1.0, np.nan, 2.5, np.nan], equal_nan=True)
    days = facts.as_float(pd.Series(pd.to_timedelta([36, 12], unit="h")))
    assert days.tolist() == [1.5, 0.5]


def test_feature_facts_by_hand():
    frame = pd.DataFrame({
        "f1": [1, 1, 1, 2, 3, 3, 4, 4],
        "f2": ["a", "a", "a", "b", "c", "c", None, ""],
    })
    target = pd.Series([0, 0, 1, 0, 1, 1, 0, 0])
    got = facts.describe_features(frame, target)
    assert (got.names, got.kinds) == (("f1", "f2"), ("numeric", "categorical"))
    assert got.missing_fractions == (0.0, 0.25)
    assert got.missing_cell_fraction == 0.125 and got.rows_with_missing_fraction == 0.25
    # Rows 1 and 5 repeat rows 0 and 4; rows 0-2 share features but not labels.
    assert got.duplicate_row_fraction == 0.25 and got.conflicting_label_fraction == 0.375
    assert (got.high_cardinality_columns, got.identifier_columns) == ((), ())
    assert (got.outlier_fraction, got.sample_rows) == (None, 8)
    assert facts.describe_features(frame, target, labels=False).conflicting_label_fraction is None


def test_identifiers_and_high_cardinality():
    n = 60
    frame = pd.DataFrame({"row": np.arange(n), "key": [f"k{i}" for i in range(n)],
                          "shop": [f"s{i % 55}" for i in range(n)],
                          "size": np.tile([1.0, 2.0, 3.0], n // 3)})
    got = facts.describe_features(frame, None)
    assert got.identifier_columns == ("row", "key")
    assert got.high_cardinality_columns == ("key", "shop")
    assert got.conflicting_label_fraction is None


def test_missing_count_agrees_with_missing_mask():
    """The cheap count (Arrow for Arrow-backed text, one finiteness test for floats) is the
    mask's, with the mask only when a cell is missing."""
    import pyarrow as pa

    from advisor.profiling.features import missing_count

    spaces = ["", " ", "\t\n", "\u00a0", "\u3000 ", " a ", "a", None]
    columns = [pd.Series(pd.array(spaces * 3, dtype=pd.ArrowDtype(pa.string()))),
               pd.Series(spaces * 3, dtype="str"), pd.Series(spaces * 3, dtype=object),
               pd.Series([1.0, np.nan, np.inf, -np.inf, -0.0]), pd.Series([1, 2, 3]),
               pd.Series([True, False]), pd.Series(["a", "b"], dtype=pd.ArrowDtype(pa.string())),
               pd.Series(pd.array([1, None], dtype="Int64"))]
    for column in columns:
        count, mask = missing_count(column)
        expected = facts.missing_mask(column)
        assert count == expected.sum(), column.dtype
        assert (mask is None) == (count == 0) and (mask is None or (mask == expected).all())


def test_isolation_forest_is_seeded_and_scores_as_scikit_learn_does():
    """The whole-array forest is deterministic for a seed, and its scores follow scikit-learn's
    IsolationForest (the same algorithm): the same share of rows above the threshold on planted
    outliers, and mean scores within a hundredth, over seeds."""
    from sklearn.ensemble import IsolationForest

    from advisor.profiling.features import ANOMALY_SCORE
    from advisor.profiling.isolation import anomaly_scores

    rng = np.random.default_rng(8)
    x = np.vstack([rng.normal(size=(3000, 3)), rng.normal(size=(60, 3)) + 9])
    assert (anomaly_scores(x, 50, 3) == anomaly_scores(x, 50, 3)).all()
    assert not (anomaly_scores(x, 50, 3) == anomaly_scores(x, 50, 4)).all()
    ours = [anomaly_scores(x, 50, seed) for seed in range(8)]
    theirs = [-IsolationForest(n_estimators=50, random_state=seed).fit(x).score_samples(x)
              for seed in range(8)]
    share = [np.mean([(s > ANOMALY_SCORE).mean() for s in scores]) for scores in (ours, theirs)]
    assert share[0] == pytest.approx(60 / 3060, abs=0.002) and share[1] == pytest.approx(
        share[0], abs=0.002)
    assert np.mean([s.mean() for s in ours]) == pytest.approx(
        np.mean([s.mean() for s in theirs]), abs=0.01)
    flat = np.ones((40, 2))  # every feature constant: nothing to split, every score alike
    assert np.unique(anomaly_scores(flat, 10, 0)).size == 1
