"""The user's side of the four selection criteria: model, budget, domain and costs, and the
metric a trial is scored on. Imports no TensorFlow."""

from advisor.criteria.metrics import METRICS, default_metric, metric_names
from advisor.criteria.options import MODELS, OUTPUTS, Options
from advisor.criteria.statement import DOMAINS, Criteria, criteria_for

__all__ = ["DOMAINS", "METRICS", "MODELS", "OUTPUTS", "Criteria", "Options", "criteria_for", "default_metric",
           "metric_names"]
