"""The loss catalogue: the one module that names Keras loss classes.

Each entry (:class:`LossSpec`) is a loss family — "focal", "huber", "poisson" — with one
:class:`Variant` per task it fits (binary focal is ``BinaryFocalCrossentropy``, multiclass focal
is ``CategoricalFocalCrossentropy``). An entry knows the output layer its loss expects, how
``from_logits`` applies, which parameters rules may set, how to derive the rest from the data
(focal alpha from class frequencies, Huber delta from a robust scale, pinball tau from a cost
ratio…), what it is incompatible with, and where its defaults come from.

Each variant also says what the model's raw output means (``output``: probabilities, logits,
margins, the log of the mean, or target values), so how predictions are read is decided here and
nowhere else: :func:`advisor.losses.protocol.prediction_for` turns that meaning into a
:class:`~advisor.losses.protocol.Prediction`.

``configure(key, profile, criteria)`` turns an entry into a concrete :class:`LossConfig`: the
parameters, the Keras ``{"class_name", "config"}``, the ``fit()`` arguments, the output head, the
training protocol, the prediction and paste-ready code. Nothing here imports TensorFlow;
``build_loss`` does, lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable

from advisor.base.conditions import holds
from advisor.base.errors import UsageError
from advisor.base.records import Record
from advisor.base.suggest import did_you_mean
from advisor.base.text import show
from advisor.criteria.statement import Criteria
from advisor.losses.code import render_code
from advisor.losses.protocol import (
    OUTPUTS,
    Prediction,
    Training,
    prediction_for,
    training_for,
    weighted_prior,
)
from advisor.losses.semantics import KerasSemantics, assumed_semantics
from advisor.profiling.profiler import EFFECTIVE_NUMBER_BETA, DatasetProfile
from advisor.profiling.target import CLASSIFICATION_TASKS, VALUE_TASKS

CLASSIFICATION = CLASSIFICATION_TASKS
# Each task's baseline: the maximum-likelihood loss for its kind of target (cross-entropy for
# labels, squared error for values, the Poisson likelihood for counts — the GLM for counts,
# Nelder & Wedderburn 1972). It is the answer unless trials show another loss better; every
# trial set includes it and time cuts never drop it.
BASELINE_LOSSES = {"binary": "crossentropy", "multiclass": "crossentropy",
                   "multilabel": "crossentropy", "regression": "mse", "count": "poisson"}
OURS = "advisor.keras_losses"  # the public import path (a re-export of advisor.losses.keras_losses)
BIAS_DECIMALS = 4  # initial output biases (log-odds, log-priors, log-means)


@dataclass(frozen=True)
class Param:
    """A parameter rules may set; ``None`` default means derived from the data."""

    name: str
    kind: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the bound itself is excluded (the loss rejects it or divides by 0)
    high_open: bool = False

    def within(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def interval(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low}"
        high = "inf)" if self.high is None else f"{self.high}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


@dataclass(frozen=True)
class Variant:
    """How a loss family is realised for one task."""

    class_path: str  # "keras.losses.Huber" or "advisor.keras_losses.PinballLoss"
    logits: str = "param"  # param: from_logits argument | required: logits only | none: no choice
    # class: one unit per class, the prior as bias | no_prior: the same, zero bias (the loss adds
    # the prior itself) | linear: target units, rescaled | exponential: exp activation, log-mean
    # bias | log_link: linear output read as the log of the mean | unit: sigmoid, for [0, 1]
    head: str = "class"
    target: str = "none"  # none | binary_01 | label_index | one_hot | multi_hot
    constant: tuple[tuple[str, Any], ...] = ()  # fixed constructor arguments
    # What the raw output means: probability | logits | margin | log_mean | value, or "auto":
    # logits or probabilities as from_logits says (classification), the log of the mean for a
    # log_link head, else target values.
    output: str = "auto"

    @property
    def class_name(self) -> str:
        return self.class_path.rsplit(".", 1)[1]

    @property
    def module(self) -> str:
        return self.class_path.rsplit(".", 1)[0]

    def output_meaning(self, task: str, from_logits: bool | None) -> str:
        """What the model's raw output means for this variant on ``task``."""
        if self.output != "auto":
            return self.output
        if task in CLASSIFICATION:
            return "logits" if from_logits else "probability"
        return "log_mean" if self.head == "log_link" else "value"


@dataclass(frozen=True)
class Requirement:
    """A hard condition on the facts; when it fails the loss is removed with ``reason``."""

    fact: str
    op: str
    value: Any
    reason: str

    def holds(self, facts: dict[str, Any]) -> bool:
        return holds(facts.get(self.fact), self.op, self.value)


