"""One protocol: what the user pastes is what the trials measured.

For every catalogue loss and every task it has, a candidate is configured on a small real table
and trained three ways on one fold with one seed: by the advisor's own trial (``run_trial``), by
code written here from the candidate's JSON alone (loss, head, training, prediction), and by
executing the candidate's printed code as it stands. All three must get the same score.

The tables are real: scikit-learn's breast cancer (binary), wine (multiclass) and diabetes
(regression; a multilabel target of three of its real facts), the cell smoothness of the breast
cancer set (a regression target inside [0, 1]) and statsmodels' RAND Health Insurance Experiment
doctor visits (counts). Everything that imports Keras does so inside a test, so collecting this
file stays TensorFlow-free.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import math
import subprocess
import sys
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.base.errors import UsageError
from advisor.criteria.metrics import metric_context
from advisor.criteria.statement import criteria_for
from advisor.losses import catalog, protocol
from advisor.losses.protocol import (
    Prediction,
    Training,
    prediction_for,
    training_for,
    weighted_prior,
)
from advisor.rules.engine import RuleBook

SEED = 3  # not 0: the seed must travel from the training block to every place that uses it
HIDDEN_UNITS = 8
EPOCHS = 5
PATIENCE = 2
BATCH = 32
ROWS = 300


def test_class_weights_become_each_rows_weight():
    weights = {0: 0.55, 1: 5.0, "2": 1.25}  # keys as JSON may bring them back
    labels = np.array([1, 0, 2, 2, 1, 0])
    expected = np.array([5.0, 0.55, 1.25, 1.25, 5.0, 0.55], dtype="float32")
    for y in (labels, labels.astype("float32").reshape(-1, 1), np.eye(3)[labels]):
        got = protocol.class_weight_of(y, weights)
        assert got.dtype == np.float32 and got.tolist() == expected.tolist()
    with pytest.raises(KeyError, match="3"):
        protocol.class_weight_of(np.array([0, 3]), weights)


# --- real tables, one per task --------------------------------------------------------------------


@lru_cache(maxsize=None)
def table(name: str) -> tuple[pd.DataFrame, str]:
    """(frame, target) of a small real table."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    if name == "breast_cancer":
        data = load_breast_cancer(as_frame=True)
        frame = data.frame.iloc[:, :10].copy()
        frame["diagnosis"] = [data.target_names[i] for i in data.target]
        return frame.sample(ROWS, random_state=0), "diagnosis"
    if name == "wine":
        data = load_wine(as_frame=True)
        frame = data.frame.drop(columns="target")
        frame["cultivar"] = [data.target_names[i] for i in data.target]
        return frame, "cultivar"
    if name in ("diabetes", "diabetes_labels"):
        data = load_diabetes(as_frame=True, scaled=False).frame
        if name == "diabetes":
            return data, "target"
        frame = data[["age", "sex", "s1", "s2", "s3", "s4", "s5", "s6"]].copy()
        frame["high_progression"] = (data["target"] > data["target"].median()).astype(int)
        frame["high_bmi"] = (data["bmi"] > data["bmi"].quantile(0.75)).astype(int)
        frame["high_bp"] = (data["bp"] > data["bp"].median()).astype(int)
        return frame, "high_progression,high_bmi,high_bp"
    if name == "smoothness":
        data = load_breast_cancer(as_frame=True).frame
        frame = data[["mean radius", "mean texture", "mean perimeter", "mean area",
                      "mean compactness", "mean concavity", "mean symmetry"]].copy()
        frame["smoothness"] = data["mean smoothness"]  # a real [0, 1]-bounded measurement
        return frame.sample(ROWS, random_state=0), "smoothness"
    if name == "doctor_visits":
        import statsmodels.api as sm

        frame = sm.datasets.randhie.load_pandas().data
        return frame.sample(400, random_state=0), "mdvis"
    raise KeyError(name)


TASK_TABLES = {
    "binary": ("breast_cancer",),
    "multiclass": ("wine",),
    "multilabel": ("diabetes_labels",),
    "regression": ("diabetes", "smoothness"),
    "count": ("doctor_visits",),
}
CRITERIA_OPTIONS = ({}, {"fn_cost": 5.0, "fp_cost": 1.0})


