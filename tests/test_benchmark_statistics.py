"""The real-table benchmark's comparison with TEST's sampling noise (benchmarks/real_tables.py):
a two-level bootstrap over TEST's rows and the paired seeds, on scikit-learn's breast cancer
table with its own columns as the scores two "losses" produced."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score

from tests.conftest import benchmark_module


@pytest.fixture(scope="module")
def real_tables(tmp_path_factory):
    """The script as a module, imported with the advisor's cache in a temporary folder."""
    with benchmark_module("real_tables", tmp_path_factory.mktemp("advisor-cache")) as module:
        yield module


@pytest.fixture(scope="module")
def cancer():
    data = load_breast_cancer(as_frame=True)
    return data.frame, (data.target == 0).to_numpy().astype(int)  # 1 = malignant


def seeds_of(scores: np.ndarray, rng: np.random.Generator, jitter: float) -> dict[int, np.ndarray]:
    """Five "seeds" of one predictor: its scores with a little seeded noise each."""
    return {k: scores + jitter * rng.standard_normal(len(scores)) for k in range(1, 6)}


def auc(y, s):
    """ROC AUC from ranks (Mann–Whitney): the same number as scikit-learn's, 20 times faster."""
    ranks = rankdata(s)
    positives = int(y.sum())
    negatives = len(y) - positives
    if not positives or not negatives:
        raise ValueError("one class only")
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def test_the_rank_auc_is_scikit_learns(cancer):
    frame, y = cancer
    for column in ("worst perimeter", "mean smoothness", "texture error"):
        assert auc(y, frame[column].to_numpy()) == pytest.approx(
            roc_auc_score(y, frame[column].to_numpy()), abs=1e-12)


def test_a_loss_against_itself_is_exactly_tied(real_tables, cancer):
    frame, y = cancer
    a = seeds_of(frame["mean radius"].to_numpy(), np.random.default_rng(0), 0.5)
    assert real_tables.interval_with_test_noise(y, a, a, auc, True, 7) == (
        0.0, 0.0, 0.0, real_tables.BOOTSTRAP)


def test_a_large_gain_on_569_rows_is_beyond_the_noise_and_oriented(real_tables, cancer):
    frame, y = cancer
    rng = np.random.default_rng(0)
    strong = seeds_of(frame["worst perimeter"].to_numpy(), rng, 1.0)  # AUC 0.98
    weak = seeds_of(frame["mean smoothness"].to_numpy(), rng, 0.001)  # AUC 0.72
    mean, low, high, used = real_tables.interval_with_test_noise(y, strong, weak, auc, True, 7)
    assert used == real_tables.BOOTSTRAP
    assert 0.2 < mean < 0.3 and 0 < low < mean < high
    # Lower is better: the same difference, read the other way round.
    flipped = real_tables.interval_with_test_noise(y, strong, weak, auc, False, 7)
    assert flipped[0] == pytest.approx(-mean) and flipped[2] < 0


def test_a_gain_the_seeds_call_real_is_a_tie_on_a_small_test_split(real_tables, cancer):
    """Two predictors 0.01 of AUC apart with little seed noise: paired by seed alone the gap is
    'beyond noise'; with 80 TEST rows redrawn it is not — which the band with TEST's noise
    is for."""
    frame, y = cancer
    rows = np.random.default_rng(1).choice(len(y), 80, replace=False)
    rng = np.random.default_rng(2)
    a = seeds_of(frame["worst perimeter"].to_numpy()[rows], rng, 0.5)
    b = seeds_of(frame["worst radius"].to_numpy()[rows], rng, 0.05)
    per_seed = np.array([auc(y[rows], a[k]) - auc(y[rows], b[k]) for k in a])
    assert abs(per_seed.mean()) > 3 * per_seed.std(ddof=1) / np.sqrt(5)  # seeds: "real"
    mean, low, high, _ = real_tables.interval_with_test_noise(y[rows], a, b, auc, True, 7)
    assert mean == pytest.approx(per_seed.mean())
    assert low < 0 < high


def test_too_few_seeds_or_scorable_replicates_give_no_interval(real_tables, cancer):
    frame, y = cancer
    rng = np.random.default_rng(3)
    a = seeds_of(frame["worst perimeter"].to_numpy(), rng, 1.0)
    b = seeds_of(frame["mean smoothness"].to_numpy(), rng, 0.001)
    two = {k: a[k] for k in (1, 2)}  # fewer seeds than a loss needs to be ranked
    mean, low, high, used = real_tables.interval_with_test_noise(y, two, b, auc, True, 7)
    assert (used, np.isnan(mean), np.isnan(low), np.isnan(high)) == (0, True, True, True)
    # Two malignant rows among 200: one replicate in seven draws neither and cannot be scored.
    rows = np.concatenate([np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 0)[:198]])
    a = {k: v[rows] for k, v in a.items()}
    b = {k: v[rows] for k, v in b.items()}
    mean, low, high, used = real_tables.interval_with_test_noise(y[rows], a, b, auc, True, 7)
    assert 800 < used < real_tables.MIN_REPLICATES_SHARE * real_tables.BOOTSTRAP
    assert np.isfinite(mean) and np.isnan(low) and np.isnan(high)
    assert "replicates" in real_tables.interval_text([mean, low, high, used])
