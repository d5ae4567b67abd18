"""The three criteria beside the data: model architecture, computational constraints, domain.

``criteria_for(profile, options)`` checks the user's options against the data and derives what follows
from them — the metric that fits (docs/losses.md §7), whether probabilities must stay calibrated, the
cost ratio, the pinball τ. Together with the profile's fields these are the facts rules read.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.base.errors import UsageError
from advisor.base.records import Record
from advisor.base.suggest import choose
from advisor.criteria.metrics import METRICS, default_metric, metric_names
from advisor.criteria.options import Options
from advisor.profiling.profiler import DatasetProfile
from advisor.profiling.target import CLASSIFICATION_TASKS, VALUE_TASKS

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


def criteria_for(profile: DatasetProfile, options: Options | None = None, *,
                 known_domains: tuple[str, ...] = (), **fields) -> Criteria:
    """Validated criteria for this profile from ``options`` (or the :class:`Options` fields given
    as keywords); raises :class:`UsageError` naming the bad option."""
    options = (options or Options()).replace(**fields).checked()
    choose("--domain", options.domain,
           tuple(DOMAINS) + tuple(d for d in known_domains if d not in DOMAINS))
    task = profile.task
    if options.fn_cost is not None and task != "binary":
        raise UsageError(f"--fn-cost/--fp-cost apply to binary targets; this target is {task}.")
    if options.under_cost is not None and task not in VALUE_TASKS:
        raise UsageError(f"--under-cost/--over-cost apply to regression and count targets; this "
                         f"target is {task}.")
    tau = options.quantile_tau
    metric = options.metric
    if metric is not None:
        fitting = metric_names(task)
        choose("--metric", metric, METRICS)
        if metric not in fitting:
            raise UsageError(f"--metric {metric} does not apply to {task} targets; use one of "
                             f"{', '.join(fitting)}.")
        reason, source = "set by --metric", "user"
    else:
        metric, reason = default_metric(profile, fn_cost=options.fn_cost, fp_cost=options.fp_cost,
                                        quantile_tau=tau)
        source = "default"
    calibration = options.calibration
    if calibration is None:
        calibration = options.domain in CALIBRATED_DOMAINS and task in CLASSIFICATION_TASKS
    fn_cost, fp_cost = options.fn_cost, options.fp_cost
    return Criteria(
        model=options.model, output=options.output, budget_seconds=float(options.budget),
        memory_limit_mb=options.memory_limit_mb, jobs=options.jobs, domain=options.domain,
        fn_cost=fn_cost, fp_cost=fp_cost, under_cost=options.under_cost,
        over_cost=options.over_cost, calibration_needed=bool(calibration), metric=metric,
        metric_reason=reason, metric_source=source,
        cost_ratio=fn_cost / fp_cost if fn_cost is not None else None, quantile_tau=tau,
    )
