"""The one "did you mean" of the project: an unknown name, the close match, the allowed ones."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from advisor.base.errors import UsageError


def did_you_mean(value: object, allowed: Iterable[object], inline: bool = False,
                 shown: str = "{}") -> str:
    """`` Did you mean 'x'?`` for the closest of ``allowed`` (`` — did you mean 'x'?`` when
    ``inline``, inside a longer message), or ``""`` when none is close. ``shown`` formats the
    match, e.g. as a path."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    if not close:
        return ""
    return (" — did you mean '{}'?" if inline else " Did you mean '{}'?").format(
        shown.format(close[0]))


def choose(option: str, value: str, allowed: Iterable[str],
           error: type[Exception] = UsageError) -> str:
    """``value`` if it is one of ``allowed``; else ``error`` naming ``option`` and the choices."""
    allowed = tuple(allowed)
    if value in allowed:
        return value
    raise error(f"Unknown {option} '{value}'.{did_you_mean(value, allowed)} Expected one of: "
                f"{', '.join(allowed)}.")