@lru_cache(maxsize=None)
def profile_of(name: str):
    frame, target = table(name)
    task = "count" if name == "doctor_visits" else None
    return advisor.profile(frame, target, task=task)


def compatible_case(key: str, task: str):
    """(table name, profile, criteria) under which loss ``key`` applies to ``task``."""
    spec = catalog.get_spec(key)
    tried = []
    for name in TASK_TABLES[task]:
        p = profile_of(name)
        assert p.task == task, (name, p.task)
        for options in CRITERIA_OPTIONS:
            try:
                c = criteria_for(p, **options)
            except UsageError as exc:
                tried.append(str(exc))
                continue
            problem = catalog.incompatibility(spec, {**p.to_dict(), **c.to_dict()})
            if problem is None:
                return name, p, c
            tried.append(f"{name} {options}: {problem}")
    raise AssertionError(f"{key}/{task}: no table and criteria satisfy it: {tried}")


def encoded(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised numeric features (float32) and the target as the trials hold it: 0/1 for
    binary, class indices, a 0/1 label matrix, or values."""
    frame, _ = table(name)
    p = profile_of(name)
    features = frame[list(p.feature_names)].astype("float64")
    x = ((features - features.mean()) / features.std().replace(0, 1)).to_numpy("float32")
    if p.task == "multilabel":
        y = frame[list(p.target_columns)].to_numpy("int64")
    elif p.task == "binary":
        y = (frame[p.target] == p.positive_class).to_numpy("int64")
    elif p.task == "multiclass":
        index = {label: i for i, label in enumerate(p.class_labels)}
        y = frame[p.target].map(index).to_numpy("int64")
    else:
        y = frame[p.target].to_numpy("float64")
    return x, y


def users_target(y: np.ndarray, transform: str, n_classes: int | None) -> np.ndarray:
    """The target as the printed code's comment tells the user to encode it."""
    if transform == "one_hot":
        return np.eye(n_classes, dtype="float32")[y]
    if transform == "label_index":
        return y.astype("int64")
    return y.astype("float32")


def fold_for(name: str, training: Training):
    """One fold: a quarter of the rows held out for scoring; the rest split into training and
    validation rows the way the printed code splits its X and y."""
    import joblib
    from sklearn.model_selection import train_test_split

    from advisor.validation.trials import FoldData

    p = profile_of(name)
    x, y = encoded(name)
    outer = protocol.split_strata(y, p.task, True)
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=1,
                                   stratify=outer)
    x_rows, y_rows = x[train], y[train]
    strata = protocol.split_strata(y_rows, p.task, training.stratify)
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_rows, y_rows, test_size=training.validation_fraction, random_state=training.seed,
        stratify=strata)
    arrays = (x_fit, y_fit, x_val, y_val, x[test], y[test])
    return FoldData(joblib.hash(arrays), 0, *arrays), x_rows, y_rows


def small_training(config) -> Training:
    return config.training.replace(max_epochs=EPOCHS, patience=PATIENCE, batch_size=BATCH,
                                   seed=SEED)


def as_scores(values, task: str) -> np.ndarray:
    out = np.asarray(values).astype("float64")
    return out.reshape(-1) if task in ("binary", "regression", "count") else out


def user_model_inputs(keras, n_features: int):
    """The user's ``inputs`` and ``hidden``: the trials' MLP, built under the trial's seed."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((n_features,))
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="relu")(inputs)
    return inputs, hidden


def run_printed_code(keras, config, x_rows: np.ndarray, y_user: np.ndarray) -> dict:
    """Execute the candidate's printed code as it stands, given X, y, inputs and hidden."""
    inputs, hidden = user_model_inputs(keras, x_rows.shape[1])
    namespace = {"X": x_rows, "y": y_user, "inputs": inputs, "hidden": hidden}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(config.code, f"<{config.loss}/{config.task}>", "exec"), namespace)
    return namespace


