"""The three criteria beside the data: model architecture, computational constraints, domain.

``criteria_for(profile, ...)`` checks the user's options against the data and derives what follows
from them — the metric that fits (docs/losses.md §7), whether probabilities must stay calibrated, the
cost ratio, the pinball τ. Together with the profile's fields these are the facts rules read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from advisor.errors import UsageError
from advisor.metrics import METRICS, default_metric, metric_names
from advisor.profiler import DatasetProfile
from advisor.records import Record

MODELS = ("mlp", "linear", "cnn", "rnn", "transformer")
OUTPUTS = ("logits", "probabilities")
DOMAINS = {
    "generic": "no domain knowledge",
    "medical": "diagnosis and risk: missed cases are costly, probabilities are read as risks",
    "fraud": "fraud and abuse: rare positives, alerts cost review time",
    "finance": "credit and finance: probabilities feed pricing and capital",
    "insurance": "claims and losses: exact zeros, skewed amounts, priced probabilities",
    "forecasting": "demand and load: over- and under-forecasting cost differently",
    "marketing": "response and churn: ranking matters more than calibration",
    "manufacturing": "defects and failures: rare events, sensors with outliers",
}
# Domains where predicted probabilities are used as risks, so they must stay calibrated.
CALIBRATED_DOMAINS = ("medical", "finance", "insurance")


@dataclass(frozen=True)
class Criteria(Record):
    """Architecture, constraints and domain, with what the advisor derived from them."""

    # Model architecture.
    model: str = "mlp"
    output: str | None = None  # logits | probabilities | None (each loss's stable default)
    # Computational constraints.
    budget_seconds: float = 60.0
    memory_limit_mb: float | None = None
    jobs: int = 1
    # Problem domain.
    domain: str = "generic"
    fn_cost: float | None = None
    fp_cost: float | None = None
    under_cost: float | None = None
    over_cost: float | None = None
    calibration_needed: bool = False
    metric: str | None = None
    metric_reason: str | None = None
    metric_source: str = "default"  # default | user
    # Derived.
    cost_ratio: float | None = None  # C_FN / C_FP
    quantile_tau: float | None = None  # C_under / (C_under + C_over)


def criteria_for(profile: DatasetProfile, *, model: str = "mlp", output: str | None = None,
                 budget_seconds: float = 60.0, memory_limit_mb: float | None = None,
                 jobs: int = 1,
                 domain: str = "generic", fn_cost: float | None = None,
                 fp_cost: float | None = None, under_cost: float | None = None,
                 over_cost: float | None = None, calibration: bool | None = None,
                 metric: str | None = None, known_domains: tuple[str, ...] = ()) -> Criteria:
    """Validated criteria for this profile; raises :class:`UsageError` naming the bad option."""
    _choose("--model", model, MODELS)
    if output is not None:
        _choose("--output", output, OUTPUTS)
    _choose("--domain", domain, tuple(DOMAINS) + tuple(d for d in known_domains if d not in DOMAINS))
    if budget_seconds <= 0:
        raise UsageError(f"--budget must be a positive number of seconds, got {budget_seconds:g}.")
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}.")
    task = profile.task
    if (fn_cost is None) != (fp_cost is None):
        raise UsageError("Pass both --fn-cost and --fp-cost (the cost of a missed positive and of "
                         "a false alarm), or neither.")
    if fn_cost is not None:
        if task != "binary":
            raise UsageError(f"--fn-cost/--fp-cost apply to binary targets; this target is {task}.")
        _positive("--fn-cost", fn_cost)
        _positive("--fp-cost", fp_cost)
    if (under_cost is None) != (over_cost is None):
        raise UsageError("Pass both --under-cost and --over-cost (the cost of predicting too low "
                         "and too high), or neither.")
    tau = None
    if under_cost is not None:
        if task not in ("regression", "count"):
            raise UsageError(f"--under-cost/--over-cost apply to regression and count targets; this "
                             f"target is {task}.")
        _positive("--under-cost", under_cost)
        _positive("--over-cost", over_cost)
        tau = under_cost / (under_cost + over_cost)
    if metric is not None:
        fitting = metric_names(task)
        if metric not in METRICS:
            _choose("--metric", metric, tuple(METRICS))
        if metric not in fitting:
            raise UsageError(f"--metric {metric} does not apply to {task} targets; use one of "
                             f"{', '.join(fitting)}.")
        reason, source = "set by --metric", "user"
    else:
        metric, reason = default_metric(profile, fn_cost=fn_cost, fp_cost=fp_cost, quantile_tau=tau)
        source = "default"
    if calibration is None:
        calibration = domain in CALIBRATED_DOMAINS and task in ("binary", "multiclass", "multilabel")
    return Criteria(
        model=model, output=output, budget_seconds=float(budget_seconds),
        memory_limit_mb=memory_limit_mb,
        jobs=jobs, domain=domain, fn_cost=fn_cost, fp_cost=fp_cost, under_cost=under_cost,
        over_cost=over_cost, calibration_needed=bool(calibration), metric=metric,
        metric_reason=reason, metric_source=source,
        cost_ratio=fn_cost / fp_cost if fn_cost is not None else None, quantile_tau=tau,
    )


def _choose(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value in allowed:
        return
    close = difflib.get_close_matches(value, allowed, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UsageError(f"Unknown {option} '{value}'.{hint} Expected one of: {', '.join(allowed)}.")


def _positive(option: str, value: float) -> None:
    if not value > 0:
        raise UsageError(f"{option} must be a positive number, got {value:g}.")