@dataclass(frozen=True)
class LossSpec:
    key: str
    title: str
    variants: dict[str, Variant]
    complexity: int  # 0 = the task's default; ties go to the simpler loss
    params: tuple[Param, ...] = ()
    derive: Callable[[DatasetProfile, Criteria, dict], dict] | None = None
    fit: Callable[[DatasetProfile, Criteria, dict], dict] | None = None
    requires: tuple[Requirement, ...] = ()
    references: tuple[str, ...] = ()
    summary: str = ""
    notes: Callable[[DatasetProfile, Criteria, dict], list[str]] | None = None
    params_shape_fit: bool = False  # the parameters shape fit(class_weight), not the loss
    # Only re-weights the classes (or shifts by their priors): on balanced classes it is
    # cross-entropy in disguise, never worth a trial there (rules/data_distribution.yaml).
    rebalances: bool = False

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.variants)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True)
class OutputHead(Record):
    """The final layer the loss expects: units, activation, initial bias, optional rescaling."""

    units: int
    activation: str
    bias: tuple[float, ...] | None = None
    rescale_scale: float | None = None
    rescale_offset: float | None = None


@dataclass(frozen=True)
class LossConfig(Record):
    """One loss, configured for one data set: everything needed to build, fit and explain it."""

    loss: str
    title: str
    task: str
    params: dict[str, Any]
    keras: dict[str, Any]
    fit: dict[str, Any]
    head: OutputHead
    prediction: Prediction  # how the raw output becomes what the metric scores
    training: Training  # how it is trained: what the trials did and the code prints
    output_activation: str
    from_logits: bool | None
    target_transform: str
    complexity: int
    notes: tuple[str, ...]
    code: str

    @property
    def fit_kwargs(self) -> dict[str, Any]:
        """``fit()`` arguments with Keras types (class_weight keys back to ints)."""
        kwargs = dict(self.fit)
        if "class_weight" in kwargs:
            kwargs["class_weight"] = {int(k): float(v) for k, v in kwargs["class_weight"].items()}
        return kwargs


# --- parameter derivations (pure functions of the profile, the criteria and the rule's params) --


def _class_fractions(p: DatasetProfile) -> list[float]:
    counts = p.class_counts or ()
    if p.task == "multilabel":
        return [c / p.n_rows for c in counts]
    total = sum(counts)
    return [c / total for c in counts]


def balanced_class_weights(p: DatasetProfile, power: float = 1.0) -> dict[int, float]:
    """scikit-learn's ``compute_class_weight('balanced')``: n / (K · n_c), optionally ^power."""
    counts = p.class_counts or ()
    n, k = sum(counts), len(counts)
    return {i: (n / (k * c)) ** power for i, c in enumerate(counts)}


def _beta(p: DatasetProfile, params: dict[str, Any]) -> float:
    """The effective-number β: the rule's, else the profile's, else the usual 0.999."""
    return params.get("beta", p.effective_samples_beta or EFFECTIVE_NUMBER_BETA)


def effective_number_weights(p: DatasetProfile, beta: float) -> dict[int, float]:
    """Cui et al. 2019: w_c ∝ (1 − β) / (1 − β^n_c), normalised so the weights sum to K."""
    counts = p.class_counts or ()
    raw = [(1 - beta) / (1 - beta**c) for c in counts]
    scale = len(raw) / sum(raw)
    return {i: w * scale for i, w in enumerate(raw)}


def inverse_frequency_alpha(p: DatasetProfile) -> list[float]:
    """α_c ∝ 1/n_c normalised to sum 1 (binary: α on the positive class = 1 − its share)."""
    fractions = _class_fractions(p)
    inverse = [1 / f for f in fractions]
    total = sum(inverse)
    return [x / total for x in inverse]


def _focal_derive(p, c, params):
    out = {"gamma": params.get("gamma", 2.0)}
    if "alpha" in params:
        out["alpha"] = params["alpha"]
    elif p.task == "multiclass":
        out["alpha"] = [round(a, 6) for a in inverse_frequency_alpha(p)]
    elif p.task == "binary":
        out["alpha"] = round(1 - p.minority_fraction, 6)
    else:  # multilabel: one scalar for all labels, from the mean positive share
        mean_positive = sum(p.class_counts) / (p.n_rows * p.n_classes)
        out["alpha"] = round(1 - mean_positive, 6)
    return out


def _weighted_fit(p, c, params):
    weights = balanced_class_weights(p, params.get("power", 1.0))
    return {"class_weight": {i: round(w, 6) for i, w in weights.items()}}


def _class_balanced_fit(p, c, params):
    weights = effective_number_weights(p, _beta(p, params))
    return {"class_weight": {i: round(w, 6) for i, w in weights.items()}}


def _cost_fit(p, c, params):
    fn, fp = c.fn_cost, c.fp_cost
    mean = (fn + fp) / 2
    return {"class_weight": {0: round(fp / mean, 6), 1: round(fn / mean, 6)}}