def train_from_json(keras, document: dict, x_rows: np.ndarray, y_user: np.ndarray,
                    n_features: int):
    """Build and train the model from the candidate's JSON alone, without advisor code."""
    spec = document["keras"]
    loss = (keras.saving.deserialize_keras_object(spec) if "module" in spec
            else keras.losses.get(spec))
    head, training, prediction = document["head"], document["training"], document["prediction"]
    inputs, hidden = user_model_inputs(keras, n_features)
    keras.utils.set_random_seed(training["seed"])
    layer = keras.layers.Dense(head["units"], activation=head["activation"])
    outputs = layer(hidden)
    if head["bias"] is not None:
        layer.bias.assign(np.asarray(head["bias"], dtype="float32"))
    if head["rescale_scale"] is not None:
        outputs = keras.layers.Rescaling(head["rescale_scale"], head["rescale_offset"])(outputs)
    model = keras.Model(inputs, outputs)
    optimizer = keras.optimizers.get({"class_name": training["optimizer"],
                                      "config": {"learning_rate": training["learning_rate"]}})
    model.compile(optimizer=optimizer, loss=loss)

    from sklearn.model_selection import train_test_split

    labels = y_user.argmax(axis=1) if document["target_transform"] == "one_hot" else y_user
    stratify = None
    if training["stratify"]:
        if document["task"] == "multilabel":
            positives = y_user.sum(axis=0)
            stratify = y_user[:, np.argmin(np.minimum(positives, len(y_user) - positives))]
        else:
            stratify = labels
    arrays = [x_rows, y_user]
    weights = document["fit"].get("class_weight")
    if weights:
        arrays.append(np.array([weights[str(int(c))] for c in labels], dtype="float32"))
    parts = train_test_split(*arrays, test_size=training["validation_fraction"],
                             random_state=training["seed"], stratify=stratify)
    x_fit, x_val, y_fit, y_val = parts[:4]
    fit = dict(validation_data=(x_val, y_val))
    if weights:
        w_fit, w_val = parts[4:]
        fit = dict(sample_weight=w_fit, validation_data=(x_val, y_val, w_val)
                   if training["validation_weighted"] else (x_val, y_val))
    stop = keras.callbacks.EarlyStopping(monitor=training["monitor"],
                                         patience=training["patience"],
                                         restore_best_weights=training["restore_best_weights"])
    history = model.fit(x_fit, y_fit, epochs=training["max_epochs"],
                        batch_size=training["batch_size"], shuffle=False, callbacks=[stop],
                        verbose=0, **fit)
    read = {"sigmoid": keras.ops.sigmoid, "softmax": keras.ops.softmax, "exp": keras.ops.exp,
            "identity": lambda z: z, "margin": lambda z: z}[prediction["kind"]]
    return (lambda x: keras.ops.convert_to_numpy(read(model(x)))), history


@pytest.fixture(scope="module")
def keras():
    from advisor.losses.kerasenv import import_keras

    return import_keras(1)


# --- 1. every loss, every task: trial == JSON == printed code ------------------------------------

VARIANTS = [(key, task) for key, spec in catalog.CATALOG.items() for task in spec.variants]


