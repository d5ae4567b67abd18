"""The selection ceiling's two selectors (benchmarks/selection_ceiling.py): the best
cross-validated mean takes whatever scores best, the verdict over every loss keeps the baseline
unless a loss beats it beyond noise."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def ceiling(tmp_path_factory):
    before = os.environ.get("ADVISOR_CACHE_DIR")
    os.environ["ADVISOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("advisor-cache"))
    spec = importlib.util.spec_from_file_location("selection_ceiling",
                                                  ROOT / "benchmarks/selection_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    path = list(sys.path)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("real_tables", None)
        sys.path[:] = path  # the script puts benchmarks/ first on the path
        if before is None:
            os.environ.pop("ADVISOR_CACHE_DIR", None)
        else:
            os.environ["ADVISOR_CACHE_DIR"] = before


def trials(per_fold: dict[str, list[float]], rounds: int = 2) -> dict:
    """Fold scores of each loss, the same on every seed round plus a round-dependent nudge."""
    return {cid: [[f, 1009 * r, v + 0.01 * r] for r in range(rounds) for f, v in enumerate(values)]
            for cid, values in per_fold.items()}


def result(scores: dict, greater: bool, baseline: str, broken=None) -> dict:
    return {"greater_is_better": greater, "baseline": baseline, "scores": scores,
            "broken": broken or {}, "folds": 5, "rounds": 2}


def test_a_loss_better_on_every_fold_is_both_selectors_pick_lower_is_better(ceiling):
    # Mean absolute errors (lower is better): mae beats mse by 2–3 on every fold.
    scores = trials({"mse": [30.0, 32.0, 29.0, 31.0, 33.0],
                     "mae": [27.5, 29.0, 26.8, 28.1, 30.2],
                     "huber": [29.9, 32.2, 28.8, 31.1, 32.9]})
    sel = ceiling.selections(result(scores, False, "mse"))
    assert sel["cv_best"] == "mae"
    assert (sel["verdict"], sel["verdict_pick"]) == ("improved", "mae")
    assert sel["better"] == ["mae"]


def test_the_best_mean_without_evidence_is_picked_only_by_the_cv_selector(ceiling):
    # ROC AUC: 'focal' has the best mean only through one lucky fold.
    scores = trials({"crossentropy": [0.90, 0.91, 0.89, 0.92, 0.90],
                     "focal": [0.88, 0.90, 0.99, 0.91, 0.89],
                     "hinge": [0.89, 0.90, 0.88, 0.91, 0.89]})
    sel = ceiling.selections(result(scores, True, "crossentropy"))
    assert sel["cv_best"] == "focal"
    assert (sel["verdict"], sel["verdict_pick"]) == ("tied", "crossentropy")


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
