"""The package version: the one place it is written (pyproject.toml reads it from here)."""

from functools import cache

__version__ = "0.1.0"


@cache
def installed_version(package: str) -> str | None:
    """An installed distribution's version, or None when it is not installed. Read once per
    process: the package metadata lookup scans site-packages (about a millisecond a call)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
