"""The metrics trials are scored on, and the choice of one that fits the task and domain.

Trials are never scored on the loss they trained with: a loss is judged by what the user cares
about (docs/losses.md §7). Each metric says which tasks it fits, whether greater is better, and
whether it needs a decision threshold (tuned on the inner validation split, never on the fold
being scored). Scoring functions import scikit-learn lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from advisor.profiling.profiler import DatasetProfile
from advisor.profiling.target import VALUE_TASKS

# An imbalanced binary target: accuracy and ROC AUC flatter models that ignore the minority.
IMBALANCED_MINORITY_FRACTION = 0.2
# An imbalanced multiclass target (largest / smallest class): accuracy then follows the big classes.
IMBALANCED_RATIO = 3.0
# A regression target with this share of outliers (modified z-score > 3.5), or excess kurtosis
# above this (tails far heavier than Gaussian), is scored on MAE, which they cannot dominate
# (docs/losses.md §7).
HEAVY_TAIL_OUTLIER_FRACTION = 0.01
HEAVY_TAIL_EXCESS_KURTOSIS = 3.0
# A positive target spanning this many decades (1st to 99th percentile) is scored on relative error.
RMSLE_MIN_DECADES = 2.0
# Probabilities are clipped this far from 0 and 1 before log loss (scikit-learn's former eps).
PROBABILITY_CLIP = 1e-15
# Predicted Poisson rates are floored here: the deviance needs a positive mean.
POISSON_MIN_RATE = 1e-9
MEDIAN_TAU = 0.5  # pinball loss without stated costs: the median, over- and under-shoot alike
EQUAL_COST = 1.0  # a missing error cost: every error costs the same


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    threshold: bool  # needs a decision threshold (binary, multilabel)
    probabilities: bool  # needs calibrated-scale probabilities, not margins
    score: Callable[..., float]


def _sk(name: str):
    from sklearn import metrics

    return getattr(metrics, name)


def _expected_cost(y, pred, fn_cost=EQUAL_COST, fp_cost=EQUAL_COST, **_):
    fn = np.sum((y == 1) & (pred == 0))
    fp = np.sum((y == 0) & (pred == 1))
    return float((fn * fn_cost + fp * fp_cost) / len(y))


def _pinball(y, pred, tau=MEDIAN_TAU, **_):
    return float(_sk("mean_pinball_loss")(y, pred, alpha=tau))


def _rmsle(y, pred, **_):
    # RMSE of log1p values, negative predictions read as 0. Not scikit-learn's own RMSLE: its
    # releases 1.4 and 1.5 (which this package allows) refuse negative targets above -1 too.
    return float(_sk("root_mean_squared_error")(np.log1p(y), np.log1p(np.maximum(pred, 0.0))))


def _poisson_deviance(y, pred, **_):
    return float(_sk("mean_poisson_deviance")(y, np.maximum(pred, POISSON_MIN_RATE)))


def _macro_ap(y, scores, **_):
    # Labels with both values in the fold only: AP is undefined without a positive, and 1 by
    # construction without a negative. None of either: NaN, nothing was measured.
    positives = y.sum(axis=0)
    keep = np.flatnonzero((positives > 0) & (positives < len(y)))
    if not len(keep):
        return float("nan")
    return float(_sk("average_precision_score")(y[:, keep], scores[:, keep], average="macro"))


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("average_precision", "average precision (PR AUC)", ("binary",), True, False, False,
           lambda y, s, **_: float(_sk("average_precision_score")(y, s))),
    Metric("roc_auc", "ROC AUC", ("binary",), True, False, False,
           lambda y, s, **_: float(_sk("roc_auc_score")(y, s))),
    Metric("log_loss", "log loss", ("binary", "multiclass"), False, False, True,
           lambda y, p, **_: float(_sk("log_loss")(y, np.clip(p, PROBABILITY_CLIP,
                                                             1 - PROBABILITY_CLIP),
                                                   labels=list(range(p.shape[1])) if p.ndim == 2 else None))),
    Metric("brier", "Brier score", ("binary",), False, False, True,
           lambda y, p, **_: float(_sk("brier_score_loss")(y, np.clip(p, 0, 1)))),
    Metric("balanced_accuracy", "balanced accuracy", ("binary", "multiclass"), True, True, False,
           lambda y, pred, **_: float(_sk("balanced_accuracy_score")(y, pred))),
    Metric("f1", "F1 of the positive class", ("binary",), True, True, False,
           lambda y, pred, **_: float(_sk("f1_score")(y, pred, zero_division=0))),
    Metric("expected_cost", "expected cost per row", ("binary",), False, True, False, _expected_cost),
    Metric("accuracy", "accuracy", ("binary", "multiclass"), True, True, False,
           lambda y, pred, **_: float(_sk("accuracy_score")(y, pred))),
    Metric("macro_f1", "macro-averaged F1", ("multiclass",), True, True, False,
           lambda y, pred, **_: float(_sk("f1_score")(y, pred, average="macro", zero_division=0))),
    Metric("macro_average_precision", "macro-averaged average precision", ("multilabel",), True,
           False, False, _macro_ap),
    Metric("micro_f1", "micro-averaged F1", ("multilabel",), True, True, False,
           lambda y, pred, **_: float(_sk("f1_score")(y, pred, average="micro", zero_division=0))),
    Metric("rmse", "root mean squared error", VALUE_TASKS, False, False, False,
           lambda y, pred, **_: float(_sk("root_mean_squared_error")(y, pred))),
    Metric("mae", "mean absolute error", VALUE_TASKS, False, False, False,
           lambda y, pred, **_: float(_sk("mean_absolute_error")(y, pred))),
    Metric("rmsle", "root mean squared log error", VALUE_TASKS, False, False, False, _rmsle),
    Metric("mape", "mean absolute percentage error", ("regression",), False, False, False,
           lambda y, pred, **_: float(_sk("mean_absolute_percentage_error")(y, pred))),
    Metric("pinball", "pinball loss at τ", VALUE_TASKS, False, False, False, _pinball),
    Metric("poisson_deviance", "mean Poisson deviance", ("count", "regression"), False, False, False,
           _poisson_deviance),
    Metric("r2", "R²", VALUE_TASKS, True, False, False,
           lambda y, pred, **_: float(_sk("r2_score")(y, pred))),
)}


def metric_names(task: str | None = None) -> list[str]:
    return [m.name for m in METRICS.values() if task is None or task in m.tasks]


def default_metric(p: DatasetProfile, *, fn_cost: float | None = None, fp_cost: float | None = None,
                   quantile_tau: float | None = None) -> tuple[str, str]:
    """The metric that fits this target and domain, and why (docs/losses.md §7)."""
    if p.task == "binary":
        if fn_cost and fp_cost:
            return "expected_cost", (f"error costs were given (C_FN = {fn_cost:g}, C_FP = {fp_cost:g}): "
                                     "expected cost at the cost-optimal threshold")
        if p.minority_fraction < IMBALANCED_MINORITY_FRACTION:
            return "average_precision", (f"imbalanced binary target (minority {p.minority_fraction:.1%}): "
                                         "accuracy is meaningless, PR AUC reads the minority")
        return "roc_auc", "balanced binary target: ROC AUC ranks both classes"
    if p.task == "multiclass":
        if p.imbalance_ratio >= IMBALANCED_RATIO:
            return "macro_f1", (f"imbalanced multiclass target (imbalance ratio {p.imbalance_ratio:.3g}): "
                                "macro F1 weighs every class equally")
        return "accuracy", "balanced multiclass target: accuracy"
    if p.task == "multilabel":
        return "macro_average_precision", "multilabel target: average precision per label, averaged"
    if quantile_tau is not None:
        return "pinball", (f"over- and under-prediction costs were given: pinball loss at "
                           f"τ = {quantile_tau:.3g}")
    if p.task == "count":
        return "poisson_deviance", "count target: Poisson deviance scores predicted rates"
    if ((p.target_outlier_fraction or 0) >= HEAVY_TAIL_OUTLIER_FRACTION
            or (p.target_excess_kurtosis or 0) > HEAVY_TAIL_EXCESS_KURTOSIS):
        return "mae", (f"regression target with outliers or heavy tails (outliers "
                       f"{(p.target_outlier_fraction or 0):.1%}, excess kurtosis "
                       f"{(p.target_excess_kurtosis or 0):.3g}): MAE is not dominated by them")
    if p.target_non_negative and (p.target_decades or 0) >= RMSLE_MIN_DECADES:
        return "rmsle", (f"positive target spanning {p.target_decades:.2g} decades: RMSLE scores "
                         "relative error")
    return "rmse", "regression target without heavy tails: RMSE"


def metric_context(metric: str, criteria: Any) -> dict[str, Any]:
    """Keyword arguments a metric needs from the criteria (costs, τ)."""
    if metric == "expected_cost":
        return {"fn_cost": criteria.fn_cost or EQUAL_COST,
                "fp_cost": criteria.fp_cost or EQUAL_COST}
    if metric == "pinball":
        return {"tau": criteria.quantile_tau if criteria.quantile_tau is not None else MEDIAN_TAU}
    return {}