@pytest.mark.slow
@pytest.mark.parametrize("key,task", VARIANTS, ids=[f"{k}-{t}" for k, t in VARIANTS])
def test_trial_json_and_printed_code_score_the_same(keras, key, task):
    from advisor.validation.scoring import score_predictions
    from advisor.validation.trials import Settings, run_trial, trial_job, trial_training

    name, p, c = compatible_case(key, task)
    config = catalog.configure(key, p, c)
    config = catalog.with_training(config, small_training(config), p)
    assert f"epochs={EPOCHS}, batch_size={BATCH}" in config.code, config.code
    data, x_rows, y_rows = fold_for(name, config.training)
    context = dict(sorted(metric_context(c.metric, c).items()))
    settings = Settings.from_training(config.training, architecture="mlp", metric=c.metric,
                                      metric_context=tuple(context.items()),
                                      hidden_units=(HIDDEN_UNITS,))
    job = trial_job(config, fold=0, seed=SEED, settings=settings)
    assert trial_training(job) == config.training  # the trial follows the printed protocol
    trial = run_trial(job, data, threads=1)
    assert trial.error is None and trial.score is not None, trial

    def score(predict) -> float:
        return score_predictions(c.metric, task, data.y_val, as_scores(predict(data.x_val), task),
                                 data.y_test, as_scores(predict(data.x_test), task), context)

    y_user = users_target(y_rows, config.target_transform, p.n_classes)
    document = json.loads(json.dumps(config.to_dict()))
    predict, history = train_from_json(keras, document, x_rows, y_user, data.n_features)
    from_json = score(predict)
    printed = score(run_printed_code(keras, config, x_rows, y_user)["predict"])
    # Exact: the three train the same weights on the same batches (deterministic ops, the same
    # batch sizes and row order), and predictions go through the same Keras operations.
    assert len(history.history["loss"]) == trial.epochs, (history.history, trial)
    assert from_json == trial.score, (key, task, c.metric, from_json, trial.score)
    assert printed == trial.score, (key, task, c.metric, printed, trial.score, config.code)


# --- 2. a user's loss with a log link: exp predictions, scored on the target's scale -------------


def _log_poisson_class():
    """A user's loss whose model outputs the log of the mean (built on demand: Keras stays out of
    collection); importable from this module, as the printed code imports it."""
    if "LogPoisson" in globals():
        return globals()["LogPoisson"]
    import keras

    class LogPoisson(keras.losses.Loss):
        """Poisson deviance with a log link: exp(f) − y·f."""

        def call(self, y_true, y_pred):
            y_true = keras.ops.cast(y_true, y_pred.dtype)
            y_true = keras.ops.reshape(y_true, keras.ops.shape(y_pred))
            return keras.ops.mean(keras.ops.exp(y_pred) - y_true * y_pred, axis=-1)

    LogPoisson.__qualname__ = "LogPoisson"
    LogPoisson.__module__ = __name__
    globals()["LogPoisson"] = LogPoisson
    return LogPoisson


@pytest.fixture
def log_link_loss():
    cls = _log_poisson_class()
    spec = catalog.register_loss("user_log_poisson", cls, ("count",), output="log_mean")
    yield spec
    catalog.unregister_loss("user_log_poisson")


def test_registered_log_link_loss_is_read_through_exp(log_link_loss):
    p = profile_of("doctor_visits")
    config = catalog.configure("user_log_poisson", p, criteria_for(p))
    variant = log_link_loss.variants["count"]
    assert (variant.output, variant.head) == ("log_mean", "log_link")
    assert config.prediction == Prediction("exp", "log_mean", "count")
    assert config.head.activation == "linear"
    assert config.head.bias == (round(math.log(p.target_mean), 4),)  # starts at the mean
    assert "keras.ops.exp(model(X))" in config.code and f"from {__name__} import" in config.code


@pytest.mark.slow
def test_registered_log_link_loss_trains_and_scores_on_the_target_scale(keras, log_link_loss):
    from advisor.criteria.metrics import METRICS
    from advisor.validation.scoring import score_predictions
    from advisor.validation.trials import Settings, run_trial, trial_job

    p = profile_of("doctor_visits")
    c = criteria_for(p)
    assert c.metric == "poisson_deviance"
    config = catalog.configure("user_log_poisson", p, c)
    config = catalog.with_training(config, small_training(config).replace(max_epochs=60), p)
    data, x_rows, y_rows = fold_for("doctor_visits", config.training)
    settings = Settings.from_training(config.training, metric=c.metric,
                                      hidden_units=(HIDDEN_UNITS,))
    trial = run_trial(trial_job(config, fold=0, seed=SEED, settings=settings), data, threads=1)
    assert trial.error is None and trial.score is not None, trial
    namespace = run_printed_code(keras, config, x_rows, y_rows.astype("float32"))
    means = as_scores(namespace["predict"](data.x_test), "count")
    val_means = as_scores(namespace["predict"](data.x_val), "count")
    assert score_predictions(c.metric, "count", data.y_val, val_means, data.y_test, means,
                             {}) == trial.score
    assert np.all(means > 0)
    deviance = METRICS["poisson_deviance"].score
    # On the target's scale: the deviance of exp(raw output), about as good as predicting the
    # training mean or better, and far better than reading the raw log-means as counts.
    raw = as_scores(keras.ops.convert_to_numpy(namespace["model"](data.x_test)), "count")
    assert trial.score == pytest.approx(deviance(data.y_test, np.exp(raw)), rel=1e-5)
    constant = deviance(data.y_test, np.full(len(data.y_test), data.y_train.mean()))
    assert trial.score < 1.1 * constant, (trial.score, constant, trial.epochs)
    assert trial.score < 0.8 * deviance(data.y_test, raw), (trial.score, raw[:5])


