"""The validator: real, seeded Keras trials on real data, within a budget, with honest statistics."""

from __future__ import annotations

import math
import os
import pty
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import advisor
from advisor import catalog
from advisor.budget import Plan, plan_trials
from advisor.compare import corrected_interval, paired_difference
from advisor.criteria import criteria_for
from advisor.metrics import METRICS
from advisor.rules import RuleBook
from advisor.trials import Timing, TrialResult, run_trial
from advisor.validator import _job, _verdict, row_cap, validate
from tests.conftest import SAMPLE_DATA

STATUSES = {"recommended", "pick", "better", "tied", "worse", "dropped", "diverged", "failed",
            "not trialled"}


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame[[*frame.columns[:10], "target"]]


def _setup(frame, target, rules=(), **options):
    prof = advisor.profile(frame, target)
    book = RuleBook.load(rules)
    crit = criteria_for(prof, known_domains=book.domains, **options)
    return prof, crit, book.match(prof, crit).candidates


# --- pure parts: statistics, verdicts, plans ---------------------------------------------------


def test_corrected_interval_by_hand():
    values = [0.80, 0.84, 0.78, 0.82, 0.81]
    got = corrected_interval(values, test_train_ratio=0.25)
    mean, var = np.mean(values), np.var(values, ddof=1)
    half = 2.7764451 * math.sqrt((1 / 5 + 0.25) * var)  # t(0.975, 4)
    assert got.mean == pytest.approx(mean)
    assert (got.low, got.high) == pytest.approx((mean - half, mean + half), rel=1e-6)
    plain_half = 2.7764451 * math.sqrt(var / 5)
    assert half > plain_half  # the correction widens the naive interval


def test_paired_difference_is_oriented_towards_better():
    a = {(f, 0): 10.0 + f for f in range(5)}
    b = {(f, 0): 12.0 + f + 0.1 * (f % 2) for f in range(5)}
    # MAE-like metric: lower is better, so a beats b by about 2.
    diff = paired_difference(a, b, 0.25, greater_is_better=False)
    assert diff.mean == pytest.approx(2.04) and diff.low > 0
    assert paired_difference(a, b, 0.25, greater_is_better=True).high < 0


def _results(scores: dict[str, list[float]]) -> list[TrialResult]:
    return [TrialResult(cid, fold, 0, s, 20, 1.0) for cid, values in scores.items()
            for fold, s in enumerate(values)]


def _verdict_on(scores, complexity, greater=True):
    prof, crit, candidates = _setup(pd.read_csv(SAMPLE_DATA / "diagnosis.csv"), "diagnosis")
    by_loss = {c.loss: c for c in candidates}
    chosen = tuple(by_loss[k].replace(id=k, complexity=complexity[k]) for k in scores)
    plan = Plan(5, 1, 100, 10, 64, 3000, 3000, tuple(scores), 1.0, ())
    metric = METRICS["average_precision" if greater else "log_loss"]
    return _verdict(chosen, plan, _results(scores), {}, metric, 5)


def test_verdict_an_equivalent_simpler_loss_wins_the_tie():
    # Differences of a few thousandths on scores of 0.6: inside ±2% (0.012) with confidence.
    noise = [0.004, -0.003, 0.002, -0.001, 0.001]
    scores = {"focal": [0.60 + n for n in noise],
              "crossentropy": [0.60 + n / 2 + 0.001 for n in noise]}
    out = _verdict_on(scores, {"focal": 2, "crossentropy": 0})
    assert out["status"] == "confirmed" and out["winner"] == "crossentropy"
    assert "keep the simpler loss" in out["text"] and "equivalent" in out["text"]


def test_verdict_noise_that_cannot_show_equivalence_keeps_the_pick():
    # Not different beyond noise, but far too noisy to call the same: the rules' pick stands.
    noise = [0.05, -0.06, 0.04, -0.03, 0.02]
    scores = {"focal": [0.60 + n for n in noise],
              "crossentropy": [0.60 - n for n in noise]}
    out = _verdict_on(scores, {"focal": 2, "crossentropy": 0})
    assert out["status"] == "confirmed" and out["winner"] == "focal"
    assert "ties go to the rules' pick" in out["text"]
    states = {r.id: r.status for r in out["results"]}
    assert states == {"focal": "recommended", "crossentropy": "tied"}


def test_verdict_overturned_says_by_how_much():
    scores = {"focal": [0.50, 0.52, 0.49, 0.51, 0.50],
              "crossentropy": [0.60, 0.63, 0.58, 0.61, 0.60]}
    out = _verdict_on(scores, {"focal": 2, "crossentropy": 0})
    assert out["status"] == "overturned" and out["winner"] == "crossentropy"
    assert "by 0.1" in out["text"] and "95% interval" in out["text"]
    states = {r.id: r.status for r in out["results"]}
    assert states == {"focal": "pick", "crossentropy": "recommended"}


