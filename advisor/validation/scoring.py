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
    spec = METRICS[metric]
    if task == "multiclass":
        decisions = test_scores.argmax(axis=1) if spec.threshold else test_scores
        return spec.score(y_test, decisions, **context)
    if task == "binary" and spec.threshold:
        threshold = tune_threshold(spec, y_val, val_scores, context)
        return spec.score(y_test, (test_scores >= threshold).astype(int), **context)
    if task == "multilabel" and spec.threshold:
        thresholds = [tune_threshold(spec, y_val[:, j], val_scores[:, j], context)
                      for j in range(y_val.shape[1])]
        return spec.score(y_test, (test_scores >= np.asarray(thresholds)).astype(int), **context)
    return spec.score(y_test, test_scores, **context)


def tune_threshold(spec, y: np.ndarray, scores: np.ndarray, context: dict[str, Any]) -> float:
    """The validation-set threshold that optimises the metric (ties: the middle of the best run)."""
    candidates = np.unique(np.quantile(scores, np.linspace(0, 1, MAX_THRESHOLDS)))
    if len(candidates) == 0:
        return 0.5
    values = np.array([spec.score(y, (scores >= t).astype(int), **context) for t in candidates])
    oriented = values if spec.greater_is_better else -values
    best = np.flatnonzero(oriented == oriented.max())
    return float(candidates[best[len(best) // 2]])