# --- 3. TF-free: the bias follows the weights, the prediction follows the output ----------------


def _shares(p) -> list[float]:
    total = sum(p.class_counts)
    return [c / total for c in p.class_counts]


def test_head_bias_starts_at_the_prior_the_weighted_fit_settles_at():
    p = profile_of("breast_cancer")
    c = criteria_for(p)
    f0, f1 = _shares(p)
    plain = catalog.configure("crossentropy", p, c)
    assert plain.head.bias == (round(math.log(f1 / f0), 4),)  # base-rate log-odds
    assert not plain.training.validation_weighted
    balanced = catalog.configure("weighted_crossentropy", p, c)
    assert balanced.head.bias == (0.0,) and balanced.training.validation_weighted
    root = catalog.configure("weighted_crossentropy", p, c, {"power": 0.5})
    w = root.fit_kwargs["class_weight"]
    assert root.head.bias == (round(math.log(w[1] * f1 / (w[0] * f0)), 4),)
    assert 0 < abs(root.head.bias[0]) < abs(plain.head.bias[0])  # between the two
    costs = catalog.configure("cost_weighted_crossentropy", p,
                              criteria_for(p, fn_cost=10.0, fp_cost=1.0))
    w = costs.fit_kwargs["class_weight"]
    assert costs.head.bias == (round(math.log(w[1] * f1 / (w[0] * f0)), 4),)
    focal = catalog.configure("focal", p, c)  # α reweights inside the loss: Lin et al. 2017 prior
    assert focal.head.bias == plain.head.bias and not focal.training.validation_weighted

    wine = profile_of("wine")
    k = len(wine.class_counts)
    weighted = catalog.configure("weighted_crossentropy", wine, criteria_for(wine))
    assert weighted.head.bias == tuple([round(math.log(1 / k), 4)] * k)  # uniform
    beta = catalog.configure("class_balanced_crossentropy", wine, criteria_for(wine))
    prior = weighted_prior(_shares(wine), beta.fit_kwargs["class_weight"])
    assert beta.head.bias == tuple(round(math.log(x), 4) for x in prior)
    assert catalog.configure("crossentropy", wine, criteria_for(wine)).head.bias == \
        tuple(round(math.log(f), 4) for f in _shares(wine))


def test_weighted_prior_by_hand():
    assert weighted_prior([0.9, 0.1], {0: 1 / 1.8, 1: 1 / 0.2}) == pytest.approx([0.5, 0.5])
    assert weighted_prior([0.9, 0.1], {"0": 1.0, "1": 3.0}) == pytest.approx([0.75, 0.25])
    assert weighted_prior([0.5, 0.3, 0.2], None) == [0.5, 0.3, 0.2]


def expected_kind(key: str, task: str, from_logits: bool | None) -> str:
    if key == "hinge":
        return "margin"
    if key == "tweedie":
        return "exp"
    if task in ("regression", "count"):
        return "identity"
    if not from_logits:
        return "identity"
    return "softmax" if task == "multiclass" else "sigmoid"