def test_verdict_confirmed_when_the_pick_wins():
    scores = {"focal": [0.70, 0.72, 0.69, 0.71, 0.70],
              "crossentropy": [0.60, 0.63, 0.58, 0.61, 0.60]}
    out = _verdict_on(scores, {"focal": 2, "crossentropy": 0})
    assert (out["status"], out["winner"]) == ("confirmed", "focal")


def test_verdict_inconclusive_with_too_few_trials():
    out = _verdict_on({"focal": [0.7, 0.6], "crossentropy": [0.5, 0.6]},
                      {"focal": 2, "crossentropy": 0})
    assert (out["status"], out["winner"]) == ("inconclusive", "focal")


def test_plan_cuts_in_order_and_keeps_pick_and_default():
    timing = Timing(trial_seconds=1.0, epoch_seconds=0.05, step_seconds=0.002, batch_size=128)
    ids = ("focal", "weighted", "label_smoothing", "crossentropy")
    generous = plan_trials(5000, ids, timing, 10_000, jobs=1, keep=("focal", "crossentropy"))
    assert (generous.folds, generous.seeds, generous.max_epochs, generous.rows) == (5, 3, 100, 5000)
    assert generous.cuts == ()
    tight = plan_trials(200_000, ids, timing, 40, jobs=1, keep=("focal", "crossentropy"))
    kinds = [c.split()[0] for c in tight.cuts]
    assert kinds[:3] == ["seeds", "epoch", "folds"], tight.cuts
    assert {"focal", "crossentropy"} <= set(tight.candidates)
    assert tight.rows < 200_000 and "rows" in kinds
    assert plan_trials(200_000, ids, timing, 40, jobs=1, keep=("focal", "crossentropy")) == tight


def test_memory_limit_caps_the_rows_trials_hold():
    prof = advisor.profile(pd.read_csv(SAMPLE_DATA / "land_cover.csv"), "land_cover")
    cap, why = row_cap(prof, criteria_for(prof, memory_limit_mb=0.05))
    per_row_mb = prof.memory_mb / prof.n_rows_total * 8
    assert cap == max(int(0.05 / per_row_mb), 100) and cap < prof.n_rows
    assert "--memory-limit-mb 0.05" in why
    assert row_cap(prof, criteria_for(prof))[0] == 200_000


# --- real trials ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_binary_validation(tmp_path):
    frame = _breast_cancer()
    prof, crit, candidates = _setup(frame, "target", budget_seconds=25, model="mlp")
    assert crit.metric == "roc_auc"  # balanced binary: never the loss itself
    val = validate(frame, prof, crit, candidates[:3], seed=1, cache=tmp_path)
    assert val.status in {"confirmed", "overturned", "inconclusive"}
    assert val.seconds <= 25 * 1.2, val.seconds
    assert val.metric == "roc_auc" and "ROC AUC" in val.verdict
    for result in val.candidates:
        assert result.status in STATUSES
        if result.n_trials:
            assert result.ci_low <= result.mean <= result.ci_high
            assert 0.8 < result.mean <= 1.0, result  # a real model on real data
            assert len(result.curves) >= 1 and all(len(c) >= 1 for c in result.curves)
    assert val.plan.folds >= 3 and val.plan.rows == len(frame)


@pytest.mark.slow
def test_budget_bounds_the_wall_time(tmp_path):
    frame = pd.read_csv(SAMPLE_DATA / "land_cover.csv")
    prof, crit, candidates = _setup(frame, "land_cover", budget_seconds=12)
    val = validate(frame, prof, crit, candidates[:4], seed=0, cache=False)
    assert val.seconds <= 12 * 1.2, val.seconds
    assert val.plan.cuts, "a 12 s budget must cut something"
    assert val.status in {"confirmed", "overturned", "inconclusive"}


class ExplodingLoss(keras.losses.Loss):
    """log of a negative number: NaN from the first step."""

    def call(self, y_true, y_pred):
        return keras.ops.log(keras.ops.mean(y_pred, axis=-1) - 2.0)


class BrokenLoss(keras.losses.Loss):
    def call(self, y_true, y_pred):
        raise ValueError("boom: this loss cannot be computed")


@pytest.fixture
def user_losses(tmp_path):
    catalog.register_loss("exploding", ExplodingLoss, tasks=("binary",))
    catalog.register_loss("broken", BrokenLoss, tasks=("binary",))
    rules = tmp_path / "user.yaml"
    rules.write_text("""
criterion: data_distribution
rules:
  - id: try-exploding
    title: A loss that diverges
    when: {task: {eq: binary}}
    suggest: [{loss: exploding, weight: 9}, {loss: broken, weight: 8}]
    because: Testing divergence on a {task} target.
    examples:
      fires: {task: binary}
      does_not_fire: {task: regression}
""")
    yield rules
    catalog.unregister_loss("exploding")
    catalog.unregister_loss("broken")


