"""Loss functions Keras lacks, as registered keras.losses.Loss subclasses.

Every class here is registered under the ``advisor`` package name, so a model
compiled with one of them can be saved with ``model.save(...)`` and reloaded
with ``keras.saving.load_model(...)`` without ``custom_objects``, provided this
module has been imported first.

Conventions shared by all classes:

* ``call`` returns one loss per sample: element-wise losses are averaged over
  the last axis (as ``keras.losses.BinaryCrossentropy`` does) and categorical
  losses are summed over the class axis (as
  ``keras.losses.CategoricalCrossentropy`` does), so ``reduction`` and
  ``sample_weight`` behave exactly as for the built-in losses.
* Probabilities are clipped to ``[epsilon, 1 - epsilon]`` with
  ``keras.config.epsilon()`` before any logarithm, and logits go through
  ``log_sigmoid`` / ``log_softmax``; loss and gradient stay finite for
  probabilities of exactly 0 and 1 and for logits of magnitude 50.
* ``get_config`` holds every constructor argument, ``dtype`` included, so
  ``cls.from_config(loss.get_config())`` rebuilds an equal loss.

Only ``keras.ops`` is used, so the losses run on any Keras backend. The price:
on the TensorFlow backend Keras' built-in cross-entropies quietly read the
logits back out of a sigmoid/softmax output layer, but these classes cannot,
so with ``from_logits=False`` a prediction saturated beyond epsilon gets no
gradient. Prefer a linear output layer with ``from_logits=True`` for training.
The losses assume float32 or float64 (Keras computes losses in floatx even
under a ``mixed_float16`` policy); in float16, ``1 - epsilon`` rounds to 1.
"""

import math

import keras
from keras import ops

__all__ = (
    "PinballLoss",
    "TweedieLoss",
    "BinaryLogitAdjustedCrossentropy",
    "LogitAdjustedCrossentropy",
    "BinaryPolyCrossentropy",
    "CategoricalPolyCrossentropy",
    "AsymmetricLoss",
    "SymmetricCrossentropy",
    "BinaryGeneralizedCrossentropy",
    "CategoricalGeneralizedCrossentropy",
)

# Wang et al. (2019) clip the one-hot target at 1e-4 so that log(0) in the
# reverse cross-entropy becomes the finite constant A = log(1e-4).
_SCE_LABEL_FLOOR = 1e-4


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------


def _as_float(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    # NaN fails every comparison below, so it is reported by the range checks.
    return value


def _check_open(name, value, low, high):
    value = _as_float(name, value)
    if not low < value < high:
        raise ValueError(f"{name} must be in ({low:g}, {high:g}), got {value:g}")
    return value


def _check_at_least(name, value, low):
    value = _as_float(name, value)
    if not (low <= value < math.inf):
        raise ValueError(f"{name} must be >= {low:g} and finite, got {value:g}")
    return value


def _check_half_open(name, value, low, high):
    value = _as_float(name, value)
    if not low <= value < high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}), got {value:g}")
    return value


def _check_left_open(name, value, low, high):
    value = _as_float(name, value)
    if not low < value <= high:
        raise ValueError(f"{name} must be in ({low:g}, {high:g}], got {value:g}")
    return value


def _normalised_priors(priors):
    try:
        values = [float(p) for p in priors]
    except (TypeError, ValueError):
        raise ValueError(
            f"priors must be a sequence of positive class frequencies, got {priors!r}"
        ) from None
    if len(values) < 2:
        raise ValueError(f"priors must list at least 2 classes, got {len(values)}")
    bad = [p for p in values if not (0.0 < p < math.inf)]
    if bad:
        raise ValueError(f"priors must all be finite and > 0, got {values}")
    total = math.fsum(values)
    # Rescaling an already normalised list can move a value by one ulp; skipping
    # it keeps from_config(get_config()) bit-for-bit equal to the original.
    if abs(total - 1.0) <= 1e-12:
        return values
    return [p / total for p in values]


# --------------------------------------------------------------------------
# Numerical helpers (all keras.ops, so they work on every backend)
# --------------------------------------------------------------------------


def _prepare(y_true, y_pred, align=True):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    if align:
        y_true, y_pred = _align_ranks(y_true, y_pred)
    return y_true, y_pred


