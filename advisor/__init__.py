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

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.version import __version__
from advisor.profiling import DatasetProfile, load_table, profile

_LAZY = {
    # name: module that defines it; imported on first use so `import advisor` stays light.
    "Criteria": "advisor.criteria",
    "Options": "advisor.criteria",
    "RuleBook": "advisor.rules",
    "Candidate": "advisor.rules",
    "Client": "advisor.service.client",
    "register_loss": "advisor.losses.catalog",
    "Recommendation": "advisor.pipeline",
    "recommend": "advisor.pipeline",
    "load_result": "advisor.pipeline",
    "validate": "advisor.validation.validator",
    "Validation": "advisor.validation.validator",
}

__all__ = ["AdvisorError", "UsageError", "DatasetProfile", "__version__", "load_table", "profile",
           *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from advisor.criteria import Criteria, Options
    from advisor.losses.catalog import register_loss
    from advisor.pipeline import Recommendation, load_result, recommend
    from advisor.rules import Candidate, RuleBook
    from advisor.service.client import Client
    from advisor.validation.validator import Validation, validate


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")
