"""The loss catalogue: every entry builds and trains through Keras, its derived parameters match
hand computation from the profile, and the paste-ready code it prints runs.

The bundled sample tables give each task a real profile; a few hundred of their rows train a tiny
model for one epoch. Everything that imports Keras does so inside the test (``keras`` fixture), so
collecting this file stays TensorFlow-free.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.base.errors import UsageError
from advisor.criteria.statement import criteria_for
from advisor.losses import catalog
from advisor.losses.semantics import assumed_semantics
from advisor.rules.engine import RuleBook, RulesError
from tests.conftest import SAMPLE_DATA

# --- real profiles, one table per task ------------------------------------------------------------

# name -> (file, target, how to build the frame). "caps_ratio" is the [0, 1]-bounded regression
# target: the share of capitals in an e-mail subject, a real column of tags.csv.
TABLES = {
    "diagnosis": ("diagnosis.csv", "diagnosis"),
    "land_cover": ("land_cover.csv", "land_cover"),
    "tags": ("tags.csv", "is_spam,is_promo,is_urgent"),
    "house_prices": ("house_prices.csv", "price_k"),
    "claims": ("claims.csv", "n_claims"),
    "caps_ratio": ("tags.csv", "subject_caps_ratio"),
}
# The tables a task's variants are tried on, in order: the first one whose facts the loss accepts.
TASK_TABLES = {
    "binary": ("diagnosis",),
    "multiclass": ("land_cover",),
    "multilabel": ("tags",),
    "regression": ("house_prices", "caps_ratio"),
    "count": ("claims",),
}
# Criteria tried in order until the loss's hard requirements hold (costs for cost weighting).
CRITERIA_OPTIONS = ({}, {"fn_cost": 5.0, "fp_cost": 1.0})
TRAIN_ROWS = 400


@lru_cache(maxsize=None)
def table(name: str) -> tuple[pd.DataFrame, advisor.DatasetProfile]:
    file, target = TABLES[name]
    frame = pd.read_csv(SAMPLE_DATA / file)
    if name == "caps_ratio":  # the other targets of tags.csv would be features of this one
        frame = frame.drop(columns=["is_spam", "is_promo", "is_urgent"])
    return frame, advisor.profile(frame, target)


def facts(p, c) -> dict:
    return {**p.to_dict(), **c.to_dict()}


def compatible_case(key: str, task: str):
    """(table name, criteria) under which catalogue entry ``key`` applies to ``task``."""
    spec = catalog.CATALOG[key]
    tried = []
    for name in TASK_TABLES[task]:
        _, p = table(name)
        for options in CRITERIA_OPTIONS:
            try:
                c = criteria_for(p, **options)
            except UsageError as exc:  # e.g. error costs on a regression target
                tried.append(f"{name} {options}: {exc}")
                continue
            problem = catalog.incompatibility(spec, facts(p, c))
            if problem is None:
                return name, c
            tried.append(f"{name} {options}: {problem}")
    raise AssertionError(f"{key}/{task}: no sample table and criteria satisfy it: {tried}")


def encode_target(frame: pd.DataFrame, p, transform: str) -> np.ndarray:
    """The target as the loss expects it, written from the transform's definition."""
    if transform == "multi_hot":
        return frame[list(p.target_columns)].to_numpy("float32")
    column = frame[p.target]
    if transform == "none":
        return column.to_numpy("float32")
    if transform == "binary_01":
        return (column == p.positive_class).to_numpy("float32")
    index = column.map({label: i for i, label in enumerate(p.class_labels)}).to_numpy()
    assert not pd.isna(index).any(), f"labels outside {p.class_labels}"
    if transform == "label_index":
        return index.astype("int64")
    if transform == "one_hot":
        return np.eye(p.n_classes, dtype="float32")[index.astype(int)]
    raise AssertionError(f"unknown target_transform {transform!r}")


def features(frame: pd.DataFrame, p) -> np.ndarray:
    numeric = frame[[c for c in p.feature_names if pd.api.types.is_numeric_dtype(frame[c])]]
    numeric = numeric.fillna(numeric.median())
    return ((numeric - numeric.mean()) / numeric.std().replace(0, 1)).to_numpy("float32")