def _cost_notes(p, c, params):
    threshold = c.fp_cost / (c.fp_cost + c.fn_cost)
    return [f"The class weights already encode the costs: decide at 0.5 on this model's "
            f"probabilities. An unweighted model should decide at p* = C_FP/(C_FP+C_FN) = "
            f"{threshold:.3g} (Elkan 2001)."]


def _logit_adjusted_derive(p, c, params):
    tau = params.get("tau", 1.0)
    fractions = _class_fractions(p)
    if p.task == "binary":
        return {"positive_prior": round(fractions[1], 6), "tau": tau}
    return {"priors": [round(f, 6) for f in fractions], "tau": tau}


def _huber_derive(p, c, params):
    if "delta" in params:
        return {"delta": params["delta"]}
    scale = p.target_robust_scale or p.target_std or 1.0
    return {"delta": _round_sig(1.345 * scale)}


def _quantile_derive(p, c, params):
    if "tau" in params:
        return {"tau": params["tau"]}
    return {"tau": round(c.quantile_tau, 6) if c.quantile_tau is not None else 0.5}


def _fixed(**defaults):
    def derive(p, c, params):
        return {name: params.get(name, value) for name, value in defaults.items()}
    return derive


def _round_sig(x: float, digits: int = 4) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def _probability_notes(p, c, params):
    return ["Outputs are re-weighted, not calibrated probabilities: recalibrate (Platt or "
            "isotonic) on held-out data before reading them as risks."]


def _logit_adjusted_notes(p, c, params):
    return ["The adjustment applies in training only: the trained logits are already the "
            "balanced-error classifier (argmax / threshold 0.5), Menon et al. 2021."]


def _hinge_notes(p, c, params):
    return ["Outputs are margins, not probabilities: threshold at 0, or calibrate for risks."]


_NON_NEGATIVE = Requirement("target_non_negative", "eq", True, "needs a non-negative target")
_PROBABILITY_METRIC = Requirement(
    "metric", "not_in", ("log_loss", "brier"),
    "gives margins, not probabilities, and the metric scores probabilities")

