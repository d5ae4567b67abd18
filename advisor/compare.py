"""Paired comparisons of candidates over folds × seeds, with honest intervals.

Scores from k-fold cross-validation are not independent (training sets overlap), so the plain
t-interval is too narrow. We use the corrected resampled t-test of Nadeau & Bengio (2003), as
extended to repeated k-fold by Bouckaert & Frank (2004): the variance of a mean over n trials is
``(1/n + n_test/n_train) · s²`` with n − 1 degrees of freedom.

"Not different" is not "the same": with three noisy trials nearly everything is not different.
A simpler loss replaces the rules' pick only when the two are shown *equivalent* — the interval
of their difference inside ±2% of the score (Schuirmann's two one-sided tests, 1987).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
MIN_TRIALS = 3
# Two losses are equivalent when their difference is shown to lie within 2% of the score
# (the whole 95% interval inside ± the margin, as in a two one-sided tests procedure).
EQUIVALENCE_SHARE = 0.02
EQUIVALENCE_FLOOR = 1e-3


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int


def corrected_interval(values, test_train_ratio: float, level: float = LEVEL) -> Interval:
    """Mean and corrected ``level`` interval of trial scores (or paired differences)."""
    values = np.asarray(values, dtype="float64")
    n = len(values)
    if n == 0:
        return Interval(math.nan, None, None, 0)
    mean = float(values.mean())
    if n < 2:
        return Interval(mean, None, None, n)
    from scipy import stats

    variance = float(values.var(ddof=1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * math.sqrt((1 / n + test_train_ratio) * variance)
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(a: dict, b: dict, test_train_ratio: float, greater_is_better: bool) -> Interval:
    """Interval of (a − b) oriented so that positive means ``a`` is better, over shared trials."""
    shared = sorted(set(a) & set(b))
    sign = 1.0 if greater_is_better else -1.0
    return corrected_interval([sign * (a[k] - b[k]) for k in shared], test_train_ratio)


def equivalence_margin(scores) -> float:
    """± this much is "the same" for a metric at these scores: 2% of their size."""
    values = np.asarray(scores, dtype="float64")
    size = float(np.abs(values).mean()) if len(values) else 0.0
    return max(EQUIVALENCE_SHARE * size, EQUIVALENCE_FLOOR)


def equivalent(diff: Interval, margin: float) -> bool:
    """Shown equivalent, not merely not different: the interval lies inside ± ``margin``."""
    return (diff.n >= MIN_TRIALS and diff.low is not None
            and -margin <= diff.low and diff.high <= margin)


def better_beyond_noise(diff: Interval) -> bool:
    return diff.n >= MIN_TRIALS and diff.low is not None and diff.low > 0


def worse_beyond_noise(diff: Interval) -> bool:
    return diff.n >= MIN_TRIALS and diff.high is not None and diff.high < 0
