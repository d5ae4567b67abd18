"""Plain-text renderings for the terminal: what ``--format text`` prints."""

from __future__ import annotations

from advisor.base.text import number, percent
from advisor.profiling.features import KINDS
from advisor.profiling.profiler import OUTLIER_Z, DatasetProfile

FEATURE_NAME_WIDTH = 28  # names pad to the longest up to this; longer ones are never cut


def format_profile(p: DatasetProfile) -> str:
    lines = [
        f"{p.source}: {p.n_rows_total:,} rows × {p.n_columns} columns "
        f"({p.source_format}, {number(p.memory_mb)} MB in memory)",
        f"Target '{p.target}': {p.task} (confidence {p.task_confidence:.2f}"
        + (f", alternative: {p.task_alternative}" if p.task_alternative else "")
        + (", set by --task" if p.task_source == "user" else "")
        + f") — {p.task_reason}",
    ]
    lines += _class_lines(p) if p.is_classification else _value_lines(p)
    kinds = [
        f"{getattr(p, f'n_{k}_features')} {k}"
        for k in KINDS
        if getattr(p, f"n_{k}_features")
    ]
    lines.append(f"Features: {p.n_features} ({', '.join(kinds) or 'none'}); missing cells "
                 f"{percent(p.missing_cell_fraction)}, rows with any missing "
                 f"{percent(p.rows_with_missing_fraction)}")
    worst = sorted(
        ((f, n) for n, f in zip(p.feature_names, p.feature_missing_fractions) if f > 0), reverse=True
    )[:5]
    if worst:
        lines.append("  most missing: " + ", ".join(f"{n} {percent(f)}" for f, n in worst))
    if p.high_cardinality_columns:
        lines.append("  high-cardinality: " + ", ".join(p.high_cardinality_columns))
    if p.identifier_columns:
        lines.append("  identifiers: " + ", ".join(p.identifier_columns))
    if p.feature_outlier_fraction is not None:
        lines.append(f"  feature outliers: {percent(p.feature_outlier_fraction)} of "
                     f"{p.feature_outlier_sample_rows:,} sampled rows (IsolationForest)")
    conflicts = ("" if p.conflicting_label_fraction is None
                 else f", conflicting labels {percent(p.conflicting_label_fraction)}")
    sampled = "" if p.sample_rows == p.n_rows else f" (of {p.sample_rows:,} sampled rows)"
    lines.append(f"  duplicate rows {percent(p.duplicate_row_fraction)}{conflicts}{sampled}")
    if p.warnings:
        lines.append("Warnings:")
        lines += [f"  - {w}" for w in p.warnings]
    return "\n".join(lines)


def _class_lines(p: DatasetProfile) -> list[str]:
    total = p.n_rows
    shown = list(zip(p.class_labels, p.class_counts))
    parts = [f"{label} {count:,} ({count / total:.1%})" for label, count in shown[:12]]
    more = f" · … {len(shown) - 12} more" if len(shown) > 12 else ""
    noun = "labels (positives per label)" if p.task == "multilabel" else "classes"
    lines = [f"  {noun}: " + " · ".join(parts) + more]
    if p.positive_class is not None:
        lines[-1] += f"  [positive class: {p.positive_class}]"
    extra = f" · entropy imbalance {number(p.entropy_imbalance)}" if p.entropy_imbalance is not None else ""
    if p.label_cardinality is not None:
        extra += f" · labels per row {number(p.label_cardinality)}"
    lines.append(f"  minority {percent(p.minority_fraction)} ({p.minority_class}) · imbalance "
                 f"ratio {number(p.imbalance_ratio)}{extra}")
    return lines


def _value_lines(p: DatasetProfile) -> list[str]:
    lines = [
        f"  mean {number(p.target_mean)} · std {number(p.target_std)} · median "
        f"{number(p.target_median)} · MAD {number(p.target_mad)} · range "
        f"[{number(p.target_min)}, {number(p.target_max)}]",
        f"  skewness {number(p.target_skewness)} · excess kurtosis "
        f"{number(p.target_excess_kurtosis)} · zeros {percent(p.target_zero_fraction)}"
        + (f" · dispersion (var/mean) {number(p.target_dispersion)}" if p.target_dispersion is not None else "")
        + (f" · spans {number(p.target_decades)} decades" if p.target_decades is not None else ""),
        f"  outliers {percent(p.target_outlier_fraction)} outside "
        f"[{number(p.target_outlier_low)}, {number(p.target_outlier_high)}] (modified z-score > {OUTLIER_Z:g})",
    ]
    return lines