_SPECS: tuple[LossSpec, ...] = (
    LossSpec(
        key="crossentropy", title="Cross-entropy", complexity=0,
        summary="Maximum likelihood for labels; every peer's baseline.",
        variants={
            "binary": Variant("keras.losses.BinaryCrossentropy", target="binary_01"),
            "multiclass": Variant("keras.losses.SparseCategoricalCrossentropy", target="label_index"),
            "multilabel": Variant("keras.losses.BinaryCrossentropy", target="multi_hot"),
        },
        references=("Every peer's default (AutoGluon, FLAML, Keras examples)",),
    ),
    LossSpec(
        key="weighted_crossentropy", title="Class-weighted cross-entropy (balanced)", complexity=1,
        summary="Cross-entropy with fit(class_weight=n/(K·n_c)): each class counts equally.",
        variants={
            "binary": Variant("keras.losses.BinaryCrossentropy", target="binary_01"),
            "multiclass": Variant("keras.losses.SparseCategoricalCrossentropy", target="label_index"),
        },
        params=(Param("power", float, 1.0, "weights n/(K·n_c) raised to this power (0.5 = square root)",
                      0.0, 1.0),),
        derive=_fixed(power=1.0), fit=_weighted_fit, notes=_probability_notes, params_shape_fit=True,
        rebalances=True,
        references=("Elkan 2001, cost-sensitive learning",
                    "scikit-learn compute_class_weight('balanced')"),
    ),
    LossSpec(
        key="class_balanced_crossentropy", title="Class-balanced cross-entropy (effective number)",
        complexity=1,
        summary="Weights ∝ (1−β)/(1−β^n_c), summing to K: re-weighting that saturates for big classes.",
        variants={
            "binary": Variant("keras.losses.BinaryCrossentropy", target="binary_01"),
            "multiclass": Variant("keras.losses.SparseCategoricalCrossentropy", target="label_index"),
        },
        params=(Param("beta", float, None,
                      f"effective-number β; default: the profile's β ({EFFECTIVE_NUMBER_BETA})",
                      0.0, 1.0, high_open=True),),
        derive=lambda p, c, params: {"beta": _beta(p, params)},
        fit=_class_balanced_fit, notes=_probability_notes, params_shape_fit=True,
        rebalances=True,
        references=("Cui et al. 2019, Class-Balanced Loss Based on Effective Number of Samples",),
    ),
    LossSpec(
        key="cost_weighted_crossentropy", title="Cost-weighted cross-entropy", complexity=1,
        summary="Class weights proportional to the cost of each error (C_FN on positives, C_FP on negatives).",
        variants={"binary": Variant("keras.losses.BinaryCrossentropy", target="binary_01")},
        fit=_cost_fit, notes=_cost_notes,
        requires=(Requirement("fn_cost", "gt", 0, "needs --fn-cost and --fp-cost"),
                  Requirement("fp_cost", "gt", 0, "needs --fn-cost and --fp-cost")),
        references=("Elkan 2001, The Foundations of Cost-Sensitive Learning",),
    ),
    LossSpec(
        key="focal", title="Focal cross-entropy", complexity=2,
        summary="Down-weights easy examples by (1−p_t)^γ; α balances the classes.",
        variants={
            "binary": Variant("keras.losses.BinaryFocalCrossentropy", target="binary_01",
                              constant=(("apply_class_balancing", True),)),
            "multilabel": Variant("keras.losses.BinaryFocalCrossentropy", target="multi_hot",
                                  constant=(("apply_class_balancing", True),)),
            "multiclass": Variant("keras.losses.CategoricalFocalCrossentropy", target="one_hot"),
        },
        params=(Param("gamma", float, 2.0, "focusing parameter γ", 0.0, 10.0),
                Param("alpha", float, None, "weight of the positive (minority) class; default "
                      "1 − its share (multiclass: ∝ 1/n_c)", 0.0, 1.0)),
        derive=_focal_derive, notes=_probability_notes,
        references=("Lin et al. 2017, Focal Loss for Dense Object Detection (γ=2)",),
    ),
    LossSpec(
        key="label_smoothing", title="Label-smoothed cross-entropy", complexity=1,
        summary="Targets (1−ε)·y + ε/K: curbs over-confidence.",
        variants={
            "binary": Variant("keras.losses.BinaryCrossentropy", target="binary_01"),
            "multilabel": Variant("keras.losses.BinaryCrossentropy", target="multi_hot"),
            "multiclass": Variant("keras.losses.CategoricalCrossentropy", target="one_hot"),
        },
        params=(Param("label_smoothing", float, 0.1, "ε", 0.0, 0.5),),
        derive=_fixed(label_smoothing=0.1),
        references=("Szegedy et al. 2016, Rethinking the Inception Architecture (ε=0.1)",),
    ),
    LossSpec(
        key="generalized_crossentropy", title="Generalized cross-entropy (L_q)", complexity=1,
        summary="(1 − p_t^q)/q: between cross-entropy (q→0) and MAE (q=1); robust to noisy labels.",
        variants={
            "binary": Variant(f"{OURS}.BinaryGeneralizedCrossentropy", target="binary_01"),
            # Ours, not Keras's CategoricalGeneralizedCrossEntropy: that one's gradient is
            # infinite when a true-class probability underflows to 0, which NaNs the network
            # mid-training (seen on a real table); it also lacks from_logits.
            "multiclass": Variant(f"{OURS}.CategoricalGeneralizedCrossentropy", target="one_hot"),
        },
        params=(Param("q", float, 0.7, "q (Keras defaults to 0.5; the paper recommends 0.7)", 0.0, 1.0,
                      low_open=True),),
        derive=_fixed(q=0.7),
        references=("Zhang & Sabuncu 2018, Generalized Cross Entropy Loss (q=0.7)",),
    ),
    LossSpec(
        key="symmetric_crossentropy", title="Symmetric cross-entropy", complexity=2,
        summary="α·CE + β·reverse CE: robust to noisy labels on hard classes.",
        variants={"multiclass": Variant(f"{OURS}.SymmetricCrossentropy", target="one_hot")},
        params=(Param("alpha", float, 0.1, "weight of cross-entropy", 0.0, 10.0),
                Param("beta", float, 1.0, "weight of reverse cross-entropy", 0.0, 10.0)),
        derive=_fixed(alpha=0.1, beta=1.0),
        references=("Wang et al. 2019, Symmetric Cross Entropy for Robust Learning (α=0.1, β=1)",),
    ),
    LossSpec(
        key="logit_adjusted", title="Logit-adjusted cross-entropy", complexity=1,
        summary="Adds τ·log(prior) to the logits in training: the balanced-error classifier.",
        variants={
            "binary": Variant(f"{OURS}.BinaryLogitAdjustedCrossentropy", logits="required",
                              head="no_prior", target="binary_01"),
            "multiclass": Variant(f"{OURS}.LogitAdjustedCrossentropy", logits="required",
                                  head="no_prior", target="one_hot"),
        },
        params=(Param("tau", float, 1.0, "τ", 0.0, 5.0),),
        derive=_logit_adjusted_derive, notes=_logit_adjusted_notes, rebalances=True,
        references=("Menon et al. 2021, Long-tail learning via logit adjustment (τ=1)",),
    ),
    LossSpec(
        key="poly1", title="Poly-1 cross-entropy", complexity=1,
        summary="CE + ε(1 − p_t): one extra polynomial term, cheap to tune.",
        variants={
            "binary": Variant(f"{OURS}.BinaryPolyCrossentropy", target="binary_01"),
            "multiclass": Variant(f"{OURS}.CategoricalPolyCrossentropy", target="one_hot"),
        },
        params=(Param("epsilon", float, 1.0, "ε", -1.0, 10.0),),
        derive=_fixed(epsilon=1.0),
        references=("Leng et al. 2022, PolyLoss (ε=1)",),
    ),
    LossSpec(
        key="asymmetric", title="Asymmetric loss (multilabel)", complexity=2,
        summary="Focuses harder on negatives (γ−) and discards very easy ones (probability shift).",
        variants={"multilabel": Variant(f"{OURS}.AsymmetricLoss", target="multi_hot")},
        params=(Param("gamma_neg", float, 4.0, "γ− for negatives", 0.0, 10.0),
                Param("gamma_pos", float, 0.0, "γ+ for positives", 0.0, 10.0),
                Param("clip", float, 0.05, "probability shift m", 0.0, 0.5)),
        derive=_fixed(gamma_neg=4.0, gamma_pos=0.0, clip=0.05),
        references=("Ridnik et al. 2021, Asymmetric Loss For Multi-Label Classification",),
    ),
    LossSpec(
        key="hinge", title="Hinge (max-margin)", complexity=1,
        summary="max(0, 1 − y·f(x)): a linear SVM's loss; margins, not probabilities.",
        variants={
            "binary": Variant("keras.losses.Hinge", logits="required", target="binary_01",
                              output="margin"),
            "multiclass": Variant("keras.losses.CategoricalHinge", logits="required",
                                  target="one_hot", output="margin"),
        },
        requires=(_PROBABILITY_METRIC,), notes=_hinge_notes,
        references=("Cortes & Vapnik 1995",),
    ),
    LossSpec(
        key="mse", title="Mean squared error", complexity=0,
        summary="The conditional mean; optimal for Gaussian-ish noise, pulled by outliers.",
        variants={t: Variant("keras.losses.MeanSquaredError", head="linear") for t in VALUE_TASKS},
        references=("Gauss; every peer's regression default",),
    ),
    LossSpec(
        key="mae", title="Mean absolute error", complexity=0,
        summary="The conditional median; ignores the size of gross outliers.",
        variants={t: Variant("keras.losses.MeanAbsoluteError", head="linear") for t in VALUE_TASKS},
        references=("AutoGluon's neural-network regression default",),
    ),
    LossSpec(
        key="huber", title="Huber", complexity=1,
        summary="Quadratic within δ, linear beyond: the mean's efficiency with bounded influence.",
        variants={t: Variant("keras.losses.Huber", head="linear") for t in VALUE_TASKS},
        params=(Param("delta", float, None, "δ in target units; default 1.345·σ̂, σ̂ = 1.4826·MAD",
                      0.0, None, low_open=True),),
        derive=_huber_derive,
        references=("Huber 1964 (δ = 1.345σ gives 95% efficiency under Gaussian noise)",),
    ),
    LossSpec(
        key="log_cosh", title="Log-cosh", complexity=1,
        summary="log(cosh(e)): Huber-like with a smooth gradient (δ ≈ 1 target unit).",
        variants={t: Variant("keras.losses.LogCosh", head="linear") for t in VALUE_TASKS},
        references=("Keras built-in",),
    ),
    LossSpec(
        key="msle", title="Mean squared logarithmic error", complexity=1,
        summary="MSE of log(1+y): relative error for positive targets spanning orders of magnitude.",
        variants={t: Variant("keras.losses.MeanSquaredLogarithmicError", head="exponential")
                  for t in VALUE_TASKS},
        requires=(_NON_NEGATIVE,),
        references=("Keras built-in (clamps negatives to 0 silently: never use with y < 0)",),
    ),
    LossSpec(
        key="mape", title="Mean absolute percentage error", complexity=1,
        summary="|e|/|y|: relative error; explodes at y = 0.",
        variants={"regression": Variant("keras.losses.MeanAbsolutePercentageError", head="exponential")},
        requires=(Requirement("target_zero_fraction", "eq", 0.0, "divides by y and the target has zeros"),
                  Requirement("target_non_negative", "eq", True, "is meant for positive targets")),
        references=("Keras built-in (returns ~1e9 at y_true = 0)",),
    ),
    LossSpec(
        key="quantile", title="Quantile (pinball)", complexity=1,
        summary="τ-quantile regression: under-prediction costs τ, over-prediction 1−τ.",
        variants={t: Variant(f"{OURS}.PinballLoss", head="linear") for t in VALUE_TASKS},
        params=(Param("tau", float, None, "τ = C_under/(C_under+C_over); default 0.5 (median)",
                      0.0, 1.0, low_open=True, high_open=True),),
        derive=_quantile_derive,
        references=("Koenker & Bassett 1978, Regression Quantiles",),
    ),
    LossSpec(
        key="poisson", title="Poisson", complexity=0,
        summary="Poisson likelihood with a log link: the GLM for counts.",
        variants={"count": Variant("keras.losses.Poisson", head="exponential"),
                  "regression": Variant("keras.losses.Poisson", head="exponential")},
        requires=(_NON_NEGATIVE,),
        references=("Nelder & Wedderburn 1972; scikit-learn PoissonRegressor",),
    ),
    LossSpec(
        key="tweedie", title="Tweedie", complexity=1,
        summary="Compound Poisson–gamma (1<p<2): exact zeros plus a skewed positive part.",
        variants={t: Variant(f"{OURS}.TweedieLoss", head="log_link", output="log_mean")
                  for t in VALUE_TASKS},
        params=(Param("power", float, 1.5, "Tweedie power p", 1.0, 2.0, low_open=True,
                      high_open=True),),
        derive=_fixed(power=1.5), requires=(_NON_NEGATIVE,),
        references=("Jørgensen 1987; scikit-learn TweedieRegressor (start at p=1.5)",),
    ),
    LossSpec(
        key="bounded_crossentropy", title="Cross-entropy on a [0, 1] target (fractional logit)",
        complexity=1,
        summary="Bernoulli quasi-likelihood for shares and rates: predictions stay inside [0, 1].",
        variants={"regression": Variant("keras.losses.BinaryCrossentropy", head="unit")},
        requires=(Requirement("target_bounded_unit", "eq", True, "needs a target inside [0, 1]"),),
        references=("Papke & Wooldridge 1996, fractional response models",),
    ),
)