@pytest.mark.slow
def test_diverged_and_failing_candidates_do_not_stop_the_rest(tmp_path, user_losses):
    frame = _breast_cancer()
    prof, crit, candidates = _setup(frame, "target", rules=[user_losses], budget_seconds=60)
    chosen = [c for c in candidates if c.loss in ("exploding", "broken", "crossentropy")]
    assert [c.loss for c in chosen[:2]] == ["exploding", "broken"]
    val = validate(frame, prof, crit, chosen, seed=0, cache=tmp_path)
    by_id = {r.id: r for r in val.candidates}
    assert by_id["exploding"].status == "diverged" and by_id["exploding"].diverged_epoch == 1
    assert by_id["broken"].status == "failed" and "boom" in by_id["broken"].error
    assert by_id["crossentropy"].n_trials >= 3 and by_id["crossentropy"].mean > 0.9
    assert val.status == "overturned" and val.winner == "crossentropy"
    assert "diverged at epoch 1" in val.verdict


def _cache_entries(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("output.pkl")}


@pytest.mark.slow
def test_cache_makes_an_identical_rerun_train_nothing(tmp_path):
    # A small table and a roomy budget: no trial is cut short (those are never cached).
    frame = _breast_cancer().sample(240, random_state=0)
    prof, crit, candidates = _setup(frame, "target", budget_seconds=60)
    first = validate(frame, prof, crit, candidates[:2], seed=3, cache=tmp_path)
    assert not any("budget" in w for w in first.warnings), first.warnings
    entries = _cache_entries(tmp_path)
    assert len(entries) >= first.plan.folds  # trials and the pilot were stored
    second = validate(frame, prof, crit, candidates[:2], seed=3, cache=tmp_path)
    assert _cache_entries(tmp_path) == entries  # nothing new was trained
    assert [r.scores for r in second.candidates] == [r.scores for r in first.candidates]
    assert second.verdict == first.verdict and second.plan == first.plan
    other = validate(frame, prof, crit.replace(budget_seconds=10), candidates[:2], seed=3,
                     cache=False)
    assert other.plan is not None and _cache_entries(tmp_path) == entries


@pytest.mark.slow
def test_a_trial_is_a_deterministic_function_of_its_inputs():
    frame = _breast_cancer()
    prof, crit, candidates = _setup(frame, "target")
    from advisor.prepare import fold_data, make_folds, prepare
    from advisor.trials import Settings

    prepared = prepare(frame, prof)
    splits, _ = make_folds(prepared, 5, 0)
    data = fold_data(prepared, *splits[2], 2, 0)
    settings = Settings("mlp", 30, 64, 5, crit.metric)
    job = _job(candidates[0], prof, 2, 11, settings, None)
    one, two = run_trial(job, data, threads=1), run_trial(job, data, threads=1)
    assert one.score is not None
    assert (one.score, one.epochs, one.val_loss) == (two.score, two.epochs, two.val_loss)


@pytest.mark.slow
def test_parallel_jobs_run_in_worker_processes(tmp_path):
    frame = _breast_cancer()
    prof, crit, candidates = _setup(frame, "target", budget_seconds=40, jobs=2)
    val = validate(frame, prof, crit, candidates[:2], seed=0, cache=False)
    assert val.status in {"confirmed", "overturned", "inconclusive"}
    assert all(r.n_trials >= 3 for r in val.candidates if r.status != "not trialled"), val
    assert val.seconds <= 40 * 1.2


@pytest.mark.slow
def test_users_model_fn_is_what_the_trials_train(tmp_path):
    built = []

    def my_model(n_features, output):
        inputs = keras.Input((n_features,))
        hidden = keras.layers.Dense(8, activation="tanh", name="user_hidden")(inputs)
        model = keras.Model(inputs, output(hidden))
        built.append(model)
        return model

    frame = _breast_cancer()
    prof, crit, candidates = _setup(frame, "target", budget_seconds=15)
    val = validate(frame, prof, crit, candidates[:2], seed=0, cache=False, model_fn=my_model)
    assert built and all(m.get_layer("user_hidden").units == 8 for m in built)
    assert val.model.startswith("model_fn:") and "my_model" in val.model
    assert val.seconds <= 15 * 1.2, val.seconds
    assert any(r.n_trials for r in val.candidates)


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only(tmp_path):
    env = {**os.environ, "ADVISOR_CACHE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "advisor", "recommend", str(SAMPLE_DATA / "diagnosis.csv"),
               "--target", "diagnosis", "--budget", "10", "--candidates", "2"]
    leader, follower = pty.openpty()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, env=env, timeout=120)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert done.returncode == 0
    assert b"trials [" in seen
    piped = subprocess.run(command + ["--no-cache"], capture_output=True, env=env, timeout=120)
    assert piped.returncode == 0 and b"trials [" not in piped.stderr