def _align_ranks(y_true, y_pred):
    # Same rule as Keras' own loss wrappers: a (batch,) target against a
    # (batch, 1) output would otherwise broadcast to a (batch, batch) loss.
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        if true_rank == 1:
            y_true = ops.expand_dims(y_true, axis=-1)
        else:
            y_pred = ops.squeeze(y_pred, axis=-1)
    elif true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        if pred_rank == 1:
            y_pred = ops.expand_dims(y_pred, axis=-1)
        else:
            y_true = ops.squeeze(y_true, axis=-1)
    return y_true, y_pred


def _clip_probabilities(p):
    eps = keras.config.epsilon()
    return ops.clip(p, eps, 1.0 - eps)


def _binary_log_probs(y_pred, from_logits):
    """Return (log p, log(1 - p)) of a sigmoid output, both finite."""
    if from_logits:
        # log_sigmoid(-z) is log(1 - sigmoid(z)) without the cancellation
        # that turns 1 - sigmoid(50) into exactly 0.
        return ops.log_sigmoid(y_pred), ops.log_sigmoid(-y_pred)
    p = _clip_probabilities(y_pred)
    return ops.log(p), ops.log(1.0 - p)


def _log_softmax_probs(y_pred, from_logits):
    """Return log-probabilities over the last axis, all finite."""
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    # Treating log(clip(p)) as logits renormalises rows that do not quite sum
    # to 1 without the 0/0 that dividing an all-zero row by its sum would give.
    return ops.log_softmax(ops.log(_clip_probabilities(y_pred)), axis=-1)


def _binary_crossentropy(y_true, log_p, log_1mp):
    return -(y_true * log_p + (1.0 - y_true) * log_1mp)


def _floored_pow(base, exponent):
    # d/dx x**g = g * x**(g - 1) is 0 * inf = NaN at x = 0 for g = 0 and inf
    # for 0 < g < 1; flooring the base at epsilon keeps the gradient finite.
    return ops.power(ops.maximum(base, keras.config.epsilon()), exponent)


def _logit(p):
    p = _clip_probabilities(p)
    return ops.log(p) - ops.log(1.0 - p)


# --------------------------------------------------------------------------
# Shared base: dtype in the config
# --------------------------------------------------------------------------


