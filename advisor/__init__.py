"""Loss Advisor: which loss should this Keras model train with? Profile, match rules, validate.

The public API. Importing this package imports no TensorFlow: only building a Keras loss or
running validation trials does.

    import advisor
    prof = advisor.profile("data.csv", target="y")
    rec = advisor.recommend("data.csv", target="y", domain="medical", budget=60)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

from advisor.errors import AdvisorError, UsageError
from advisor.loading import load_table
from advisor.profiler import DatasetProfile, profile

_LAZY = {
    # name: module that defines it; imported on first use so `import advisor` stays light.
    "Criteria": "advisor.criteria",
    "RuleBook": "advisor.rules",
    "Candidate": "advisor.rules",
    "register_loss": "advisor.catalog",
    "Recommendation": "advisor.recommendation",
    "recommend": "advisor.recommendation",
    "validate": "advisor.validator",
    "Validation": "advisor.validator",
}

__all__ = ["AdvisorError", "UsageError", "DatasetProfile", "load_table", "profile", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from advisor.catalog import register_loss
    from advisor.criteria import Criteria
    from advisor.recommendation import Recommendation, recommend
    from advisor.rules import Candidate, RuleBook
    from advisor.validator import Validation, validate


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")