def training_rows(name: str, transform: str) -> tuple[np.ndarray, np.ndarray]:
    frame, p = table(name)
    rows = frame.sample(TRAIN_ROWS, random_state=0)
    return features(rows, p), encode_target(rows, p, transform)


@pytest.fixture(scope="module")
def keras():
    from advisor.losses.kerasenv import import_keras

    return import_keras()


def build_model(keras, n_features: int, head: catalog.OutputHead):
    """A tiny MLP whose last layer is exactly the head the configuration asks for."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((n_features,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    layer = keras.layers.Dense(head.units, activation=head.activation)
    outputs = layer(hidden)
    if head.bias is not None:
        layer.bias.assign(np.asarray(head.bias, dtype="float32"))
    if head.rescale_scale is not None:
        outputs = keras.layers.Rescaling(head.rescale_scale, head.rescale_offset)(outputs)
    return keras.Model(inputs, outputs)


def rebuild_from_json(keras, spec: dict):
    """The loss from the JSON ``keras`` dict, the way a reader of ``--format json`` would."""
    spec = json.loads(json.dumps(spec))
    if "module" in spec:  # not in keras.losses.get's registry: deserialise through the module
        return keras.saving.deserialize_keras_object(spec)
    return keras.losses.get(spec)


# --- 1. every entry, every variant: configure, build two ways, train one epoch --------------------

VARIANTS = [(key, task) for key, spec in catalog.CATALOG.items() for task in spec.variants]


def test_variants_cover_the_whole_catalogue():
    assert {key for key, _ in VARIANTS} == set(catalog.CATALOG), VARIANTS
    assert len(VARIANTS) == sum(len(s.variants) for s in catalog.CATALOG.values())


@pytest.mark.slow
@pytest.mark.parametrize("key,task", VARIANTS, ids=[f"{k}-{t}" for k, t in VARIANTS])
def test_every_variant_builds_and_trains(keras, key, task):
    name, criteria = compatible_case(key, task)
    _, p = table(name)
    config = catalog.configure(key, p, criteria)
    assert (config.task, config.loss) == (task, key)

    built = catalog.build_loss(config)
    rebuilt = rebuild_from_json(keras, config.keras)
    assert isinstance(built, keras.losses.Loss), f"{key}/{task}: build_loss gave {built!r}"
    assert type(rebuilt) is type(built), f"{key}/{task}: JSON {config.keras} gave {type(rebuilt)}"
    assert rebuilt.get_config() == built.get_config(), (config.keras, rebuilt.get_config())
    expected_name = config.keras["class_name"].split(">")[-1]
    assert type(built).__name__ == expected_name, (expected_name, type(built))
    if type(built).__module__ == "advisor.losses.keras_losses":  # ours: under Keras's registered name
        assert config.keras["class_name"] == keras.saving.get_registered_name(type(built)) == \
            f"advisor>{expected_name}", config.keras

    X, y = training_rows(name, config.target_transform)
    model = build_model(keras, X.shape[1], config.head)
    model.compile(optimizer="adam", loss=rebuilt)
    history = model.fit(X, y, epochs=1, batch_size=200, verbose=0, **config.fit_kwargs)
    loss = history.history["loss"][-1]
    assert math.isfinite(loss), f"{key}/{task} on {name}: loss {loss} (config {config.keras})"


@pytest.mark.parametrize("key,task", VARIANTS, ids=[f"{k}-{t}" for k, t in VARIANTS])
def test_every_variant_has_a_consistent_head(key, task):
    """The head, from_logits and target encoding agree with each other and with the task."""
    name, criteria = compatible_case(key, task)
    _, p = table(name)
    config = catalog.configure(key, p, criteria)
    head = config.head
    assert config.output_activation == head.activation
    if task in catalog.CLASSIFICATION:
        assert head.units == (1 if task == "binary" else p.n_classes), (key, task, head)
        assert config.target_transform in {"binary": ("binary_01",), "multilabel": ("multi_hot",),
                                           "multiclass": ("label_index", "one_hot")}[task]
        logits = config.keras["config"].get("from_logits", config.from_logits)
        if logits:
            assert head.activation == "linear", (key, task, head)
    else:
        assert head.units == 1 and config.target_transform == "none" and config.from_logits is None
        assert head.activation in ("linear", "exponential", "sigmoid"), (key, task, head)


def test_multiclass_generalized_ce_is_ours_and_registered(keras):
    """Keras's CategoricalGeneralizedCrossEntropy NaNs when a true-class probability underflows
    and is missing from ``keras.losses.get``: the catalogue uses our registered class instead."""
    _, p = table("land_cover")
    config = catalog.configure("generalized_crossentropy", p, criteria_for(p))
    spec = json.loads(json.dumps(config.keras))
    assert spec == {"class_name": "advisor>CategoricalGeneralizedCrossentropy",
                    "config": {"q": 0.7, "from_logits": True}}
    loss = keras.losses.get(spec)
    assert type(loss).__name__ == "CategoricalGeneralizedCrossentropy" and loss.q == 0.7


PARAM_BOUNDS = [(key, param.name, side)
                for key, spec in catalog.CATALOG.items() for param in spec.params
                for side in ("low", "high") if getattr(param, side) is not None]
BOUND_RULE = """\
criterion: data_distribution
rules:
  - id: at-the-bound
    title: A parameter at the edge of its range
    when: {{task: {{eq: {task}}}}}
    suggest: [{{loss: {key}, params: {{{name}: {value!r}}}}}]
    because: Testing the range.
    examples: {{fires: {{task: {task}}}, does_not_fire: {{task: {other}}}}}
