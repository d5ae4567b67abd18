"""The profile's warnings: what a reader should know about the data before trusting an answer.

One home for both profilers (in memory and streaming), so the same data gets the same words.
"""

from __future__ import annotations

from collections.abc import Sequence

MOSTLY_MISSING = 0.5  # a feature missing in more than half its rows carries little signal
LABEL_NOISE_SIGN = 0.01  # 1 % of sampled rows duplicating features under another label
FEW_ROWS = 100  # below this, fold scores vary more than losses differ
SHOWN_CLASSES = 10  # small classes named in a warning


def data_warnings(*, target: str, target_given: bool, cleaning: Sequence[str], call,
                  class_labels: Sequence | None, class_counts: Sequence[int] | None,
                  min_class_rows: int, feature_names: Sequence[str],
                  missing_fractions: Sequence[float], identifier_columns: Sequence[str],
                  conflicting_label_fraction: float | None, n_rows: int) -> list[str]:
    """Warnings in reading order: the target, the task call, small classes, features, size."""
    out: list[str] = []
    if not target_given:
        out.append(f"No target given: profiled '{target}'. Pass --target to choose.")
    out.extend(cleaning)
    if call.ambiguous:
        out.append(
            f"Task call is ambiguous: {call.task} (confidence {call.confidence:.2f}), could be "
            f"{call.alternative}: {call.reason} Pass --task to decide.")
    small = [f"{label!r} ({count} rows)"
             for label, count in zip(class_labels or (), class_counts or ())
             if count < min_class_rows]
    if small:
        out.append(
            f"Classes too small to validate on (< {min_class_rows} rows): "
            f"{', '.join(small[:SHOWN_CLASSES])}. Folds will hold very few of them; merge rare "
            "classes or collect more rows.")
    for name, fraction in zip(feature_names, missing_fractions):
        if fraction > MOSTLY_MISSING:
            out.append(f"Feature '{name}' is {fraction:.0%} missing.")
    if conflicting_label_fraction and conflicting_label_fraction > LABEL_NOISE_SIGN:
        out.append(
            f"{conflicting_label_fraction:.1%} of sampled rows share identical features with "
            "a row of another label: a sign of label noise.")
    if identifier_columns:
        out.append(
            f"Columns that look like row identifiers (every value distinct): "
            f"{', '.join(identifier_columns)}; trials leave them out.")
    if n_rows < FEW_ROWS:
        out.append(f"Only {n_rows} rows with a target: validation trials will be noisy.")
    return out
