"""Stage 1, the profiler: reads a table and states facts about its target and features.

Imports no TensorFlow.
"""

from advisor.profiling.loading import load_table
from advisor.profiling.profiler import DatasetProfile, profile, profile_frame

__all__ = ["DatasetProfile", "load_table", "profile", "profile_frame"]
