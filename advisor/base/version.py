"""The package version: the one place it is written (pyproject.toml reads it from here)."""

import os
import re
import sys
from functools import cache

__version__ = "0.1.0"


@cache
def installed_version(package: str) -> str | None:
    """An installed distribution's version, or None when it is not installed; read once per
    process. An installed wheel's metadata folder is named ``{name}-{version}.dist-info`` (the
    name normalised), so one listing of each ``sys.path`` folder answers without importing
    ``importlib.metadata`` (about 15 ms for a command's first lookup); other installs (eggs,
    editable checkouts) are asked of ``importlib.metadata``."""
    prefix = re.sub(r"[-_.]+", "_", package).lower() + "-"
    for folder in sys.path:
        for name in _listing(folder or "."):
            if name.endswith(".dist-info") and name.lower().startswith(prefix):
                version = name[len(prefix):-len(".dist-info")]
                if version and "-" not in version:
                    return version
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@cache
def _listing(folder: str) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(folder))
    except OSError:  # not a folder (a zip on sys.path), or gone
        return ()