"""


def loader_accepts(tmp_path, key: str, task: str, name: str, value: float) -> bool:
    other = "regression" if task != "regression" else "binary"
    path = tmp_path / f"{name}-{value}.yaml"
    path.write_text(BOUND_RULE.format(task=task, other=other, key=key, name=name, value=value))
    try:
        RuleBook.load([path], defaults=False)
    except RulesError as exc:
        assert f"params.{name}: {value!r} is outside" in str(exc), str(exc)
        return False
    return True


@pytest.mark.parametrize("key,name,side", PARAM_BOUNDS,
                         ids=[f"{k}-{n}-{s}" for k, n, s in PARAM_BOUNDS])
def test_parameter_bounds_are_accepted_by_the_loss(tmp_path, keras, key, name, side):
    """The rules loader refuses values just outside a parameter's range, and every value it
    accepts at the edge builds a loss with a finite value (and finite class weights): the
    catalogue's ranges agree with what the losses themselves accept."""
    spec = catalog.CATALOG[key]
    task = next(iter(spec.variants))
    bound = getattr(spec.param(name), side)
    inward = 1e-3 if side == "low" else -1e-3
    assert not loader_accepts(tmp_path, key, task, name, bound - inward)
    value = bound if loader_accepts(tmp_path, key, task, name, bound) else bound + inward
    assert loader_accepts(tmp_path, key, task, name, value)
    table_name, criteria = compatible_case(key, task)
    _, p = table(table_name)
    config = catalog.configure(key, p, criteria, {name: value})
    weights = config.fit.get("class_weight", {})
    assert all(math.isfinite(w) and w >= 0 for w in weights.values()), (key, name, value, weights)
    X, y = training_rows(table_name, config.target_transform)
    predictions = build_model(keras, X.shape[1], config.head)(X[:64])
    loss = float(catalog.build_loss(config)(y[:64], predictions))
    assert math.isfinite(loss), f"{key}({name}={value}): loss {loss}"


# --- 2. derived parameters against hand computation ---------------------------------------------


def class_counts(name: str) -> dict:
    """Rows per class label, counted from the CSV (multilabel: positives per label)."""
    frame, p = table(name)
    if p.task == "multilabel":
        return {c: int(frame[c].sum()) for c in p.target_columns}
    return frame[p.target].value_counts().to_dict()


