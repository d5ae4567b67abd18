"""Stage 2, the rules engine: declarative YAML rules over the four criteria, matched against the
profile's facts. Imports no TensorFlow."""

from advisor.rules.engine import (
                                  Candidate,
                                  Exclusion,
                                  Matching,
                                  RuleBook,
                                  RulesError,
                                  default_rules_folder,
                                  facts_of,
)

__all__ = ["Candidate", "Exclusion", "Matching", "RuleBook", "RulesError", "default_rules_folder",
           "facts_of"]