@pytest.mark.parametrize("key,task", VARIANTS, ids=[f"{k}-{t}" for k, t in VARIANTS])
def test_prediction_follows_the_catalogue(key, task):
    _, p, c = compatible_case(key, task)
    config = catalog.configure(key, p, c)
    assert config.prediction.task == task
    assert config.prediction.kind == expected_kind(key, task, config.from_logits), config.prediction
    assert config.prediction.expression("model(X)") in config.code
    assert config.prediction.describe()
    document = json.loads(json.dumps(config.to_dict()))
    assert {"head", "prediction", "training"} <= set(document)
    assert catalog.LossConfig.from_dict(document) == config
    if task in catalog.CLASSIFICATION and c.output is None:
        as_probabilities = criteria_for(p, output="probabilities")
        if catalog.incompatibility(catalog.CATALOG[key],
                                   {**p.to_dict(), **as_probabilities.to_dict()}) is None:
            probabilities = catalog.configure(key, p, as_probabilities)
            assert probabilities.prediction.kind == "identity"
            assert probabilities.head.activation in ("sigmoid", "softmax")


def test_prediction_for_every_output():
    assert prediction_for("logits", "binary").kind == "sigmoid"
    assert prediction_for("logits", "multilabel").kind == "sigmoid"
    assert prediction_for("logits", "multiclass").kind == "softmax"
    assert prediction_for("probability", "multiclass").kind == "identity"
    assert prediction_for("margin", "binary").kind == "margin"
    assert prediction_for("log_mean", "count").kind == "exp"
    assert prediction_for("value", "regression").kind == "identity"
    with pytest.raises(ValueError):
        prediction_for("logits", "regression")
    with pytest.raises(ValueError):
        prediction_for("odds", "binary")
    assert prediction_for("logits", "binary").expression("z") == "keras.ops.sigmoid(z)"
    assert prediction_for("log_mean", "count").expression("z") == "keras.ops.exp(z)"


def test_register_loss_derives_head_logits_and_output():
    try:
        spec = catalog.register_loss("user_margin", "keras.losses.Hinge", ("binary",),
                                     output="margin")
        assert spec.variants["binary"].logits == "required"
        p = profile_of("breast_cancer")
        config = catalog.configure("user_margin", p, criteria_for(p))
        assert config.prediction.kind == "margin" and config.head.bias is None
        plain = catalog.register_loss("user_plain", "keras.losses.MeanSquaredError",
                                      ("regression",))
        assert plain.variants["regression"].output_meaning("regression", None) == "value"
        with pytest.raises(UsageError, match="log_link"):
            catalog.register_loss("user_bad", "keras.losses.Poisson", ("count",),
                                  output="log_mean", head="exponential")
        with pytest.raises(UsageError, match="does not fit"):
            catalog.register_loss("user_bad", "keras.losses.Poisson", ("count",), output="logits")
        with pytest.raises(UsageError, match="contradicts"):
            catalog.register_loss("user_bad", "keras.losses.Hinge", ("binary",),
                                  output="probability", logits="required")
    finally:
        for key in ("user_margin", "user_plain", "user_bad"):
            catalog.unregister_loss(key)


def test_training_block_and_with_training():
    p = profile_of("breast_cancer")
    config = catalog.configure("weighted_crossentropy", p, criteria_for(p))
    training = config.training
    assert (training.validation_fraction, training.monitor, training.patience,
            training.restore_best_weights, training.max_epochs, training.optimizer,
            training.learning_rate, training.seed) == (0.15, "val_loss", 10, True, 100, "adam",
                                                       1e-3, p.seed)
    assert training.stratify and training.validation_weighted
    assert training.batch_size == protocol.batch_size_for(round(p.n_rows * 0.85))
    assert training == training_for(config, rows=p.n_rows, seed=p.seed)
    code = config.code
    for text in ("keras.utils.set_random_seed(0)", "test_size=0.15, stratify=y, random_state=0",
                 "validation_data=(X_val, y_val, w_val)", "sample_weight=w_train",
                 'EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)',
                 "keras.optimizers.Adam(learning_rate=0.001)", "epochs=100",
                 "keras.ops.sigmoid(model(X))", "model = keras.Model(inputs, outputs)"):
        assert text in code, (text, code)
    assert "class_weight=" not in code.replace("class_weight = ", "")  # per-row weights instead
    changed = catalog.with_training(config, training.replace(max_epochs=12, batch_size=256,
                                                             seed=7), p)
    assert changed.training.max_epochs == 12 and changed.loss == config.loss
    assert "epochs=12, batch_size=256" in changed.code and "set_random_seed(7)" in changed.code
    assert "random_state=7" in changed.code and changed.code != code
    regression = profile_of("diabetes")
    mse = catalog.configure("mse", regression, criteria_for(regression))
    assert not mse.training.stratify and "stratify" not in mse.code
    assert not mse.training.validation_weighted and "sample_weight" not in mse.code