def test_binary_focal_alpha_weights_the_positive_class_by_one_minus_its_share():
    _, p = table("diagnosis")
    counts = class_counts("diagnosis")
    share = counts["positive"] / sum(counts.values())  # 193 / 3000
    assert p.positive_class == "positive" and share == pytest.approx(0.0643, abs=1e-4)
    config = catalog.configure("focal", p, criteria_for(p))
    assert config.params["alpha"] == pytest.approx(1 - share, abs=1e-6), config.params
    # Keras 3 weights class 1 by alpha (with apply_class_balancing): the same number.
    assert config.keras["config"] == pytest.approx(
        {"apply_class_balancing": True, "gamma": 2.0, "alpha": 1 - share, "from_logits": True})
    # A Keras that weighted class 0 by alpha would be given the complement.
    flipped = assumed_semantics().replace(focal_alpha_weights_class_1=False)
    config = catalog.configure("focal", p, criteria_for(p), semantics=flipped)
    assert config.keras["config"]["alpha"] == pytest.approx(share, abs=1e-6), config.keras


def test_multiclass_focal_alpha_is_inverse_frequency_summing_to_one():
    _, p = table("land_cover")
    counts = class_counts("land_cover")
    inverse = [1 / counts[label] for label in p.class_labels]
    expected = [w / sum(inverse) for w in inverse]
    alpha = catalog.configure("focal", p, criteria_for(p)).keras["config"]["alpha"]
    assert alpha == pytest.approx(expected, abs=1e-6), (p.class_labels, alpha, expected)
    assert sum(alpha) == pytest.approx(1.0, abs=1e-5)
    assert alpha[p.class_labels.index("wetland")] == max(alpha)  # the rarest class, 52 rows


def test_multilabel_focal_alpha_is_one_minus_the_mean_positive_share():
    frame, p = table("tags")
    mean_positive = frame[list(p.target_columns)].to_numpy().mean()
    alpha = catalog.configure("focal", p, criteria_for(p)).keras["config"]["alpha"]
    assert alpha == pytest.approx(1 - mean_positive, abs=1e-6), (alpha, mean_positive)


def test_huber_delta_is_1_345_robust_sigmas_in_target_units():
    frame, p = table("house_prices")
    y = frame["price_k"].to_numpy()
    mad = np.median(np.abs(y - np.median(y)))
    expected = 1.345 * 1.4826 * mad
    delta = catalog.configure("huber", p, criteria_for(p)).keras["config"]["delta"]
    assert delta == pytest.approx(expected, rel=1e-3), f"MAD {mad}: delta {delta}, expected {expected}"
    assert catalog.configure("huber", p, criteria_for(p), {"delta": 5.0}).keras["config"] == \
        {"delta": 5.0}


@pytest.mark.parametrize("name", ["diagnosis", "land_cover"])
def test_balanced_class_weights_match_scikit_learn(name):
    from sklearn.utils.class_weight import compute_class_weight

    frame, p = table(name)
    classes = np.array(p.class_labels, dtype=object)
    expected = compute_class_weight("balanced", classes=classes,
                                    y=frame[p.target].to_numpy(dtype=object))
    config = catalog.configure("weighted_crossentropy", p, criteria_for(p))
    weights = config.fit_kwargs["class_weight"]
    assert list(weights) == list(range(len(classes)))
    assert [weights[i] for i in range(len(classes))] == pytest.approx(expected, rel=1e-5), \
        (p.class_labels, weights, expected)
    assert config.keras["config"] == {"from_logits": True}  # the weights go to fit(), not the loss
    root = catalog.configure("weighted_crossentropy", p, criteria_for(p), {"power": 0.5})
    assert list(root.fit_kwargs["class_weight"].values()) == pytest.approx(np.sqrt(expected),
                                                                           rel=1e-5)


@pytest.mark.parametrize("name,beta", [("diagnosis", None), ("land_cover", None),
                                       ("land_cover", 0.99), ("land_cover", 0.9999)])