CATALOG: dict[str, LossSpec] = {spec.key: spec for spec in _SPECS}
_USER: dict[str, LossSpec] = {}
_USER_CLASSES: dict[str, type] = {}  # import path -> class, for classes defined in scripts


def specs() -> dict[str, LossSpec]:
    """Every known loss: the built-in catalogue and the user's registered ones."""
    return {**CATALOG, **_USER}


def get_spec(key: str) -> LossSpec:
    known = specs()
    if key not in known:
        raise UsageError(f"Unknown loss '{key}'.{did_you_mean(key, known)} Known losses: {', '.join(sorted(known))}.")
    return known[key]


def register_loss(key: str, loss_class: str | type, tasks: tuple[str, ...] | list[str], *,
                  title: str | None = None, params: dict[str, Any] | None = None,
                  head: str | None = None, logits: str | None = None, target: str | None = None,
                  output: str | None = None, complexity: int = 2,
                  references: tuple[str, ...] = ()) -> LossSpec:
    """Make a user's Keras loss class suggestable by rules files (``suggest: [{loss: key}]``).

    ``loss_class`` is the class or its import path; ``params`` maps each constructor argument
    rules may set to its default. ``logits``: "param" if it takes ``from_logits``, "required" if
    it expects logits, "none" if it expects probabilities (or values, for regression).
    ``output`` says what the model's raw output means to the loss, which decides the head and
    how predictions are read: "probability", "logits" or "margin" for classification, "value"
    or "log_mean" (a log link: predictions are its exponential) for regression and counts.
    Left out, it follows ``logits`` (classification) or ``head`` ("log_link" means "log_mean").
    ``logits`` defaults to "required" for logits and margins, else "none"; ``head`` to "class"
    for classification, "log_link" for a log-mean output, else "linear".
    """
    if key in CATALOG:
        raise UsageError(f"Loss key '{key}' is built in; register yours under another name.")
    if isinstance(loss_class, str):
        path = loss_class
    else:
        path = f"{loss_class.__module__}.{loss_class.__qualname__}"
        _USER_CLASSES[path] = loss_class
    unknown = [t for t in tasks if t not in (*CLASSIFICATION, *VALUE_TASKS)]
    if unknown:
        raise UsageError(f"Unknown task(s) {unknown} for loss '{key}'.")
    if output is not None and output not in OUTPUTS:
        raise UsageError(f"Unknown output '{output}' for loss '{key}'; expected one of "
                         f"{', '.join(OUTPUTS)}.")
    if logits is None:
        logits = "required" if output in ("logits", "margin") else "none"
    default_targets = {"binary": "binary_01", "multiclass": "label_index", "multilabel": "multi_hot"}
    variants = {}
    for t in tasks:
        task_head = head or ("class" if t in CLASSIFICATION else
                             "log_link" if output == "log_mean" else "linear")
        variant = Variant(path, logits=logits, head=task_head,
                          target=target or default_targets.get(t, "none"),
                          output=output or "auto")
        _check_output(key, t, variant)
        variants[t] = variant
    defaults = dict(params or {})
    spec = LossSpec(
        key=key, title=title or key, variants=variants, complexity=complexity,
        params=tuple(Param(n, type(v) if v is not None else float, v, "user parameter")
                     for n, v in defaults.items()),
        derive=lambda p, c, given: {n: given.get(n, v) for n, v in defaults.items()},
        references=references or ("registered by the user",),
    )
    _USER[key] = spec
    return spec