class _AdvisorLoss(keras.losses.Loss):
    """Adds ``dtype`` to the config, which keras.losses.Loss leaves out, and every constructor
    argument a subclass names in ``_config_keys`` (stored under the same attribute names)."""

    _config_keys: tuple[str, ...] = ()

    def __init__(self, reduction, name, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        # The base config omits dtype, so a float64 loss would silently come
        # back as floatx after a save/load; the compute dtype string is enough
        # to rebuild the same behaviour and is JSON-serialisable.
        self._dtype_config = None if dtype is None else self.dtype

    def get_config(self):
        config = super().get_config()
        config["dtype"] = self._dtype_config
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="advisor")
class PinballLoss(_AdvisorLoss):
    """Pinball (quantile) loss.

    With ``e = y_true - y_pred``::

        loss = mean(max(tau * e, (tau - 1) * e), axis=-1)

    Minimising it over a constant gives the ``tau``-quantile of ``y_true``
    (Koenker, R. & Bassett, G. (1978), "Regression Quantiles", Econometrica
    46(1), 33-50). The default ``tau=0.5`` is their central case, least
    absolute deviations (the median); the loss is then half the absolute
    error. Under-prediction costs ``tau / (1 - tau)`` times as much as
    over-prediction of the same size.

    Args:
        tau: quantile level, in (0, 1).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("tau",)

    def __init__(
        self,
        tau=0.5,
        reduction="sum_over_batch_size",
        name="pinball_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.tau = _check_open("tau", tau, 0.0, 1.0)

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        error = y_true - y_pred
        loss = ops.maximum(self.tau * error, (self.tau - 1.0) * error)
        return ops.mean(loss, axis=-1)


@keras.saving.register_keras_serializable(package="advisor")
class TweedieLoss(_AdvisorLoss):
    """Tweedie negative log-likelihood for non-negative targets with exact zeros.

    With ``p = power`` and predicted mean ``mu``::

        loss = mean(-y * mu**(1 - p) / (1 - p) + mu**(2 - p) / (2 - p), axis=-1)

    This is the Tweedie deviance (half of scikit-learn's
    ``mean_tweedie_deviance``, the loss of ``TweedieRegressor``) minus terms
    that do not depend on ``mu``, i.e. what LightGBM's and XGBoost's
    ``tweedie`` objectives minimise. It is not zero at ``mu == y``, but its
    minimiser over a constant ``mu`` is the mean of ``y``. For
    ``1 < p < 2`` the Tweedie family is the compound Poisson-gamma
    distribution (Jorgensen, B. (1987), "Exponential Dispersion Models",
    JRSS B 49(2), 127-162), which puts a point mass at zero. The default
    ``power=1.5`` is LightGBM's and XGBoost's default
    ``tweedie_variance_power`` (scikit-learn's ``TweedieRegressor`` defaults
    to 0, the normal distribution, which is outside this class's range).

    Args:
        power: variance power, in the open interval (1, 2).
        from_logits: if False, ``y_pred`` is the mean ``mu`` (floored at
            ``keras.config.epsilon()``; use a softplus or exponential output).
            If True, ``y_pred`` is ``log(mu)`` (a linear output) and
            ``mu**k`` is computed as ``exp(k * y_pred)``, which needs no floor.
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("power", "from_logits")

    def __init__(
        self,
        power=1.5,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="tweedie_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.power = _check_open("power", power, 1.0, 2.0)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        if self.from_logits:
            log_mu = y_pred
        else:
            # A zero mean makes mu**(1 - p) infinite (1 - p < 0).
            log_mu = ops.log(ops.maximum(y_pred, keras.config.epsilon()))
        a, b = 1.0 - self.power, 2.0 - self.power
        loss = -y_true * ops.exp(a * log_mu) / a + ops.exp(b * log_mu) / b
        return ops.mean(loss, axis=-1)


# --------------------------------------------------------------------------
# Class imbalance: logit adjustment
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="advisor")
class BinaryLogitAdjustedCrossentropy(_AdvisorLoss):
    """Logit-adjusted binary cross-entropy for an imbalanced sigmoid output.

    With ``pi = positive_prior``::

        z' = z + tau * log(pi / (1 - pi))
        loss = mean(-(y * log(sigmoid(z')) + (1 - y) * log(1 - sigmoid(z'))), axis=-1)

    This is the logit-adjusted softmax cross-entropy of Menon, A. K. et al.
    (2021), "Long-tail learning via logit adjustment", ICLR, written for two
    classes with logits ``(0, z)``. Training on ``z'`` makes the raw ``z``
    estimate the balanced (prior-free) log-odds, so thresholding ``z`` at 0
    targets the balanced error. The default ``tau=1.0`` is the paper's
    Fisher-consistent choice.

    Args:
        positive_prior: training frequency of the positive class, in (0, 1).
        tau: adjustment strength, >= 0; 0 gives plain binary cross-entropy.
        from_logits: if True (the default, recommended), ``y_pred`` is the
            logit ``z``; if False it is a probability ``p`` and
            ``z = log(p) - log(1 - p)`` with ``p`` clipped to
            ``[epsilon, 1 - epsilon]``.
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("positive_prior", "tau", "from_logits")

    def __init__(
        self,
        positive_prior,
        tau=1.0,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="binary_logit_adjusted_crossentropy",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.positive_prior = _check_open("positive_prior", positive_prior, 0.0, 1.0)
        self.tau = _check_at_least("tau", tau, 0.0)
        self.from_logits = bool(from_logits)
        self._shift = self.tau * math.log(self.positive_prior / (1.0 - self.positive_prior))

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        z = y_pred if self.from_logits else _logit(y_pred)
        log_p, log_1mp = _binary_log_probs(z + self._shift, from_logits=True)
        return ops.mean(_binary_crossentropy(y_true, log_p, log_1mp), axis=-1)


@keras.saving.register_keras_serializable(package="advisor")
class LogitAdjustedCrossentropy(_AdvisorLoss):
    """Logit-adjusted categorical cross-entropy for imbalanced classes.

    With class priors ``pi`` (normalised to sum to 1)::

        z' = z + tau * log(pi)
        loss = -sum(y * log_softmax(z'), axis=-1)

    Menon, A. K., Jayasumana, S., Rawat, A. S., Jain, H., Veit, A. & Kumar,
    S. (2021), "Long-tail learning via logit adjustment", ICLR. Training on
    ``z'`` makes ``argmax(z)`` of the raw logits target the balanced error;
    the default ``tau=1.0`` is the paper's Fisher-consistent choice. With
    uniform priors it equals ``keras.losses.CategoricalCrossentropy``.

    ``y_true`` must be one-hot (or a probability vector) with ``K`` columns,
    ``K == len(priors)``; this is not checked at call time.

    Args:
        priors: the ``K`` class frequencies (or counts), all > 0. They are
            normalised to sum to 1 and stored normalised in the config.
        tau: adjustment strength, >= 0; 0 gives plain cross-entropy.
        from_logits: if True (the default, recommended), ``y_pred`` holds
            logits; if False it holds probabilities ``p`` and
            ``z = log(clip(p, epsilon, 1 - epsilon))``.
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("priors", "tau", "from_logits")

    def __init__(
        self,
        priors,
        tau=1.0,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="logit_adjusted_crossentropy",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.priors = _normalised_priors(priors)
        self.tau = _check_at_least("tau", tau, 0.0)
        self.from_logits = bool(from_logits)
        self._shift = [self.tau * math.log(p) for p in self.priors]

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred, align=False)
        z = y_pred if self.from_logits else ops.log(_clip_probabilities(y_pred))
        shift = ops.convert_to_tensor(self._shift, dtype=z.dtype)
        log_p = ops.log_softmax(z + shift, axis=-1)
        return -ops.sum(y_true * log_p, axis=-1)


# --------------------------------------------------------------------------
# Poly-1
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="advisor")
class BinaryPolyCrossentropy(_AdvisorLoss):
    """Poly-1 binary cross-entropy.

    With ``p`` the predicted probability and ``p_t = y * p + (1 - y) * (1 - p)``
    (element-wise, so soft labels in [0, 1] work)::

        loss = mean(BCE(y, p) + epsilon * (1 - p_t), axis=-1)

    Leng, Z., Tan, M., Liu, C., Cubuk, E. D., Shi, X., Cheng, S. & Anguelov,
    D. (2022), "PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions", ICLR. ``epsilon`` perturbs the first
    polynomial coefficient of cross-entropy; the default ``epsilon=1.0`` is
    the paper's Poly-1 setting. ``epsilon=0`` gives
    ``keras.losses.BinaryCrossentropy``.

    Args:
        epsilon: Poly-1 coefficient, >= -1 (below -1 the loss is no longer
            monotone in ``p_t``).
        from_logits: whether ``y_pred`` holds logits (else probabilities,
            clipped to ``[keras.config.epsilon(), 1 - keras.config.epsilon()]``).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("epsilon", "from_logits")

    def __init__(
        self,
        epsilon=1.0,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="binary_poly_crossentropy",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.epsilon = _check_at_least("epsilon", epsilon, -1.0)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        log_p, log_1mp = _binary_log_probs(y_pred, self.from_logits)
        # 1 - p_t written as a sum of the two probabilities, not 1 minus a
        # number near 1, so it keeps its precision when p_t -> 1.
        one_minus_pt = y_true * ops.exp(log_1mp) + (1.0 - y_true) * ops.exp(log_p)
        loss = _binary_crossentropy(y_true, log_p, log_1mp) + self.epsilon * one_minus_pt
        return ops.mean(loss, axis=-1)


@keras.saving.register_keras_serializable(package="advisor")
class CategoricalPolyCrossentropy(_AdvisorLoss):
    """Poly-1 categorical cross-entropy.

    With ``p = softmax(z)`` and ``p_t = sum(y * p, axis=-1)`` for one-hot ``y``::

        loss = -sum(y * log(p), axis=-1) + epsilon * (1 - p_t)

    Leng, Z. et al. (2022), "PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions", ICLR; the default ``epsilon=1.0`` is the
    paper's Poly-1 setting. ``epsilon=0`` gives
    ``keras.losses.CategoricalCrossentropy``.

    Args:
        epsilon: Poly-1 coefficient, >= -1.
        from_logits: whether ``y_pred`` holds logits. If False it holds
            probabilities, which are clipped to ``[epsilon, 1 - epsilon]``
            and renormalised (``p = softmax(log(clip(p)))``).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("epsilon", "from_logits")

    def __init__(
        self,
        epsilon=1.0,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="categorical_poly_crossentropy",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.epsilon = _check_at_least("epsilon", epsilon, -1.0)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred, align=False)
        log_p = _log_softmax_probs(y_pred, self.from_logits)
        cross_entropy = -ops.sum(y_true * log_p, axis=-1)
        p_t = ops.sum(y_true * ops.exp(log_p), axis=-1)
        return cross_entropy + self.epsilon * (1.0 - p_t)


# --------------------------------------------------------------------------
# Multilabel
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="advisor")
class AsymmetricLoss(_AdvisorLoss):
    """Asymmetric loss (ASL) for multilabel classification with sigmoid outputs.

    With ``p`` the predicted probability of each label and the shifted
    negative probability ``p_m = max(p - clip, 0)``::

        L = -[ y * (1 - p)**gamma_pos * log(p)
               + (1 - y) * p_m**gamma_neg * log(1 - p_m) ]
        loss = mean(L, axis=-1)

    Ridnik, T., Ben-Baruch, E., Zamir, N., Noy, A., Friedman, I., Protter, M.
    & Zelnik-Manor, L. (2021), "Asymmetric Loss For Multi-Label
    Classification", ICCV. The defaults ``gamma_neg=4, gamma_pos=0,
    clip=0.05`` are the paper's recommended setting: focus hard on the many
    easy negatives, leave positives as plain cross-entropy, and discard
    negatives predicted below ``clip`` (which also tolerates some missing
    positive labels). With both gammas and ``clip`` at 0 it equals
    ``keras.losses.BinaryCrossentropy``.

    Args:
        gamma_neg: focusing exponent for negatives, >= 0.
        gamma_pos: focusing exponent for positives, >= 0.
        clip: probability margin ``m`` for negatives, in [0, 1).
        from_logits: whether ``y_pred`` holds logits (else probabilities,
            clipped to ``[keras.config.epsilon(), 1 - keras.config.epsilon()]``
            before logs and focusing weights).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("gamma_neg", "gamma_pos", "clip", "from_logits")

    def __init__(
        self,
        gamma_neg=4.0,
        gamma_pos=0.0,
        clip=0.05,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="asymmetric_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.gamma_neg = _check_at_least("gamma_neg", gamma_neg, 0.0)
        self.gamma_pos = _check_at_least("gamma_pos", gamma_pos, 0.0)
        self.clip = _check_half_open("clip", clip, 0.0, 1.0)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        log_p, log_1mp = _binary_log_probs(y_pred, self.from_logits)
        # (1 - p)**gamma as exp(gamma * log(1 - p)): log(1 - p) is finite, so
        # gamma = 0 gives exactly 1 with a zero (not 0 * inf) gradient.
        positive = ops.exp(self.gamma_pos * log_1mp) * log_p
        if self.clip == 0.0:
            negative = ops.exp(self.gamma_neg * log_p) * log_1mp
        else:
            p_m = ops.maximum(ops.exp(log_p) - self.clip, 0.0)
            # 1 - p_m >= clip > 0 here, so the log needs no clipping; p_m is
            # exactly 0 for every easy negative, hence the floored power.
            negative = _floored_pow(p_m, self.gamma_neg) * ops.log(1.0 - p_m)
        loss = -(y_true * positive + (1.0 - y_true) * negative)
        return ops.mean(loss, axis=-1)


# --------------------------------------------------------------------------
# Label noise
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="advisor")
class SymmetricCrossentropy(_AdvisorLoss):
    """Symmetric cross-entropy for noisy labels (softmax outputs, one-hot y).

    With ``p = softmax(z)``::

        CE  = -sum(y * log(p), axis=-1)
        RCE = -sum(p * log(clip(y, 1e-4, 1)), axis=-1)
        loss = alpha * CE + beta * RCE

    Wang, Y., Ma, X., Chen, Z., Luo, Y., Yi, J. & Bailey, J. (2019),
    "Symmetric Cross Entropy for Robust Learning with Noisy Labels", ICCV.
    For one-hot ``y`` the reverse term is ``-log(1e-4) * (1 - p_t)``, a
    bounded, noise-tolerant term. The defaults ``alpha=0.1, beta=1.0`` are
    the paper's CIFAR-10 setting.

    Args:
        alpha: weight of cross-entropy, >= 0.
        beta: weight of reverse cross-entropy, >= 0.
        from_logits: whether ``y_pred`` holds logits. If False it holds
            probabilities, which are clipped to ``[epsilon, 1 - epsilon]``
            and renormalised (``p = softmax(log(clip(p)))``).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    _config_keys = ("alpha", "beta", "from_logits")

    def __init__(
        self,
        alpha=0.1,
        beta=1.0,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="symmetric_crossentropy",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.alpha = _check_at_least("alpha", alpha, 0.0)
        self.beta = _check_at_least("beta", beta, 0.0)
        if self.alpha == 0.0 and self.beta == 0.0:
            raise ValueError("alpha and beta must not both be 0, got alpha=0, beta=0")
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred, align=False)
        log_p = _log_softmax_probs(y_pred, self.from_logits)
        cross_entropy = -ops.sum(y_true * log_p, axis=-1)
        log_label = ops.log(ops.clip(y_true, _SCE_LABEL_FLOOR, 1.0))
        reverse = -ops.sum(ops.exp(log_p) * log_label, axis=-1)
        return self.alpha * cross_entropy + self.beta * reverse


class _GeneralizedCrossentropy(_AdvisorLoss):
    """Shared by the L_q losses: ``(1 - p_t**q) / q`` with the true-class probability ``p_t``
    floored at ``keras.config.epsilon()``, computed as ``-expm1(q * log(p_t)) / q`` so it stays
    accurate as ``q`` gets small. Subclasses say how ``p_t`` is read off the predictions."""

    _config_keys = ("q", "from_logits")

    def __init__(self, q, from_logits, reduction, name, dtype):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.q = _check_left_open("q", q, 0.0, 1.0)
        self.from_logits = bool(from_logits)

    def _true_class_probability(self, y_true, y_pred):
        raise NotImplementedError

    def call(self, y_true, y_pred):
        p_t = self._true_class_probability(y_true, y_pred)
        log_pt = ops.log(ops.maximum(p_t, keras.config.epsilon()))
        return -ops.expm1(self.q * log_pt) / self.q


@keras.saving.register_keras_serializable(package="advisor")
class BinaryGeneralizedCrossentropy(_GeneralizedCrossentropy):
    """Generalized cross-entropy (L_q) for a single sigmoid output.

    With ``p`` the predicted probability and ``p_t = y * p + (1 - y) * (1 - p)``
    (element-wise, so soft labels in [0, 1] work)::

        loss = mean((1 - p_t**q) / q, axis=-1)

    Zhang, Z. & Sabuncu, M. R. (2018), "Generalized Cross Entropy Loss for
    Training Deep Neural Networks with Noisy Labels", NeurIPS. ``q -> 0``
    recovers cross-entropy and ``q = 1`` is the noise-robust mean absolute
    error; the default ``q=0.7`` is the paper's recommended value.
    ``keras.losses.CategoricalGeneralizedCrossEntropy`` covers softmax
    outputs with integer labels only.

    ``p_t`` is floored at ``keras.config.epsilon()`` in both modes (as Keras
    clips probabilities), so the loss is at most ``(1 - epsilon**q) / q``.
    It is computed as ``-expm1(q * log(p_t)) / q``, which stays accurate as
    ``q`` gets small.

    Args:
        q: exponent, in (0, 1].
        from_logits: whether ``y_pred`` holds logits (else probabilities).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    def __init__(self, q=0.7, from_logits=False, reduction="sum_over_batch_size",
                 name="binary_generalized_crossentropy", dtype=None):
        super().__init__(q, from_logits, reduction, name, dtype)

    def _true_class_probability(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        log_p, log_1mp = _binary_log_probs(y_pred, self.from_logits)
        return y_true * ops.exp(log_p) + (1.0 - y_true) * ops.exp(log_1mp)

    def call(self, y_true, y_pred):
        return ops.mean(super().call(y_true, y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="advisor")
class CategoricalGeneralizedCrossentropy(_GeneralizedCrossentropy):
    """Generalized cross-entropy (L_q) for a softmax output and one-hot labels.

    With ``p_t = sum(y * softmax)`` the predicted probability of the true class::

        loss = (1 - p_t**q) / q

    Zhang & Sabuncu (2018); the paper recommends ``q=0.7``. Keras 3.15 ships
    ``CategoricalGeneralizedCrossEntropy``, but it takes integer labels only, has
    no ``from_logits``, is missing from ``keras.losses.get``, and its gradient
    ``-p_t**(q-1)`` is infinite when a row's true-class probability underflows
    to exactly 0 — which turns a whole network's weights to NaN mid-training.
    Here ``p_t`` is floored at ``keras.config.epsilon()`` and computed from
    ``log_softmax`` when ``from_logits=True``, so loss and gradient stay finite.

    Args:
        q: exponent, in (0, 1].
        from_logits: whether ``y_pred`` holds logits (else probabilities).
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    def __init__(self, q=0.7, from_logits=False, reduction="sum_over_batch_size",
                 name="categorical_generalized_crossentropy", dtype=None):
        super().__init__(q, from_logits, reduction, name, dtype)

    def _true_class_probability(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred, align=False)
        log_probs = _log_softmax_probs(y_pred, self.from_logits)
        return ops.sum(y_true * ops.exp(log_probs), axis=-1)
