"""Tests for advisor.losses.keras_losses: values, numerical safety, serialisation."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import inspect  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.special import expit, softmax  # noqa: E402

from advisor.losses import keras_losses  # noqa: E402
from advisor.losses.keras_losses import (  # noqa: E402
    AsymmetricLoss,
    BinaryGeneralizedCrossentropy,
    BinaryLogitAdjustedCrossentropy,
    BinaryPolyCrossentropy,
    CategoricalGeneralizedCrossentropy,
    CategoricalPolyCrossentropy,
    LogitAdjustedCrossentropy,
    PinballLoss,
    SymmetricCrossentropy,
    TweedieLoss,
)

EPS = keras.config.epsilon()
ALL_CLASSES = {getattr(keras_losses, name) for name in keras_losses.__all__}


# --------------------------------------------------------------------------
# Independent NumPy references (float64). They restate each docstring formula,
# including the documented clipping of probabilities to [EPS, 1 - EPS].
# --------------------------------------------------------------------------


def _clip(p):
    return np.clip(p, EPS, 1.0 - EPS)


def _binary_logs(y_pred, from_logits):
    """(log p, log(1 - p)); logaddexp keeps logits of +-50 exact in float64."""
    if from_logits:
        return -np.logaddexp(0.0, -y_pred), -np.logaddexp(0.0, y_pred)
    p = _clip(y_pred)
    return np.log(p), np.log(1.0 - p)


def _categorical_probs(y_pred, from_logits):
    if from_logits:
        return softmax(y_pred, axis=-1)
    e = _clip(y_pred)
    return e / e.sum(axis=-1, keepdims=True)


def ref_pinball(y, yhat, tau):
    e = y - yhat
    return np.mean(np.where(e >= 0, tau * e, (tau - 1.0) * e), axis=-1)


def ref_tweedie(y, yhat, power, from_logits):
    mu = np.exp(yhat) if from_logits else np.maximum(yhat, EPS)
    loss = -y * mu ** (1 - power) / (1 - power) + mu ** (2 - power) / (2 - power)
    return loss.mean(axis=-1)


def ref_binary_logit_adjusted(y, yhat, prior, tau, from_logits):
    z = yhat if from_logits else np.log(_clip(yhat) / (1.0 - _clip(yhat)))
    z = z + tau * np.log(prior / (1.0 - prior))
    log_p, log_1mp = _binary_logs(z, from_logits=True)
    return np.mean(-(y * log_p + (1 - y) * log_1mp), axis=-1)


def ref_logit_adjusted(y, yhat, priors, tau, from_logits):
    priors = np.asarray(priors, dtype=np.float64)
    priors = priors / priors.sum()
    z = yhat if from_logits else np.log(_clip(yhat))
    p = _categorical_probs(z + tau * np.log(priors), from_logits=True)
    return -np.sum(y * np.log(p), axis=-1)


def ref_binary_poly(y, yhat, epsilon, from_logits):
    log_p, log_1mp = _binary_logs(yhat, from_logits)
    p = np.exp(log_p)
    p_t = y * p + (1 - y) * (1 - p)
    ce = -(y * log_p + (1 - y) * log_1mp)
    return np.mean(ce + epsilon * (1 - p_t), axis=-1)


def ref_categorical_poly(y, yhat, epsilon, from_logits):
    p = _categorical_probs(yhat, from_logits)
    return -np.sum(y * np.log(p), axis=-1) + epsilon * (1 - np.sum(y * p, axis=-1))


def ref_asymmetric(y, yhat, gamma_neg, gamma_pos, clip, from_logits):
    p = expit(yhat) if from_logits else _clip(yhat)
    log_p, log_1mp = _binary_logs(yhat, from_logits)
    p_m = np.maximum(p - clip, 0.0)
    log_1m_pm = np.log(1.0 - p_m) if clip > 0 else log_1mp
    pos = y * (1 - p) ** gamma_pos * log_p
    neg = (1 - y) * p_m**gamma_neg * log_1m_pm
    return np.mean(-(pos + neg), axis=-1)


def ref_symmetric(y, yhat, alpha, beta, from_logits):
    p = _categorical_probs(yhat, from_logits)
    ce = -np.sum(y * np.log(p), axis=-1)
    rce = -np.sum(p * np.log(np.clip(y, 1e-4, 1.0)), axis=-1)
    return alpha * ce + beta * rce


def ref_binary_generalized(y, yhat, q, from_logits):
    p = expit(yhat) if from_logits else _clip(yhat)
    p_t = np.maximum(y * p + (1 - y) * (1 - p), EPS)
    return np.mean((1 - p_t**q) / q, axis=-1)


def ref_categorical_generalized(y, yhat, q, from_logits):
    p = _categorical_probs(yhat, from_logits)
    p_t = np.maximum(np.sum(y * p, axis=-1), EPS)
    return (1 - p_t**q) / q


# --------------------------------------------------------------------------
# Fixed batches (4 samples each), with soft labels and edge predictions.
# --------------------------------------------------------------------------

# Two outputs per sample, so averaging over the last axis is exercised.
Y_REG = np.array([[3.0, 0.0], [0.0, 2.0], [1.5, 0.0], [0.0, 7.0]])
YHAT_REG = np.array([[1.0, 0.2], [0.5, 2.5], [1.5, 0.0], [0.0, 9.0]])  # 0.0: mu floored
LOGMU_REG = np.array([[0.3, -2.0], [-1.0, 1.0], [0.4, -0.5], [-3.0, 2.0]])

Y_BIN = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [1.0, 1.0]])  # 0.3/0.7 soft
P_BIN = np.array([[0.9, 0.2], [0.6, 0.5], [0.25, 0.8], [0.0, 1.0]])  # exact 0 and 1
Z_BIN = np.array([[2.0, -1.0], [0.5, 3.0], [-1.5, 0.2], [-50.0, 50.0]])

Y_ML = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0]], dtype=np.float64)
P_ML = np.array(
    [[0.9, 0.03, 0.5], [0.6, 0.5, 1.0], [0.0, 0.2, 0.8], [0.02, 0.97, 0.04]]
)  # 0.03, 0.0 and 0.04 are negatives below the default clip of 0.05
Z_ML = np.array([[2.0, -3.0, 0.0], [0.4, 0.0, 50.0], [-50.0, -1.4, 1.4], [-4.0, 3.5, -3.2]])

Y_CAT = np.eye(3)[[0, 1, 2, 1]]
P_CAT = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]])
Z_CAT = np.array([[2.0, 1.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 0.0, 0.0], [50.0, -50.0, 0.0]])

LN2, LN3, LN4 = np.log(2.0), np.log(3.0), np.log(4.0)

# (id, loss factory, y_true, y_pred, expected): expected is either a NumPy
# reference called on (y_true, y_pred) or per-sample numbers worked by hand.
VALUE_CASES = [
    ("PinballLoss-ref", lambda: PinballLoss(tau=0.3), Y_REG, YHAT_REG,
     lambda y, p: ref_pinball(y, p, 0.3)),
    # tau=0.8: y=3, yhat=1 -> e=2 -> max(1.6, -0.4) = 1.6;
    #          y=1, yhat=3 -> e=-2 -> max(-1.6, 0.4) = 0.4.
    ("PinballLoss-hand", lambda: PinballLoss(tau=0.8), [[3.0], [1.0]], [[1.0], [3.0]],
     [1.6, 0.4]),
    ("TweedieLoss-ref", lambda: TweedieLoss(power=1.3), Y_REG, YHAT_REG,
     lambda y, p: ref_tweedie(y, p, 1.3, False)),
    ("TweedieLoss-logits-ref", lambda: TweedieLoss(power=1.7, from_logits=True),
     Y_REG, LOGMU_REG, lambda y, p: ref_tweedie(y, p, 1.7, True)),
    # p=1.5: y=1, mu=1 -> -1*1/(-0.5) + 1/0.5 = 4;  y=0, mu=4 -> 4**0.5/0.5 = 4;
    #        y=4, mu=4 -> -4*0.5/(-0.5) + 2/0.5 = 8.
    ("TweedieLoss-hand", lambda: TweedieLoss(), [[1.0], [0.0], [4.0]], [[1.0], [4.0], [4.0]],
     [4.0, 4.0, 8.0]),
    ("BinaryLogitAdjustedCrossentropy-ref",
     lambda: BinaryLogitAdjustedCrossentropy(positive_prior=0.1, tau=1.5), Y_BIN, Z_BIN,
     lambda y, p: ref_binary_logit_adjusted(y, p, 0.1, 1.5, True)),
    ("BinaryLogitAdjustedCrossentropy-probs-ref",
     lambda: BinaryLogitAdjustedCrossentropy(positive_prior=0.7, from_logits=False),
     Y_BIN, P_BIN, lambda y, p: ref_binary_logit_adjusted(y, p, 0.7, 1.0, False)),
    # prior 0.2 -> shift log(0.2/0.8) = -log 4; z = log 4 -> z' = 0 -> loss log 2
    # whatever the label.
    ("BinaryLogitAdjustedCrossentropy-hand",
     lambda: BinaryLogitAdjustedCrossentropy(positive_prior=0.2), [[1.0], [0.0]],
     [[LN4], [LN4]], [LN2, LN2]),
    ("LogitAdjustedCrossentropy-ref",
     lambda: LogitAdjustedCrossentropy(priors=[50, 30, 20], tau=0.5), Y_CAT, Z_CAT,
     lambda y, p: ref_logit_adjusted(y, p, [50, 30, 20], 0.5, True)),
    ("LogitAdjustedCrossentropy-probs-ref",
     lambda: LogitAdjustedCrossentropy(priors=[0.6, 0.3, 0.1], from_logits=False),
     Y_CAT, P_CAT, lambda y, p: ref_logit_adjusted(y, p, [0.6, 0.3, 0.1], 1.0, False)),
    # priors [1,1,2] -> [.25,.25,.5]; z = [ln2, ln2, 0] -> z' = ln[.5,.5,.5] -> uniform
    # -> loss ln 3.  z = 0 -> softmax(z') = priors -> class 0 costs -ln .25 = ln 4.
    ("LogitAdjustedCrossentropy-hand", lambda: LogitAdjustedCrossentropy(priors=[1, 1, 2]),
     [[0, 0, 1], [1, 0, 0]], [[LN2, LN2, 0.0], [0.0, 0.0, 0.0]], [LN3, LN4]),
    ("BinaryPolyCrossentropy-ref", lambda: BinaryPolyCrossentropy(epsilon=2.0), Y_BIN,
     P_BIN, lambda y, p: ref_binary_poly(y, p, 2.0, False)),
    ("BinaryPolyCrossentropy-logits-ref",
     lambda: BinaryPolyCrossentropy(epsilon=-0.5, from_logits=True), Y_BIN, Z_BIN,
     lambda y, p: ref_binary_poly(y, p, -0.5, True)),
    # epsilon=1, y=1, p=0.5: CE = ln 2, 1 - p_t = 0.5 -> ln 2 + 0.5.
    ("BinaryPolyCrossentropy-hand", lambda: BinaryPolyCrossentropy(), [[1.0]], [[0.5]],
     [LN2 + 0.5]),
    ("CategoricalPolyCrossentropy-ref", lambda: CategoricalPolyCrossentropy(epsilon=3.0),
     Y_CAT, P_CAT, lambda y, p: ref_categorical_poly(y, p, 3.0, False)),
    ("CategoricalPolyCrossentropy-logits-ref",
     lambda: CategoricalPolyCrossentropy(from_logits=True), Y_CAT, Z_CAT,
     lambda y, p: ref_categorical_poly(y, p, 1.0, True)),
    # 4 equal logits, epsilon=1: CE = ln 4, p_t = 0.25 -> ln 4 + 0.75.
    ("CategoricalPolyCrossentropy-hand",
     lambda: CategoricalPolyCrossentropy(from_logits=True), [[1, 0, 0, 0]],
     [[0.0, 0.0, 0.0, 0.0]], [LN4 + 0.75]),
    ("AsymmetricLoss-ref", lambda: AsymmetricLoss(), Y_ML, P_ML,
     lambda y, p: ref_asymmetric(y, p, 4.0, 0.0, 0.05, False)),
    ("AsymmetricLoss-logits-ref",
     lambda: AsymmetricLoss(gamma_neg=2.0, gamma_pos=1.0, clip=0.1, from_logits=True),
     Y_ML, Z_ML, lambda y, p: ref_asymmetric(y, p, 2.0, 1.0, 0.1, True)),
    ("AsymmetricLoss-noclip-logits-ref",
     lambda: AsymmetricLoss(gamma_neg=0.5, gamma_pos=2.0, clip=0.0, from_logits=True),
     Y_ML, Z_ML, lambda y, p: ref_asymmetric(y, p, 0.5, 2.0, 0.0, True)),
    # Defaults (gamma_neg=4, gamma_pos=0, clip=.05), one label per row:
    # y=0, p=.55 -> p_m=.5 -> .5**4 * -ln .5 = ln2/16;  y=1, p=.5 -> ln 2;
    # y=0, p=.04 -> p_m=0 -> 0.
    ("AsymmetricLoss-hand", lambda: AsymmetricLoss(), [[0.0], [1.0], [0.0]],
     [[0.55], [0.5], [0.04]], [LN2 / 16, LN2, 0.0]),
    ("SymmetricCrossentropy-ref", lambda: SymmetricCrossentropy(alpha=0.5, beta=2.0),
     Y_CAT, P_CAT, lambda y, p: ref_symmetric(y, p, 0.5, 2.0, False)),
    ("SymmetricCrossentropy-logits-ref",
     lambda: SymmetricCrossentropy(from_logits=True), Y_CAT, Z_CAT,
     lambda y, p: ref_symmetric(y, p, 0.1, 1.0, True)),
    # alpha=.1, beta=1, p=[.5,.25,.25], class 0: CE = ln 2;
    # RCE = -(.25 ln 1e-4) * 2 = 0.5 * ln 1e4 -> .1 ln 2 + .5 ln 1e4 = 4.674485.
    ("SymmetricCrossentropy-hand", lambda: SymmetricCrossentropy(), [[1, 0, 0]],
     [[0.5, 0.25, 0.25]], [0.1 * LN2 + 0.5 * np.log(1e4)]),
    ("BinaryGeneralizedCrossentropy-ref", lambda: BinaryGeneralizedCrossentropy(), Y_BIN,
     P_BIN, lambda y, p: ref_binary_generalized(y, p, 0.7, False)),
    ("BinaryGeneralizedCrossentropy-logits-ref",
     lambda: BinaryGeneralizedCrossentropy(q=0.3, from_logits=True), Y_BIN, Z_BIN,
     lambda y, p: ref_binary_generalized(y, p, 0.3, True)),
    # q=.5: y=1, p=.25 -> p_t=.25 -> (1 - .5)/.5 = 1;  y=0, p=.75 -> same;
    # q=1 is 1 - p_t: y=1, p=.9 -> 0.1 (separate loss below).
    ("BinaryGeneralizedCrossentropy-hand", lambda: BinaryGeneralizedCrossentropy(q=0.5),
     [[1.0], [0.0]], [[0.25], [0.75]], [1.0, 1.0]),
    ("BinaryGeneralizedCrossentropy-q1-hand", lambda: BinaryGeneralizedCrossentropy(q=1.0),
     [[1.0], [0.0]], [[0.9], [0.9]], [0.1, 0.9]),
    ("CategoricalGeneralizedCrossentropy-ref", lambda: CategoricalGeneralizedCrossentropy(),
     Y_CAT, P_CAT, lambda y, p: ref_categorical_generalized(y, p, 0.7, False)),
    ("CategoricalGeneralizedCrossentropy-logits-ref",
     lambda: CategoricalGeneralizedCrossentropy(q=0.4, from_logits=True), Y_CAT, Z_CAT,
     lambda y, p: ref_categorical_generalized(y, p, 0.4, True)),
    # q=.5, true-class probability .25 -> (1 - .5)/.5 = 1; q=1, p_t=.9 -> 0.1.
    ("CategoricalGeneralizedCrossentropy-hand",
     lambda: CategoricalGeneralizedCrossentropy(q=0.5), [[0, 1, 0]], [[0.5, 0.25, 0.25]], [1.0]),
    ("CategoricalGeneralizedCrossentropy-q1-hand",
     lambda: CategoricalGeneralizedCrossentropy(q=1.0), [[1, 0]], [[0.9, 0.1]], [0.1]),
]


def _case_class(factory):
    return type(factory())


def _ids(cases):
    return [case[0] for case in cases]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case_id, factory, y_true, y_pred, expected", VALUE_CASES,
                         ids=_ids(VALUE_CASES))
def test_value_matches_hand_computation(case_id, factory, y_true, y_pred, expected, dtype):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    want = expected(y_true, y_pred) if callable(expected) else np.asarray(expected)
    config = {**factory().get_config(), "reduction": None, "dtype": dtype}
    per_sample_loss = type(factory()).from_config(config)
    got = keras.ops.convert_to_numpy(per_sample_loss(y_true, y_pred))
    assert got.dtype == np.dtype(dtype)
    assert got.shape == (len(y_true),)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Default reduction: the mean of the per-sample values.
    default_loss = type(factory()).from_config({**config, "reduction": "sum_over_batch_size"})
    np.testing.assert_allclose(float(default_loss(y_true, y_pred)), want.mean(), rtol=1e-5)


# --------------------------------------------------------------------------
# Numerical safety at the extremes.
# --------------------------------------------------------------------------

_LABELS_BIN = [[1.0, 0.0, 1.0, 0.0, 0.5, 0.5]]
_PROBS_BIN = [[0.0, 1.0, 1.0, 0.0, 0.0, 1.0]]
_LOGITS_BIN = [[-50.0, 50.0, 50.0, -50.0, -50.0, 50.0]]
_LABELS_CAT = np.eye(3)[[0, 1, 2, 0]]
_PROBS_CAT = [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
_LOGITS_CAT = [[-50.0, 50.0, 0.0], [-50.0, 50.0, -50.0], [50.0, -50.0, -50.0], [50.0, 0.0, -50.0]]

EXTREME_CASES = [
    ("PinballLoss", lambda: PinballLoss(tau=0.9), [[0.0], [0.0], [5.0], [1e6]],
     [[0.0], [1e6], [0.0], [0.0]]),
    ("TweedieLoss", lambda: TweedieLoss(), [[0.0], [0.0], [3.0], [1e6]],
     [[0.0], [1e6], [0.0], [1e6]]),
    ("TweedieLoss-near-1", lambda: TweedieLoss(power=1.01), [[0.0], [0.0], [3.0], [1e6]],
     [[0.0], [1e6], [0.0], [1e6]]),
    ("TweedieLoss-logits", lambda: TweedieLoss(power=1.9, from_logits=True),
     [[0.0], [0.0], [3.0], [3.0]], [[-50.0], [50.0], [-50.0], [50.0]]),
    ("BinaryLogitAdjustedCrossentropy-probs",
     lambda: BinaryLogitAdjustedCrossentropy(0.05, from_logits=False), _LABELS_BIN, _PROBS_BIN),
    ("BinaryLogitAdjustedCrossentropy-logits",
     lambda: BinaryLogitAdjustedCrossentropy(0.05, tau=2.0), _LABELS_BIN, _LOGITS_BIN),
    ("LogitAdjustedCrossentropy-probs",
     lambda: LogitAdjustedCrossentropy([0.9, 0.09, 0.01], from_logits=False),
     _LABELS_CAT, _PROBS_CAT),
    ("LogitAdjustedCrossentropy-logits",
     lambda: LogitAdjustedCrossentropy([0.9, 0.09, 0.01]), _LABELS_CAT, _LOGITS_CAT),
    ("BinaryPolyCrossentropy-probs", lambda: BinaryPolyCrossentropy(), _LABELS_BIN, _PROBS_BIN),
    ("BinaryPolyCrossentropy-logits", lambda: BinaryPolyCrossentropy(from_logits=True),
     _LABELS_BIN, _LOGITS_BIN),
    ("CategoricalPolyCrossentropy-probs", lambda: CategoricalPolyCrossentropy(),
     _LABELS_CAT, _PROBS_CAT),
    ("CategoricalPolyCrossentropy-logits",
     lambda: CategoricalPolyCrossentropy(from_logits=True), _LABELS_CAT, _LOGITS_CAT),
    ("AsymmetricLoss-probs", lambda: AsymmetricLoss(), _LABELS_BIN, _PROBS_BIN),
    ("AsymmetricLoss-logits", lambda: AsymmetricLoss(from_logits=True), _LABELS_BIN,
     _LOGITS_BIN),
    # Fractional and zero exponents are where pow's gradient is inf or 0 * inf.
    ("AsymmetricLoss-fractional-gammas-probs",
     lambda: AsymmetricLoss(gamma_neg=0.5, gamma_pos=0.5), _LABELS_BIN, _PROBS_BIN),
    ("AsymmetricLoss-fractional-gammas-logits",
     lambda: AsymmetricLoss(gamma_neg=0.5, gamma_pos=0.5, from_logits=True), _LABELS_BIN,
     _LOGITS_BIN),
    ("AsymmetricLoss-noclip-probs", lambda: AsymmetricLoss(clip=0.0), _LABELS_BIN, _PROBS_BIN),
    # p == clip makes p_m exactly 0 with the gradient flowing through max(p - clip, 0)
    # (ties go to the first argument), so p_m**gamma_neg is differentiated at 0.
    ("AsymmetricLoss-p-equals-clip-fractional",
     lambda: AsymmetricLoss(gamma_neg=0.5, clip=0.25), [[0.0, 0.0]], [[0.25, 0.5]]),
    ("AsymmetricLoss-p-equals-clip-zero-gamma",
     lambda: AsymmetricLoss(gamma_neg=0.0, clip=0.25), [[0.0, 0.0]], [[0.25, 0.5]]),
    ("AsymmetricLoss-noclip-logits",
     lambda: AsymmetricLoss(gamma_neg=0.0, clip=0.0, from_logits=True), _LABELS_BIN,
     _LOGITS_BIN),
    ("SymmetricCrossentropy-probs", lambda: SymmetricCrossentropy(), _LABELS_CAT, _PROBS_CAT),
    ("SymmetricCrossentropy-logits", lambda: SymmetricCrossentropy(from_logits=True),
     _LABELS_CAT, _LOGITS_CAT),
    ("BinaryGeneralizedCrossentropy-probs", lambda: BinaryGeneralizedCrossentropy(),
     _LABELS_BIN, _PROBS_BIN),
    ("BinaryGeneralizedCrossentropy-logits",
     lambda: BinaryGeneralizedCrossentropy(from_logits=True), _LABELS_BIN, _LOGITS_BIN),
    ("BinaryGeneralizedCrossentropy-small-q-logits",
     lambda: BinaryGeneralizedCrossentropy(q=1e-3, from_logits=True), _LABELS_BIN,
     _LOGITS_BIN),
    # Keras's own CategoricalGeneralizedCrossEntropy has an infinite gradient here.
    ("CategoricalGeneralizedCrossentropy-probs", lambda: CategoricalGeneralizedCrossentropy(),
     _LABELS_CAT, _PROBS_CAT),
    ("CategoricalGeneralizedCrossentropy-logits",
     lambda: CategoricalGeneralizedCrossentropy(from_logits=True), _LABELS_CAT, _LOGITS_CAT),
]


@pytest.mark.parametrize("case_id, factory, y_true, y_pred", EXTREME_CASES,
                         ids=_ids(EXTREME_CASES))
def test_finite_at_probability_extremes(case_id, factory, y_true, y_pred):
    loss_fn = factory()
    y_true = tf.constant(y_true, dtype=tf.float32)
    y_pred = tf.Variable(tf.constant(y_pred, dtype=tf.float32))
    with tf.GradientTape() as tape:
        loss = loss_fn(y_true, y_pred)
    grad = tape.gradient(loss, y_pred)
    assert grad is not None
    assert np.isfinite(loss.numpy()), loss.numpy()
    assert np.all(np.isfinite(grad.numpy())), grad.numpy()


# --------------------------------------------------------------------------
# Serialisation.
# --------------------------------------------------------------------------

# Non-default values everywhere, so a forgotten config key changes the result.
CONFIG_CASES = [
    ("PinballLoss", lambda: PinballLoss(tau=0.8, reduction="sum", name="q80")),
    ("TweedieLoss", lambda: TweedieLoss(power=1.2, from_logits=True, dtype="float64")),
    ("BinaryLogitAdjustedCrossentropy",
     lambda: BinaryLogitAdjustedCrossentropy(0.15, tau=0.5, from_logits=False,
                                             reduction=None)),
    ("LogitAdjustedCrossentropy",
     lambda: LogitAdjustedCrossentropy([7, 2, 1], tau=2.0, from_logits=False, name="la")),
    ("BinaryPolyCrossentropy",
     lambda: BinaryPolyCrossentropy(epsilon=-0.5, from_logits=True, reduction="sum")),
    ("CategoricalPolyCrossentropy",
     lambda: CategoricalPolyCrossentropy(epsilon=2.0, from_logits=True, dtype="float64")),
    ("AsymmetricLoss",
     lambda: AsymmetricLoss(gamma_neg=2.0, gamma_pos=1.0, clip=0.1, from_logits=True,
                            reduction="mean_with_sample_weight")),
    ("SymmetricCrossentropy",
     lambda: SymmetricCrossentropy(alpha=1.0, beta=0.5, from_logits=True, name="sce")),
    ("BinaryGeneralizedCrossentropy",
     lambda: BinaryGeneralizedCrossentropy(q=0.4, from_logits=True, reduction="sum")),
    ("CategoricalGeneralizedCrossentropy",
     lambda: CategoricalGeneralizedCrossentropy(q=0.6, from_logits=True, reduction="sum")),
]

_CONFIG_INPUTS = {
    PinballLoss: (Y_REG, YHAT_REG),
    TweedieLoss: (Y_REG, LOGMU_REG),
    BinaryLogitAdjustedCrossentropy: (Y_BIN, P_BIN),
    LogitAdjustedCrossentropy: (Y_CAT, P_CAT),
    BinaryPolyCrossentropy: (Y_BIN, Z_BIN),
    CategoricalPolyCrossentropy: (Y_CAT, Z_CAT),
    AsymmetricLoss: (Y_ML, Z_ML),
    SymmetricCrossentropy: (Y_CAT, Z_CAT),
    BinaryGeneralizedCrossentropy: (Y_BIN, Z_BIN),
    CategoricalGeneralizedCrossentropy: (Y_CAT, Z_CAT),
}


@pytest.mark.parametrize("case_id, factory", CONFIG_CASES, ids=_ids(CONFIG_CASES))
def test_config_round_trip(case_id, factory):
    loss = factory()
    cls = type(loss)
    config = loss.get_config()
    constructor_args = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert constructor_args <= set(config), constructor_args - set(config)

    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.dtype == loss.dtype
    # The serialised form (what model.save writes) must come back as the same class.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(revived) is cls and revived.get_config() == config

    y_true, y_pred = _CONFIG_INPUTS[cls]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(rebuilt(y_true, y_pred)),
        keras.ops.convert_to_numpy(loss(y_true, y_pred)),
    )


# (id, loss factory, output units, activation, target kind)
SAVE_CASES = [
    ("PinballLoss", lambda: PinballLoss(tau=0.8), 1, None, "regression"),
    ("TweedieLoss", lambda: TweedieLoss(power=1.4, from_logits=True), 1, None, "tweedie"),
    ("BinaryLogitAdjustedCrossentropy", lambda: BinaryLogitAdjustedCrossentropy(0.25), 1,
     None, "binary"),
    ("LogitAdjustedCrossentropy", lambda: LogitAdjustedCrossentropy([5, 3, 2], tau=0.5), 3,
     None, "onehot"),
    ("BinaryPolyCrossentropy", lambda: BinaryPolyCrossentropy(epsilon=2.0), 1, "sigmoid",
     "binary"),
    ("CategoricalPolyCrossentropy", lambda: CategoricalPolyCrossentropy(), 3, "softmax",
     "onehot"),
    ("AsymmetricLoss", lambda: AsymmetricLoss(gamma_pos=1.0), 3, "sigmoid", "multilabel"),
    ("SymmetricCrossentropy", lambda: SymmetricCrossentropy(), 3, "softmax", "onehot"),
    ("BinaryGeneralizedCrossentropy", lambda: BinaryGeneralizedCrossentropy(), 1, "sigmoid",
     "binary"),
    ("CategoricalGeneralizedCrossentropy",
     lambda: CategoricalGeneralizedCrossentropy(from_logits=True), 3, None, "onehot"),
]


def _targets(kind, rng, n):
    if kind == "regression":
        return rng.normal(size=(n, 1))
    if kind == "tweedie":
        # Compound Poisson-gamma draws: mostly exact zeros.
        counts = rng.poisson(0.7, size=n)
        return np.array([[rng.gamma(2.0, 1.0, size=c).sum()] for c in counts])
    if kind == "binary":
        return rng.integers(0, 2, size=(n, 1)).astype("float32")
    if kind == "multilabel":
        return rng.integers(0, 2, size=(n, 3)).astype("float32")
    if kind == "onehot":
        return np.eye(3, dtype="float32")[rng.integers(0, 3, size=n)]
    raise AssertionError(kind)


# model.save() trips a NumPy 2 __array__(copy=...) DeprecationWarning inside
# Keras' own TensorFlow backend; it is not about these losses.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("case_id, factory, units, activation, kind", SAVE_CASES,
                         ids=_ids(SAVE_CASES))
def test_saved_model_reloads(case_id, factory, units, activation, kind, tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = _targets(kind, rng, 32).astype("float32")
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(units, activation=activation)]
    )
    model.compile(optimizer="adam", loss=factory())
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)

    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)  # no custom_objects: registration does it

    assert type(reloaded.loss) is type(model.loss)
    assert reloaded.loss.get_config() == model.loss.get_config()
    before = model.evaluate(x, y, batch_size=32, verbose=0)
    after = reloaded.evaluate(x, y, batch_size=32, verbose=0)
    assert np.isfinite(before)
    np.testing.assert_allclose(after, before, rtol=1e-5)


INVALID_CASES = [
    (PinballLoss, {"tau": 1.5}, r"tau must be in \(0, 1\), got 1.5"),
    (PinballLoss, {"tau": 0.0}, r"tau must be in \(0, 1\), got 0"),
    (PinballLoss, {"tau": float("nan")}, r"tau must be in \(0, 1\), got nan"),
    (PinballLoss, {"tau": "high"}, r"tau must be a real number"),
    (TweedieLoss, {"power": 2.0}, r"power must be in \(1, 2\), got 2"),
    (TweedieLoss, {"power": 1.0}, r"power must be in \(1, 2\), got 1"),
    (BinaryLogitAdjustedCrossentropy, {"positive_prior": 1.0},
     r"positive_prior must be in \(0, 1\), got 1"),
    (BinaryLogitAdjustedCrossentropy, {"positive_prior": 0.3, "tau": -0.1},
     r"tau must be >= 0"),
    (LogitAdjustedCrossentropy, {"priors": [0.5, 0.0, 0.5]}, r"priors must all be finite and > 0"),
    (LogitAdjustedCrossentropy, {"priors": [1.0]}, r"priors must list at least 2 classes"),
    (LogitAdjustedCrossentropy, {"priors": 0.3}, r"priors must be a sequence"),
    (LogitAdjustedCrossentropy, {"priors": [1, 1], "tau": float("inf")}, r"tau must be >= 0"),
    (BinaryPolyCrossentropy, {"epsilon": -1.5}, r"epsilon must be >= -1"),
    (CategoricalPolyCrossentropy, {"epsilon": -2.0}, r"epsilon must be >= -1"),
    (AsymmetricLoss, {"gamma_neg": -1.0}, r"gamma_neg must be >= 0"),
    (AsymmetricLoss, {"gamma_pos": -0.5}, r"gamma_pos must be >= 0"),
    (AsymmetricLoss, {"clip": 1.0}, r"clip must be in \[0, 1\), got 1"),
    (SymmetricCrossentropy, {"alpha": -0.1}, r"alpha must be >= 0"),
    (SymmetricCrossentropy, {"beta": -1.0}, r"beta must be >= 0"),
    (SymmetricCrossentropy, {"alpha": 0.0, "beta": 0.0}, r"must not both be 0"),
    (BinaryGeneralizedCrossentropy, {"q": 0.0}, r"q must be in \(0, 1\], got 0"),
    (BinaryGeneralizedCrossentropy, {"q": 1.2}, r"q must be in \(0, 1\], got 1.2"),
    (CategoricalGeneralizedCrossentropy, {"q": 0.0}, r"q must be in \(0, 1\], got 0"),
    # Keras' own check on reduction still applies.
    (PinballLoss, {"reduction": "median"}, r"Invalid value for argument `reduction`"),
]


@pytest.mark.parametrize(
    "cls, kwargs, match", INVALID_CASES,
    ids=[f"{cls.__name__}-{'-'.join(kwargs)}" for cls, kwargs, _ in INVALID_CASES],
)
def test_rejects_invalid_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize(
    "table",
    [
        [case[1] for case in VALUE_CASES],
        [case[1] for case in EXTREME_CASES],
        [case[1] for case in CONFIG_CASES],
        [case[1] for case in SAVE_CASES],
        [lambda cls=cls: cls for cls, _, _ in INVALID_CASES],
    ],
    ids=["value", "extremes", "config", "saved_model", "invalid"],
)
def test_every_class_has_cases(table):
    covered = {f() if isinstance(f(), type) else type(f()) for f in table}
    assert covered >= ALL_CLASSES, ALL_CLASSES - covered


def test_all_is_a_tuple_of_registered_loss_classes():
    assert isinstance(keras_losses.__all__, tuple)
    for cls in ALL_CLASSES:
        assert issubclass(cls, keras.losses.Loss)
        assert keras.saving.get_registered_name(cls) == f"advisor>{cls.__name__}"


# --------------------------------------------------------------------------
# Behaviour shared with Keras' own losses.
# --------------------------------------------------------------------------

_REDUCTION_INPUTS = [
    ("PinballLoss", lambda: PinballLoss(0.3), Y_REG, YHAT_REG),
    ("TweedieLoss", lambda: TweedieLoss(), Y_REG, YHAT_REG),
    ("BinaryLogitAdjustedCrossentropy", lambda: BinaryLogitAdjustedCrossentropy(0.3), Y_BIN,
     Z_BIN),
    ("LogitAdjustedCrossentropy", lambda: LogitAdjustedCrossentropy([3, 2, 1]), Y_CAT, Z_CAT),
    ("BinaryPolyCrossentropy", lambda: BinaryPolyCrossentropy(), Y_BIN, P_BIN),
    ("CategoricalPolyCrossentropy", lambda: CategoricalPolyCrossentropy(), Y_CAT, P_CAT),
    ("AsymmetricLoss", lambda: AsymmetricLoss(), Y_ML, P_ML),
    ("SymmetricCrossentropy", lambda: SymmetricCrossentropy(), Y_CAT, P_CAT),
    ("BinaryGeneralizedCrossentropy", lambda: BinaryGeneralizedCrossentropy(), Y_BIN, P_BIN),
    ("CategoricalGeneralizedCrossentropy", lambda: CategoricalGeneralizedCrossentropy(), Y_CAT,
     P_CAT),
]


@pytest.mark.parametrize("case_id, factory, y_true, y_pred", _REDUCTION_INPUTS,
                         ids=_ids(_REDUCTION_INPUTS))
def test_reduction_and_sample_weight_behave_like_keras(case_id, factory, y_true, y_pred):
    config = factory().get_config()
    cls = type(factory())

    def loss(reduction, **kwargs):
        fn = cls.from_config({**config, "reduction": reduction})
        return keras.ops.convert_to_numpy(fn(y_true, y_pred, **kwargs))

    per_sample = loss(None)
    weights = np.array([1.0, 0.0, 2.0, 0.5])
    assert per_sample.shape == (4,)
    np.testing.assert_array_equal(loss("none"), per_sample)
    np.testing.assert_allclose(loss("sum"), per_sample.sum(), rtol=1e-6)
    np.testing.assert_allclose(loss("sum_over_batch_size"), per_sample.mean(), rtol=1e-6)
    np.testing.assert_allclose(
        loss("sum_over_batch_size", sample_weight=weights), (weights * per_sample).mean(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        loss("mean_with_sample_weight", sample_weight=weights),
        (weights * per_sample).sum() / weights.sum(), rtol=1e-6,
    )


@pytest.mark.parametrize("case_id, factory, y_true, y_pred", _REDUCTION_INPUTS,
                         ids=_ids(_REDUCTION_INPUTS))
def test_xla_compiled_loss_and_gradient_match_eager(case_id, factory, y_true, y_pred):
    # jit_compile="auto" picks XLA on GPU (never on CPU), so check it here.
    loss_fn = factory()
    y_true = tf.constant(y_true, dtype=tf.float32)
    y_pred = tf.constant(y_pred, dtype=tf.float32)

    def value_and_grad(y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = loss_fn(y_true, y_pred)
        return value, tape.gradient(value, y_pred)

    eager_value, eager_grad = value_and_grad(y_pred)
    xla_value, xla_grad = tf.function(value_and_grad, jit_compile=True)(y_pred)
    np.testing.assert_allclose(xla_value.numpy(), eager_value.numpy(), rtol=1e-5)
    np.testing.assert_allclose(xla_grad.numpy(), eager_grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: PinballLoss(),
        lambda: TweedieLoss(),
        lambda: BinaryLogitAdjustedCrossentropy(0.3),
        lambda: BinaryPolyCrossentropy(),
        lambda: AsymmetricLoss(),
        lambda: BinaryGeneralizedCrossentropy(),
    ],
    ids=lambda f: type(f()).__name__,
)
def test_rank_1_target_against_column_output_is_per_sample(factory):
    # A (batch,) target against a Dense(1) output must not broadcast to (batch, batch).
    y_true = np.array([1.0, 0.0, 1.0, 0.0])
    y_pred = np.array([[0.8], [0.3], [0.6], [0.1]])
    fn = type(factory()).from_config({**factory().get_config(), "reduction": None})
    got = keras.ops.convert_to_numpy(fn(y_true, y_pred))
    want = keras.ops.convert_to_numpy(fn(y_true[:, None], y_pred))
    assert got.shape == (4,)
    np.testing.assert_array_equal(got, want)


def test_loss_dtype_follows_constructor_dtype():
    y_true, y_pred = Y_BIN, P_BIN
    assert BinaryPolyCrossentropy()(y_true, y_pred).dtype == "float32"
    assert BinaryPolyCrossentropy(dtype="float64")(y_true, y_pred).dtype == "float64"


# --------------------------------------------------------------------------
# Sensible behaviour of individual losses.
# --------------------------------------------------------------------------


def test_pinball_penalises_under_prediction_nine_times_more_at_tau_0_9():
    loss = PinballLoss(tau=0.9, reduction=None)
    under, over = keras.ops.convert_to_numpy(loss([[5.0], [5.0]], [[3.0], [7.0]]))
    np.testing.assert_allclose(under, 1.8, rtol=1e-6)  # 0.9 * 2
    np.testing.assert_allclose(over, 0.2, rtol=1e-6)  # 0.1 * 2
    np.testing.assert_allclose(under / over, 9.0, rtol=1e-5)


def test_pinball_constant_minimiser_is_the_quantile():
    rng = np.random.default_rng(1)
    y = rng.exponential(size=400)
    grid = np.linspace(0.0, 4.0, 401)
    loss = PinballLoss(tau=0.9, reduction=None)
    values = keras.ops.convert_to_numpy(
        loss(np.broadcast_to(y, (grid.size, y.size)), np.repeat(grid[:, None], y.size, axis=1))
    )
    assert abs(grid[values.argmin()] - np.quantile(y, 0.9)) <= 0.02


@pytest.mark.parametrize("power", [1.1, 1.5, 1.9])
@pytest.mark.parametrize("from_logits", [False, True], ids=["mean", "log-mean"])
def test_tweedie_constant_minimiser_is_the_mean(power, from_logits):
    rng = np.random.default_rng(2)
    counts = rng.poisson(0.8, size=500)
    y = np.array([rng.gamma(2.0, 1.5, size=c).sum() for c in counts])
    assert (y == 0).mean() > 0.3  # many exact zeros, the case the loss is for
    grid = np.linspace(0.5, 3.5, 301)  # step 0.01
    preds = np.log(grid) if from_logits else grid
    loss = TweedieLoss(power=power, from_logits=from_logits, reduction=None, dtype="float64")
    values = keras.ops.convert_to_numpy(
        loss(np.broadcast_to(y, (grid.size, y.size)), np.repeat(preds[:, None], y.size, axis=1))
    )
    assert abs(grid[values.argmin()] - y.mean()) <= 0.01


def test_logit_adjustment_with_uniform_priors_is_plain_crossentropy():
    logits = np.random.default_rng(3).normal(scale=3.0, size=(6, 4))
    labels = np.eye(4)[[0, 1, 2, 3, 1, 2]]
    ours = LogitAdjustedCrossentropy(priors=[2, 2, 2, 2], tau=1.0)(labels, logits)
    keras_cce = keras.losses.CategoricalCrossentropy(from_logits=True)(labels, logits)
    np.testing.assert_allclose(float(ours), float(keras_cce), rtol=1e-6)

    binary_labels = labels[:, :1]
    binary_logits = logits[:, :1]
    ours = BinaryLogitAdjustedCrossentropy(positive_prior=0.5)(binary_labels, binary_logits)
    keras_bce = keras.losses.BinaryCrossentropy(from_logits=True)(binary_labels, binary_logits)
    np.testing.assert_allclose(float(ours), float(keras_bce), rtol=1e-6)


def test_logit_adjustment_shifts_towards_the_rare_class():
    # Same logits, rare positive class: a positive is charged more than with
    # a balanced prior, so training must push its logit higher.
    z, y = np.array([[0.0]]), np.array([[1.0]])
    rare = float(BinaryLogitAdjustedCrossentropy(positive_prior=0.1)(y, z))
    balanced = float(BinaryLogitAdjustedCrossentropy(positive_prior=0.5)(y, z))
    assert rare > balanced
    np.testing.assert_allclose(rare, np.logaddexp(0.0, np.log(9.0)), rtol=1e-6)


def test_logit_adjusted_priors_are_normalised_plain_floats():
    loss = LogitAdjustedCrossentropy(priors=np.array([6, 3, 1]))
    priors = loss.get_config()["priors"]
    assert priors == pytest.approx([0.6, 0.3, 0.1])
    assert all(type(p) is float for p in priors)


@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_poly_with_zero_epsilon_is_keras_crossentropy(from_logits):
    y_pred_bin = Z_BIN if from_logits else P_BIN
    ours = BinaryPolyCrossentropy(epsilon=0.0, from_logits=from_logits)(Y_BIN, y_pred_bin)
    theirs = keras.losses.BinaryCrossentropy(from_logits=from_logits)(Y_BIN, y_pred_bin)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-6)

    y_pred_cat = Z_CAT if from_logits else P_CAT
    ours = CategoricalPolyCrossentropy(epsilon=0.0, from_logits=from_logits)(Y_CAT, y_pred_cat)
    theirs = keras.losses.CategoricalCrossentropy(from_logits=from_logits)(Y_CAT, y_pred_cat)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_asymmetric_without_focusing_or_clip_is_keras_bce(from_logits):
    y_pred = Z_ML if from_logits else P_ML
    ours = AsymmetricLoss(gamma_neg=0.0, gamma_pos=0.0, clip=0.0, from_logits=from_logits)
    theirs = keras.losses.BinaryCrossentropy(from_logits=from_logits)
    np.testing.assert_allclose(float(ours(Y_ML, y_pred)), float(theirs(Y_ML, y_pred)),
                               rtol=1e-6)


def test_asymmetric_ignores_negatives_below_the_clip():
    loss = AsymmetricLoss(reduction=None)
    y_true = tf.constant([[0.0, 0.0]])
    y_pred = tf.Variable([[0.04, 0.3]])
    with tf.GradientTape() as tape:
        value = loss(y_true, y_pred)
    grad = tape.gradient(value, y_pred).numpy()
    assert grad[0, 0] == 0.0 and grad[0, 1] > 0.0


def test_symmetric_crossentropy_with_only_alpha_is_keras_cce():
    ours = SymmetricCrossentropy(alpha=1.0, beta=0.0, from_logits=True)(Y_CAT, Z_CAT)
    theirs = keras.losses.CategoricalCrossentropy(from_logits=True)(Y_CAT, Z_CAT)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-6)


def test_symmetric_reverse_term_is_bounded():
    # For one-hot y, RCE = -log(1e-4) * (1 - p_t) <= -log(1e-4), however wrong p is.
    loss = SymmetricCrossentropy(alpha=0.0, beta=1.0, from_logits=True, reduction=None)
    worst = keras.ops.convert_to_numpy(loss([[1, 0, 0]], [[-50.0, 50.0, 0.0]]))
    np.testing.assert_allclose(worst, [np.log(1e4)], rtol=1e-6)


def test_generalized_crossentropy_approaches_bce_as_q_shrinks():
    y_true = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[0.9, 0.2], [0.3, 0.6], [0.55, 0.15], [0.05, 0.7]])
    bce = float(keras.losses.BinaryCrossentropy()(y_true, y_pred))
    small_q = float(BinaryGeneralizedCrossentropy(q=1e-3)(y_true, y_pred))
    default_q = float(BinaryGeneralizedCrossentropy()(y_true, y_pred))
    assert abs(small_q - bce) < 1e-2
    assert abs(default_q - bce) > 0.1  # q=0.7 really is a different loss


def test_categorical_generalized_ce_matches_keras_where_keras_is_finite():
    """Same values as Keras's CategoricalGeneralizedCrossEntropy away from p_t = 0, but a finite
    gradient where Keras's is infinite (the NaN that ended a benchmark trial)."""
    labels = np.array([0, 1, 2, 1])
    ours = CategoricalGeneralizedCrossentropy(q=0.7)(np.eye(3)[labels], P_CAT[:3].tolist() + [[0.2, 0.5, 0.3]])
    theirs = keras.losses.CategoricalGeneralizedCrossEntropy(q=0.7)(
        labels, np.array(P_CAT[:3].tolist() + [[0.2, 0.5, 0.3]]))
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-5)
    p = tf.constant([[1.0, 0.0, 0.0, 0.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(p)
        keras_value = keras.losses.CategoricalGeneralizedCrossEntropy(q=0.7)(np.array([3]), p)
        our_value = CategoricalGeneralizedCrossentropy(q=0.7)(np.eye(4)[[3]], p)
    assert not np.all(np.isfinite(tape.gradient(keras_value, p).numpy()))
    assert np.all(np.isfinite(tape.gradient(our_value, p).numpy()))