def _check_output(key: str, task: str, variant: Variant) -> None:
    """A registered variant's output meaning must fit its task, its logits and its head."""
    if variant.output == "auto":
        return
    where = f"loss '{key}' on {task} targets"
    if task in CLASSIFICATION:
        if variant.output not in ("probability", "logits", "margin"):
            raise UsageError(f"output '{variant.output}' does not fit {where}: use probability, "
                             "logits or margin.")
        if variant.output == "probability" and variant.logits == "required":
            raise UsageError(f"{where}: output 'probability' contradicts logits='required'.")
        if variant.output in ("logits", "margin") and variant.logits == "none":
            raise UsageError(f"{where}: output '{variant.output}' contradicts logits='none'.")
        return
    if variant.output not in ("value", "log_mean"):
        raise UsageError(f"output '{variant.output}' does not fit {where}: use value or log_mean.")
    if (variant.output == "log_mean") != (variant.head == "log_link"):
        raise UsageError(f"{where}: output '{variant.output}' needs head "
                         f"'{'log_link' if variant.output == 'log_mean' else 'linear'}', "
                         f"got '{variant.head}'.")


def unregister_loss(key: str) -> None:
    _USER.pop(key, None)


def incompatibility(spec: LossSpec, facts: dict[str, Any]) -> str | None:
    """Why ``spec`` cannot serve these facts (task, target, output, metric), or None."""
    task = facts.get("task")
    if task not in spec.variants:
        return f"does not apply to {task} targets (fits {', '.join(spec.tasks)})"
    for requirement in spec.requires:
        if not requirement.holds(facts):
            observed = facts.get(requirement.fact)
            return f"{requirement.reason} ({requirement.fact} = {show(observed)})"
    variant = spec.variants[task]
    output = facts.get("output")
    if task in CLASSIFICATION:
        if output == "probabilities" and variant.logits == "required":
            return "expects logits but the model outputs probabilities (--output probabilities)"
        if output == "logits" and variant.logits == "none":
            return "expects probabilities but the model outputs logits (--output logits)"
    return None


