"""Scoring a trial's held-out predictions on the chosen metric.

Metrics that need a decision (F1, balanced accuracy, expected cost, accuracy on binary and
multilabel targets) use a threshold tuned on the inner validation split — never on the fold
being scored. Multiclass decisions are the argmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.criteria.metrics import METRICS

MAX_THRESHOLDS = 200


def score_predictions(metric: str, task: str, y_val: np.ndarray, val_scores: np.ndarray,
                      y_test: np.ndarray, test_scores: np.ndarray, context: dict[str, Any]) -> float:
    inputs = metric_inputs(metric, task, y_val, val_scores, test_scores, context)
    return METRICS[metric].score(y_test, inputs, **context)


def metric_inputs(metric: str, task: str, y_val: np.ndarray, val_scores: np.ndarray,
                  test_scores: np.ndarray, context: dict[str, Any]) -> np.ndarray:
    """What the metric reads of the held-out rows: the decisions where it needs them (a threshold
    tuned on the validation rows, or the argmax), else the predictions themselves."""
    spec = METRICS[metric]
    if task == "multiclass":
        return test_scores.argmax(axis=1) if spec.threshold else test_scores
    if task == "binary" and spec.threshold:
        threshold = tune_threshold(spec, y_val, val_scores, context)
        return (test_scores >= threshold).astype(int)
    if task == "multilabel" and spec.threshold:
        thresholds = [tune_threshold(spec, y_val[:, j], val_scores[:, j], context)
                      for j in range(y_val.shape[1])]
        return (test_scores >= np.asarray(thresholds)).astype(int)
    return test_scores


def tune_threshold(spec, y: np.ndarray, scores: np.ndarray, context: dict[str, Any]) -> float:
    """The validation-set threshold that optimises the metric (ties: the middle of the best run)."""
    candidates = np.unique(np.quantile(scores, np.linspace(0, 1, MAX_THRESHOLDS)))
    if len(candidates) == 0:
        return 0.5
    values = np.array([spec.score(y, (scores >= t).astype(int), **context) for t in candidates])
    oriented = values if spec.greater_is_better else -values
    best = np.flatnonzero(oriented == oriented.max())
    return float(candidates[best[len(best) // 2]])