def format_recommendation(rec) -> str:
    """The answer first, then why, the candidates, the trials, and warnings."""
    r = rec.recommendation
    v = rec.validation
    lines = [f"Recommended loss: {r.title}  [{r.id}]"]
    lines.append(f"  {r.verdict}")
    lines.append("")
    lines += ["  " + line for line in r.code.splitlines()]
    lines.append("")
    for note in r.notes:
        lines.append(f"  Note: {note}")
    lines.append(f"Metric: {v.metric_title} — {v.metric_reason}")
    lines.append("Why (rules that proposed it):")
    for firing in r.rules:
        lines.append(f"  - [{firing.criterion}] {firing.because}")
        lines.append("      " + "; ".join(e.text() for e in firing.evidence) + f"  ({firing.rule})")
    lines.append("Candidates:")
    results = {c.id: c for c in v.candidates}
    for i, c in enumerate(rec.candidates, 1):
        line = f"  {i}. {c.id:32s} score {number(c.score)}"
        res = results.get(c.id)
        if res is not None and res.mean is not None:
            interval = (f" [{number(res.ci_low, 4)}, {number(res.ci_high, 4)}]"
                        if res.ci_low is not None else "")
            line += f"  {v.metric}: {number(res.mean, 4)}{interval} ({res.n_trials} trials, {res.status})"
        elif res is not None:
            line += f"  ({res.status}{': ' + res.error if res.error else ''}"
            line += f", epoch {res.diverged_epoch})" if res.diverged_epoch else ")"
        lines.append(line)
        lines.append(f"       rules: {', '.join(f.rule for f in c.rules)}")
    if rec.excluded:
        lines.append("Excluded:")
        for e in rec.excluded:
            lines.append(f"  - {e.loss}: {e.reason}" + (f" ({e.rule})" if e.rule else ""))
    if v.plan is not None:
        p = v.plan
        n_trials = sum(len(live) for live in p.schedule) * p.folds
        lines.append(f"Trials: {n_trials} ({p.folds} folds × {len(p.schedule)} round(s) of seeds), "
                     f"up to {p.max_epochs} epochs, {p.rows:,} of {p.rows_total:,} rows, "
                     f"{v.seconds:.1f} s of a {v.budget_seconds:g} s budget")
        if p.broadened():
            lines.append(f"  once the change was decided, the budget left trialled: "
                         f"{', '.join(p.broadened())}")
        for cut in p.cuts:
            lines.append(f"  cut: {cut}")
    lines += format_features(*feature_uses(rec))
    if rec.warnings:
        lines.append("Warnings:")
        lines += [f"  - {w}" for w in rec.warnings]
    return "\n".join(lines)


def feature_uses(rec) -> tuple[tuple, bool]:
    """Every feature column with what the trials did with it, and whether that was read from the
    fitted preprocessing (True) or, without trials, from the profile's facts (False)."""
    from advisor.validation.prepare import describe_features_from_profile

    fitted = tuple(getattr(rec.validation, "features", None) or ())
    if fitted:
        return fitted, True
    return describe_features_from_profile(rec.profile), False


def format_features(uses, fitted: bool) -> list[str]:
    """The "Features:" block: one short line per column, every column."""
    if not uses:
        return ["Features: none"]
    if fitted:
        inputs = sum(u.inputs or 0 for u in uses)
        head = (f"Features ({len(uses)} columns → {inputs} model inputs, as the trials' "
                "preprocessing made them):")
    else:
        head = f"Features ({len(uses)} columns, as trials would use them):"
    width = min(max(len(u.name) for u in uses), FEATURE_NAME_WIDTH)
    kind_width = max(len(u.kind) for u in uses)
    counts = {u.name: "n/a" if u.distinct is None else number(u.distinct) for u in uses}
    count_width = max(len(c) for c in counts.values())
    show_counts = any(u.distinct is not None for u in uses)
    lines = [head]
    for u in uses:
        line = (f"  {u.name:<{width}}  {u.kind:<{kind_width}}  "
                f"{percent(u.missing_fraction):>6} missing")
        if show_counts:
            line += f"  {counts[u.name]:>{count_width}} distinct"
        lines.append(f"{line}  {u.summary}")
    return lines