def test_candidates_and_the_recommendation_carry_the_protocol():
    frame, target = table("breast_cancer")
    rec = advisor.recommend(frame, target=target, validate=False)
    document = json.loads(rec.to_json())
    for entry in [*document["candidates"], document["recommendation"]]:
        assert {"head", "prediction", "training"} <= set(entry), sorted(entry)
        assert entry["training"]["monitor"] == "val_loss"
        assert entry["prediction"]["kind"] in protocol.PREDICTION_KINDS
    p = rec.profile
    book = RuleBook.load()
    for candidate in book.match(p, rec.criteria).candidates:
        assert candidate.prediction == catalog.configure(
            candidate.loss, p, rec.criteria, candidate.params).prediction


def test_nothing_outside_the_catalogue_compares_loss_class_names():
    from advisor.losses import code
    from advisor.validation import trials

    for module in (trials, code):
        source = inspect.getsource(module)
        for name in ("Hinge", "Tweedie", "LogitAdjusted", "endswith(", "class_name("):
            assert name not in source, (module.__name__, name)


def test_the_protocol_imports_no_tensorflow():
    script = ("import sys, advisor.losses.protocol, advisor.losses.catalog, advisor.losses.code, advisor.validation.trials\n"
              "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("key,task", VARIANTS, ids=[f"{k}-{t}" for k, t in VARIANTS])
def test_a_job_without_a_prediction_reads_outputs_as_the_catalogue_says(key, task):
    """A TrialJob built the old way (no prediction, no training) is read the same way."""
    import dataclasses

    from advisor.validation.trials import Settings, trial_job, trial_prediction, trial_training

    _, p, c = compatible_case(key, task)
    config = catalog.configure(key, p, c)
    job = trial_job(config, fold=0, seed=p.seed, settings=Settings.from_training(
        config.training, metric=c.metric))
    bare = dataclasses.replace(job, prediction=None, training=None)
    assert trial_prediction(bare) == config.prediction
    assert trial_training(bare) == config.training


@pytest.mark.slow
def test_a_reused_compiled_model_trains_like_a_fresh_one(keras):
    """Trials reuse a traced model across folds and seeds; the weights, the optimizer and the
    seed are reset so that the result is the fresh model's, bit for bit."""
    import dataclasses

    from advisor.validation import trials

    p = profile_of("breast_cancer")
    c = criteria_for(p)
    config = catalog.configure("weighted_crossentropy", p, c)
    config = catalog.with_training(config, small_training(config), p)
    data, _, _ = fold_for("breast_cancer", config.training)
    settings = trials.Settings.from_training(config.training, metric=c.metric,
                                             hidden_units=(HIDDEN_UNITS,))
    job = trials.trial_job(config, fold=0, seed=SEED, settings=settings)
    trials._COMPILED.clear()
    fresh = trials.run_trial(job, data, threads=1)
    other = trials.run_trial(dataclasses.replace(job, seed=SEED + 1), data, threads=1)
    reused = trials.run_trial(job, data, threads=1)
    assert len(trials._COMPILED) == 1 and fresh.score is not None
    assert (reused.score, reused.epochs, reused.val_loss) == \
        (fresh.score, fresh.epochs, fresh.val_loss)
    assert other.val_loss != fresh.val_loss  # the seed matters, so the reset is what matched
    timing = trials.time_training(job, data.key, data, threads=1)
    # What the pilot measured splits into parts that are never negative (no bound on the clock).
    parts = (timing.trial_seconds, timing.epoch_seconds, timing.step_seconds,
             timing.compile_seconds)
    assert timing.batch_size == BATCH and all(math.isfinite(x) and x >= 0 for x in parts)
