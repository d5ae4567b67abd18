"""The Python API end to end: advisor.recommend(...) and a user's own model trained with its answer."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.pipeline.recommendation import Recommendation
from tests.conftest import SAMPLE_DATA


def _encode(y: pd.Series, rec: Recommendation) -> np.ndarray:
    """The target as ``rec.recommendation.target_transform`` says the loss expects it."""
    prof = rec.profile
    transform = rec.recommendation.target_transform
    if transform == "binary_01":
        return (y == prof.positive_class).astype("float32").to_numpy()
    if transform in ("label_index", "one_hot"):
        index = y.map({label: i for i, label in enumerate(prof.class_labels)}).to_numpy()
        return index if transform == "label_index" else np.eye(prof.n_classes)[index]
    return y.to_numpy(dtype="float32")


@pytest.mark.slow
def test_users_own_model_trains_with_rec_loss_and_fit_kwargs(tmp_path):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(SAMPLE_DATA / "diagnosis.csv")
    rec = advisor.recommend(frame, target="diagnosis", domain="medical", budget=20, seed=0,
                            cache=tmp_path)
    assert isinstance(rec.loss, keras.losses.Loss)
    # 20 s buys one round of the rules' pick against the baseline: no difference shows.
    assert (rec.validation.status, rec.recommendation.id) == ("tied", "crossentropy")
    assert rec.validation.vs_baseline.loss == "weighted_crossentropy"

    features = frame.drop(columns="diagnosis").select_dtypes("number")
    x = features.fillna(features.median()).to_numpy("float32")
    y = _encode(frame["diagnosis"], rec)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(x_train)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((x.shape[1],))
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    outputs = keras.layers.Dense(1, activation=rec.output_activation)(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=rec.loss)
    history = model.fit(scaler.transform(x_train), y_train, epochs=15, batch_size=64, verbose=0,
                        **rec.fit_kwargs)
    assert np.isfinite(history.history["loss"]).all()
    scores = model.predict(scaler.transform(x_test), verbose=0).ravel()
    assert roc_auc_score(y_test, scores) > 0.75  # the features carry real signal


@pytest.mark.slow
def test_recommend_with_x_and_y(tmp_path):
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    rec = advisor.recommend(data.data, data.target, budget=15, cache=tmp_path, candidates=2)
    assert rec.profile.task == "regression" and rec.validation.metric == "rmse"
    assert (rec.validation.status, rec.recommendation.id) == ("tied", "mse")
    assert [(r.id, r.status) for r in rec.validation.candidates] == [("mse", "recommended"),
                                                                      ("mae", "tied")]
    assert rec.recommendation.output_activation == "linear"
    assert rec.to_dict()["recommendation"]["loss"] == rec.recommendation.loss


@pytest.mark.slow
def test_when_every_trial_fails_the_error_names_each_loss_and_its_exception(tmp_path):
    built = []

    def failing_model(n_features, output):
        built.append(n_features)
        if len(built) > 1:  # the plan sizes the network once; then every trial's build fails
            raise RuntimeError("kaboom: this model cannot be built")
        inputs = keras.Input((n_features,))
        return keras.Model(inputs, output(keras.layers.Dense(4)(inputs)))

    with pytest.raises(advisor.AdvisorError) as caught:
        advisor.recommend(SAMPLE_DATA / "diagnosis.csv", "diagnosis", budget=15, candidates=2,
                          cache=tmp_path, model_fn=failing_model)
    message = str(caught.value)
    assert message == (
        "Every trialled candidate failed, so the trials measured nothing: weighted_crossentropy "
        "failed (RuntimeError: kaboom: this model cannot be built); crossentropy failed "
        "(RuntimeError: kaboom: this model cannot be built). Fix the cause, or pass --no-validate "
        "(validate=False) for the rules' answer untested.")


def test_no_validate_is_tensorflow_free_and_round_trips():
    code = (
        "import json, sys, advisor\n"
        "rec = advisor.recommend(sys.argv[1], target='n_claims', domain='insurance', validate=False)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "print(rec.to_json())\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(SAMPLE_DATA / "claims.csv")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    rebuilt = Recommendation.from_dict(document)
    assert rebuilt.to_dict() == document
    assert document["validation"]["status"] == "skipped"
    assert document["recommendation"]["loss"] == "poisson"
    assert document["recommendation"]["keras"] == {"class_name": "Poisson", "config": {}}
    assert document["recommendation"]["output_activation"] == "exponential"


def test_same_input_options_and_seed_give_the_same_output():
    first = advisor.recommend(SAMPLE_DATA / "land_cover.csv", target="land_cover", validate=False,
                              seed=4)
    second = advisor.recommend(SAMPLE_DATA / "land_cover.csv", target="land_cover",
                               validate=False, seed=4)
    assert first.to_json() == second.to_json()
    frame = pd.read_csv(SAMPLE_DATA / "land_cover.csv")
    from_frame = advisor.recommend(frame, target="land_cover", validate=False, seed=4)
    assert from_frame.recommendation == first.recommendation
    assert from_frame.input.path is None and len(from_frame.input.sha256) == 64


def test_bad_options_are_usage_errors():
    with pytest.raises(advisor.UsageError, match="Did you mean 'medical'"):
        advisor.recommend(SAMPLE_DATA / "diagnosis.csv", target="diagnosis", domain="medcal",
                          validate=False)
    with pytest.raises(advisor.UsageError, match="--fn-cost/--fp-cost apply to binary"):
        advisor.recommend(SAMPLE_DATA / "house_prices.csv", target="price_k", fn_cost=5,
                          fp_cost=1, validate=False)
    with pytest.raises(advisor.UsageError, match="--metric macro_f1 does not apply to binary"):
        advisor.recommend(SAMPLE_DATA / "diagnosis.csv", target="diagnosis", metric="macro_f1",
                          validate=False)


@pytest.mark.slow
def test_stated_costs_decide_and_the_trials_report_on_them(tmp_path):
    rec = advisor.recommend(SAMPLE_DATA / "house_prices.csv", target="price_k", under_cost=4,
                            over_cost=1, budget=30, cache=tmp_path)
    v = rec.validation
    assert (rec.recommendation.loss, v.decided_by, v.baseline) == ("quantile", "statement", "mse")
    assert rec.recommendation.params["tau"] == pytest.approx(0.8)
    assert v.metric == "pinball" and v.vs_baseline.loss == rec.recommendation.id
    assert v.verdict.startswith("Your stated costs decide: " + rec.recommendation.id)
    # On the pinball loss at τ = 0.8 the quantile loss wins clearly: five paired trials (30 s
    # buys five folds) are enough to say so; at 20 s, four were not (``tied``, ahead).
    assert (v.status, v.vs_baseline.n_trials) == ("improved", 5)


@pytest.mark.slow
def test_plan_file_replays_a_saved_run(tmp_path):
    from click.testing import CliRunner

    from advisor.cli import main

    runner = CliRunner()
    args = ["recommend", str(SAMPLE_DATA / "tags.csv"), "--target", "is_spam,is_promo,is_urgent", "--budget", "15",
            "--format", "json", "--no-cache"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    saved = tmp_path / "first.json"
    saved.write_text(first.stdout)
    replay = runner.invoke(main, args[:-3] + ["--format", "json", "--no-cache",
                                              "--plan", str(saved)])
    assert replay.exit_code == 0, replay.output
    one, two = json.loads(first.stdout)["validation"], json.loads(replay.stdout)["validation"]
    for block in (one, two):
        block.pop("seconds"), block.pop("budget_seconds")
        for c in block["candidates"]:
            c.pop("seconds")
    assert one == two


def test_a_bad_plan_file_is_a_one_line_usage_error(tmp_path):
    from click.testing import CliRunner

    from advisor.cli import main

    no_plan = tmp_path / "rules_only.json"
    no_plan.write_text(json.dumps({"reproducibility": {"plan": None}}))
    not_json = tmp_path / "junk.json"
    not_json.write_text("{not json")
    for path, expected in ((no_plan, "holds no plan"), (not_json, "is not valid JSON"),
                           (tmp_path / "missing.json", "does not exist")):
        done = CliRunner().invoke(main, ["recommend", str(SAMPLE_DATA / "tags.csv"), "--target",
                                         "is_spam", "--plan", str(path)])
        assert done.exit_code == 2, done.output
        assert expected in done.output and "Traceback" not in done.output


@pytest.mark.parametrize("table, target", [("diagnosis.csv", "diagnosis"),
                                           ("house_prices.csv", "price_k")])
def test_a_given_profile_gives_the_same_rules_answer(table, target):
    path = SAMPLE_DATA / table
    plain = advisor.recommend(path, target, validate=False)
    given = advisor.recommend(path, target, validate=False, profile=advisor.profile(path, target))
    assert given.to_dict() == plain.to_dict()
    # as the service hands it to its worker: through JSON
    as_json = advisor.DatasetProfile.from_dict(json.loads(advisor.profile(path, target).to_json()))
    assert advisor.recommend(path, target, validate=False, profile=as_json).to_json() == \
        plain.to_json()


@pytest.mark.slow
def test_a_given_profile_gives_the_same_validated_answer():
    path = SAMPLE_DATA / "diagnosis.csv"
    plain = advisor.recommend(path, "diagnosis", budget=8, cache=False)
    # the same trials (the plan replayed, no cache): only the wall-clock seconds may differ
    given = advisor.recommend(path, "diagnosis", budget=8, cache=False,
                              profile=advisor.profile(path, "diagnosis"),
                              plan=plain.validation.plan)
    one, two = plain.to_dict(), given.to_dict()
    for document in (one, two):
        document["validation"].pop("seconds")
        document["validation"].pop("budget_seconds")
        for candidate in document["validation"]["candidates"]:
            candidate.pop("seconds")
    assert two == one
    assert any(c.n_trials for c in given.validation.candidates)
