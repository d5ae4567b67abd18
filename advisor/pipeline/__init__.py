"""The pipeline: ``recommend`` runs the stages in order; a saved result or plan is read back here.

Importing it imports no TensorFlow; running validation does.
"""

from advisor.pipeline.recommendation import Recommendation, load_result, recommend
from advisor.pipeline.results import load_plan

__all__ = ["Recommendation", "load_plan", "load_result", "recommend"]