def test_class_balanced_weights_follow_the_effective_number(name, beta):
    _, p = table(name)
    counts = class_counts(name)
    used = beta if beta is not None else p.effective_samples_beta
    assert used == 0.999 or beta is not None
    raw = [(1 - used) / (1 - used ** counts[label]) for label in p.class_labels]
    expected = [w * len(raw) / sum(raw) for w in raw]
    config = catalog.configure("class_balanced_crossentropy", p, criteria_for(p),
                               {} if beta is None else {"beta": beta})
    weights = list(config.fit_kwargs["class_weight"].values())
    assert weights == pytest.approx(expected, rel=1e-5), (name, used, weights, expected)
    assert sum(weights) == pytest.approx(len(p.class_labels), rel=1e-5)


@pytest.mark.parametrize("name", ["diagnosis", "land_cover"])
def test_logit_adjustment_priors_are_the_class_shares(name):
    _, p = table(name)
    counts = class_counts(name)
    shares = [counts[label] / sum(counts.values()) for label in p.class_labels]
    config = catalog.configure("logit_adjusted", p, criteria_for(p))
    if p.task == "binary":
        assert config.keras["config"] == pytest.approx({"positive_prior": shares[1], "tau": 1.0},
                                                       abs=1e-6)
    else:
        assert config.keras["config"]["priors"] == pytest.approx(shares, abs=1e-6)
    assert config.head.bias is None  # the loss adds the prior itself; no prior bias on top


PINBALL_CASES = [  # (under_cost, over_cost, expected τ)
    (3.0, 1.0, 0.75),
    (1.0, 4.0, 0.2),
    (2.0, 2.0, 0.5),
    (None, None, 0.5),  # no costs: the median
]


@pytest.mark.parametrize("under,over,tau", PINBALL_CASES)
def test_pinball_tau_comes_from_the_costs(under, over, tau):
    _, p = table("house_prices")
    c = criteria_for(p, under_cost=under, over_cost=over)
    assert c.quantile_tau == (None if under is None else pytest.approx(tau))
    config = catalog.configure("quantile", p, c)
    assert config.keras["config"]["tau"] == pytest.approx(tau), (under, over, config.keras)
    assert catalog.configure("quantile", p, c, {"tau": 0.9}).keras["config"]["tau"] == 0.9


COST_CASES = [(5.0, 1.0), (1.0, 1.0), (2.0, 7.0)]  # (C_FN, C_FP)


@pytest.mark.parametrize("fn_cost,fp_cost", COST_CASES)
def test_cost_weights_are_proportional_to_the_costs(fn_cost, fp_cost):
    _, p = table("diagnosis")
    config = catalog.configure("cost_weighted_crossentropy", p,
                               criteria_for(p, fn_cost=fn_cost, fp_cost=fp_cost))
    weights = config.fit_kwargs["class_weight"]
    # Class 1 is the positive class: missing it costs C_FN; class 0 pays C_FP for false alarms.
    assert weights[1] / weights[0] == pytest.approx(fn_cost / fp_cost, rel=1e-5), weights
    assert (weights[0] + weights[1]) / 2 == pytest.approx(1.0), weights
    threshold = fp_cost / (fp_cost + fn_cost)
    assert f"p* = C_FP/(C_FP+C_FN) = {threshold:.3g}" in config.notes[0], config.notes


# --- the installed Keras behaves as the catalogue assumes ---------------------------------------


def test_installed_keras_semantics_match_the_assumed_ones(keras):
    from advisor.losses.semantics import verify_semantics

    verified, assumed = verify_semantics(), assumed_semantics()
    assert verified.verified and not assumed.verified
    differences = {f: (getattr(assumed, f), getattr(verified, f))
                   for f in verified.to_dict() if f != "verified"
                   and getattr(assumed, f) != getattr(verified, f)}
    assert not differences, f"Keras {keras.__version__}: assumed vs measured {differences}"