def configure(key: str, profile: DatasetProfile, criteria: Criteria,
              params: dict[str, Any] | None = None,
              semantics: KerasSemantics | None = None) -> LossConfig:
    """A concrete, data-derived configuration of loss ``key`` for this profile and criteria."""
    spec = get_spec(key)
    variant = spec.variants[profile.task]
    given = dict(params or {})
    derived = spec.derive(profile, criteria, given) if spec.derive else {}
    values = {**derived, **{k: v for k, v in given.items() if k not in derived}}
    semantics = semantics or assumed_semantics()
    from_logits = _from_logits(variant, profile.task, criteria)
    config = dict(variant.constant)
    if not spec.params_shape_fit:
        config.update(values)
    if spec.key == "focal" and profile.task != "multiclass":
        config["alpha"] = semantics.keras_binary_alpha(values["alpha"])
    if variant.logits == "param" and profile.task in CLASSIFICATION and from_logits is not None:
        config["from_logits"] = from_logits
    if spec.key == "tweedie":
        config["from_logits"] = True
    if spec.key == "bounded_crossentropy":
        config["from_logits"] = False
    keras_spec = {"class_name": _registered_name(variant), "config": config}
    if variant.module not in ("keras.losses", OURS):
        keras_spec["module"] = variant.module  # a user's class: import it from where it lives
    fit = spec.fit(profile, criteria, values) if spec.fit else {}
    head = output_head(variant, profile, from_logits, fit.get("class_weight"))
    notes = tuple(spec.notes(profile, criteria, values)) if spec.notes else ()
    partial = LossConfig(
        loss=key, title=spec.title, task=profile.task, params=values, keras=keras_spec,
        fit={k: ({str(i): w for i, w in v.items()} if k == "class_weight" else v)
             for k, v in fit.items()},
        head=head,
        prediction=prediction_for(variant.output_meaning(profile.task, from_logits),
                                  profile.task),
        training=Training(), output_activation=head.activation,
        from_logits=from_logits if profile.task in CLASSIFICATION else None,
        target_transform=variant.target, complexity=spec.complexity, notes=notes, code="",
    )
    return with_training(partial, training_for(partial, rows=profile.n_rows, seed=profile.seed),
                         profile)


