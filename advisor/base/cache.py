"""Where the advisor keeps results between runs: finished trials, pilots, Keras semantics.

``cache=True`` means ``$ADVISOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/loss-advisor``, else
``~/.cache/loss-advisor``; a path means that folder; ``False`` turns caching off.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(cache: bool | str | os.PathLike | None = True) -> Path | None:
    if cache is False or cache is None:
        return None
    if cache is not True:
        return Path(cache)
    if os.environ.get("ADVISOR_CACHE_DIR"):
        return Path(os.environ["ADVISOR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "loss-advisor"


def memory(cache: bool | str | os.PathLike | None):
    """A ``joblib.Memory`` under the cache root, or None when caching is off."""
    root = cache_root(cache)
    if root is None:
        return None
    import joblib

    return joblib.Memory(str(root / "joblib"), verbose=0)