def test_binary_focal_puts_the_larger_weight_on_the_rare_positive_class(keras):
    """Diagnosis is 6.4% positive: at the same (uninformed) logit 0 a positive must cost more
    than a negative, by alpha / (1 - alpha) — not the Keras default's 0.25 / 0.75."""
    _, p = table("diagnosis")
    config = catalog.configure("focal", p, criteria_for(p))
    loss = catalog.build_loss(config)
    on_positive = float(loss(np.array([[1.0]]), np.array([[0.0]])))
    on_negative = float(loss(np.array([[0.0]]), np.array([[0.0]])))
    alpha = config.keras["config"]["alpha"]
    assert on_positive > on_negative, (alpha, on_positive, on_negative)
    assert on_positive / on_negative == pytest.approx(alpha / (1 - alpha), rel=1e-4)
    default = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True)
    assert float(default(np.array([[1.0]]), np.array([[0.0]]))) < \
        float(default(np.array([[0.0]]), np.array([[0.0]])))  # the trap the catalogue avoids


# --- 7. the paste-ready code is Python, and runs -----------------------------------------------

CODE_CASES = [  # (table, criteria options): every sample table, and options that change the code
    ("diagnosis", {}),
    ("diagnosis", {"domain": "medical"}),
    ("diagnosis", {"fn_cost": 10.0, "fp_cost": 1.0}),
    ("diagnosis", {"model": "linear", "output": "probabilities"}),
    ("land_cover", {}),
    ("land_cover", {"output": "probabilities"}),
    ("tags", {}),
    ("house_prices", {}),
    ("house_prices", {"under_cost": 3.0, "over_cost": 1.0}),
    ("claims", {}),
    ("claims", {"domain": "insurance"}),
    ("caps_ratio", {}),
]


def candidates_for(name: str, options: dict):
    _, p = table(name)
    return RuleBook.load().match(p, criteria_for(p, **options)).candidates


@pytest.mark.parametrize("name,options", CODE_CASES,
                         ids=[f"{n}-{'-'.join(o) or 'default'}" for n, o in CODE_CASES])
def test_code_of_every_candidate_compiles(name, options):
    candidates = candidates_for(name, options)
    assert candidates, (name, options)
    for candidate in candidates:
        try:
            compile(candidate.code, f"<{candidate.id}>", "exec")
        except SyntaxError as exc:
            pytest.fail(f"{name} {options} {candidate.id}: {exc}\n{candidate.code}")
        for text in ("model = keras.Model(inputs, outputs)", "model.compile(",
                     "train_test_split(X, y", "model.fit(X_train, y_train", "EarlyStopping(",
                     "def predict(X):"):
            assert text in candidate.code, (candidate.id, text, candidate.code)


def run_printed_code(keras, config, p, X: np.ndarray, y: np.ndarray) -> float:
    """Run the printed code as it stands for one epoch, given ``X``, ``y``, ``inputs`` and
    ``hidden`` (what its first comment asks the user for); the training loss of that epoch."""
    import contextlib
    import io

    config = catalog.with_training(config, config.training.replace(max_epochs=1), p)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((X.shape[1],))
    namespace = {"inputs": inputs, "hidden": keras.layers.Dense(8, activation="relu")(inputs),
                 "X": X, "y": y}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(config.code, namespace)
    predictions = namespace["predict"](X[:16])
    assert len(predictions) == 16 and np.isfinite(predictions).all(), config.code
    return namespace["model"].history.history["loss"][-1]


EXEC_CASES = [  # (table, criteria options, which candidates): every candidate for a binary and a
    # regression table, the top one for the other tasks and for options that change the code.
    ("diagnosis", {}, "all"),
    ("diagnosis", {"fn_cost": 10.0, "fp_cost": 1.0}, "top"),
    ("land_cover", {}, "top"),
    ("tags", {}, "top"),
    ("house_prices", {}, "all"),
    ("house_prices", {"under_cost": 3.0, "over_cost": 1.0}, "top"),
    ("claims", {}, "top"),
    ("caps_ratio", {}, "top"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,options,which", EXEC_CASES,
                         ids=[f"{n}-{'-'.join(o) or 'default'}" for n, o, _ in EXEC_CASES])
def test_printed_code_trains(keras, name, options, which):
    candidates = candidates_for(name, options)
    for candidate in candidates if which == "all" else candidates[:1]:
        X, y = training_rows(name, candidate.target_transform)
        loss = run_printed_code(keras, candidate, table(name)[1], X, y)
        assert math.isfinite(loss), f"{name} {options} {candidate.id}: {loss}\n{candidate.code}"