def with_training(config: LossConfig, training: Training, profile: DatasetProfile) -> LossConfig:
    """``config`` with its training protocol replaced and its paste-ready code re-rendered to
    match (validation calls it with the epoch cap and batch size the trials used)."""
    updated = config.replace(training=training)
    return updated.replace(code=render_code(updated, profile))


def _from_logits(variant: Variant, task: str, criteria: Criteria) -> bool | None:
    if task not in CLASSIFICATION:
        return None
    if variant.logits == "required":
        return True
    if variant.logits == "none":
        return False
    # Logits unless the user's model emits probabilities: log-sigmoid/log-softmax on logits is
    # the numerically stable form (the usual cause of focal-loss NaNs is log of a clipped p).
    return criteria.output != "probabilities"


def output_head(variant: Variant, p: DatasetProfile, from_logits: bool | None,
                class_weight: dict | None = None) -> OutputHead:
    """The head the loss expects, its bias starting the model at the prior it will train to.

    Classification starts at the class prior (Lin et al. 2017, focal loss's "prior" bias
    initialisation): the log-odds of the positive share (binary, each label of a multilabel
    target) or the log of each class's share (softmax). With class weights w_c on shares f_c the
    weighted fit settles at π_c ∝ w_c·f_c, so the bias is that weighted prior's: 0 (binary) or
    uniform (multiclass) for balanced weights. Value heads start at the target's mean or median.
    """
    if p.task in CLASSIFICATION:
        output = variant.output_meaning(p.task, from_logits)
        units = 1 if p.task == "binary" else p.n_classes
        fractions = _class_fractions(p)
        if p.task == "multiclass":
            prior = weighted_prior(fractions, class_weight)
            bias = tuple(_bias(math.log(f)) for f in prior)
            activation = "softmax" if output == "probability" else "linear"
        elif p.task == "binary":
            prior = weighted_prior(fractions, class_weight)
            bias = (_bias(math.log(prior[1] / prior[0])),)
            activation = "sigmoid" if output == "probability" else "linear"
        else:  # multilabel: each label on its own; class weights do not apply
            bias = tuple(_bias(math.log(f / (1 - f))) for f in fractions)
            activation = "sigmoid" if output == "probability" else "linear"
        if variant.head == "no_prior" or output == "margin":
            bias = None  # the loss adds the prior itself, or margins have no prior to start at
        return OutputHead(units, activation, bias)
    mean = p.target_mean or 0.0
    if variant.head in ("exponential", "log_link"):
        bias = (_bias(math.log(max(mean, 1e-6))),)
        return OutputHead(1, "exponential" if variant.head == "exponential" else "linear", bias)
    if variant.head == "unit":
        share = min(max(mean, 1e-4), 1 - 1e-4)
        return OutputHead(1, "sigmoid", (_bias(math.log(share / (1 - share))),))
    # Linear head in target units: a rescaling layer starts predictions at the median with the
    # robust spread, so Adam need not learn the target's scale first.
    scale = p.target_robust_scale or p.target_std or 1.0
    return OutputHead(1, "linear", None, _round_sig(scale), _round_sig(p.target_median or mean))


def _bias(x: float) -> float:
    # Four decimals: finer than any prior the data can tell, coarse enough that balanced weights
    # (rounded to six decimals themselves) print as the 0 they mean. + 0.0: never "-0.0".
    return round(x, BIAS_DECIMALS) + 0.0


def _registered_name(variant: Variant) -> str:
    if variant.module == OURS:
        return f"advisor>{variant.class_name}"
    return variant.class_name


def loss_class(config: LossConfig) -> type:
    """The Keras class behind a configuration (imports Keras)."""
    spec = get_spec(config.loss)
    path = spec.variants[config.task].class_path
    if path in _USER_CLASSES:
        return _USER_CLASSES[path]
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def output_of(loss_class: str | type, task: str, from_logits: bool | None) -> str | None:
    """What the raw output means for the catalogue's (or a registered) variant with this class
    on ``task`` — None when no variant, or variants meaning different things, use it."""
    path = loss_class if isinstance(loss_class, str) else next(
        (p for p, cls in _USER_CLASSES.items() if cls is loss_class),
        f"{loss_class.__module__}.{loss_class.__qualname__}")
    meanings = {v.output_meaning(task, from_logits) for spec in specs().values()
                for t, v in spec.variants.items() if t == task and v.class_path == path}
    return meanings.pop() if len(meanings) == 1 else None


def build_loss(config: LossConfig):
    """A ``keras.losses.Loss`` instance for ``config`` (imports Keras)."""
    return loss_class(config)(**config.keras["config"])


__all__ = ["CATALOG", "LossConfig", "LossSpec", "OutputHead", "Param", "Requirement", "Variant",
           "build_loss", "configure", "get_spec", "incompatibility", "output_of", "register_loss",
           "specs", "with_training"]
