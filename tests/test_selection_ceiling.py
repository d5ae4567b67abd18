"""The selection ceiling's two selectors (benchmarks/selection_ceiling.py): the best
cross-validated mean takes whatever scores best, the verdict over every loss keeps the baseline
unless a loss beats it beyond noise."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, benchmark_module


@pytest.fixture(scope="module")
def ceiling(tmp_path_factory):
    with benchmark_module("selection_ceiling", tmp_path_factory.mktemp("advisor-cache")) as module:
        yield module


def trials(per_fold: dict[str, list[float]], rounds: int = 2) -> dict:
    """Fold scores of each loss, the same on every seed round plus a round-dependent nudge."""
    return {cid: [[f, 1009 * r, v + 0.01 * r] for r in range(rounds) for f, v in enumerate(values)]
            for cid, values in per_fold.items()}


def result(scores: dict, greater: bool, baseline: str, broken=None) -> dict:
    return {"greater_is_better": greater, "baseline": baseline, "scores": scores,
            "broken": broken or {}, "folds": 5, "rounds": 2}


@pytest.mark.parametrize("per_fold, greater, baseline, cv_best, verdict, pick, better", [
    # Mean absolute errors (lower is better): mae beats mse by 2–3 on every fold.
    ({"mse": [30.0, 32.0, 29.0, 31.0, 33.0], "mae": [27.5, 29.0, 26.8, 28.1, 30.2],
      "huber": [29.9, 32.2, 28.8, 31.1, 32.9]}, False, "mse", "mae", "improved", "mae", ["mae"]),
    # ROC AUC: 'focal' has the best mean only through one lucky fold, so only the CV selector
    # takes it.
    ({"crossentropy": [0.90, 0.91, 0.89, 0.92, 0.90], "focal": [0.88, 0.90, 0.99, 0.91, 0.89],
      "hinge": [0.89, 0.90, 0.88, 0.91, 0.89]}, True, "crossentropy", "focal", "tied",
     "crossentropy", []),
], ids=["better-on-every-fold-lower-is-better", "best-mean-without-evidence"])
def test_the_two_selectors(ceiling, per_fold, greater, baseline, cv_best, verdict, pick, better):
    sel = ceiling.selections(result(trials(per_fold), greater, baseline))
    assert sel["cv_best"] == cv_best
    assert (sel["verdict"], sel["verdict_pick"]) == (verdict, pick)
    assert sel["better"] == better


def test_a_broken_loss_is_never_the_best_mean(ceiling):
    scores = trials({"mse": [3.0, 3.1, 2.9, 3.0, 3.2], "msle": [1.0, 1.0, 1.0, 1.0, 1.0]})
    sel = ceiling.selections(result(scores, False, "mse", {"msle": "diverged"}))
    assert sel["cv_best"] == "mse"
    assert sel["verdict"] == "baseline-best"


def test_the_saved_printout_is_what_the_saved_trial_scores_give(ceiling, capsys):
    """benchmarks/README.md quotes results/selection_ceiling.txt: rebuilt from the saved trial
    scores and the saved benchmark, without training, it comes out line for line."""
    ceiling.main(["--report-only"])
    printed = capsys.readouterr().out
    saved = (ROOT / "benchmarks/results/selection_ceiling.txt").read_text(encoding="utf-8")
    assert printed == saved
    assert "  best CV mean over every loss                    16/20       7/8  23/28  0/28" in saved
