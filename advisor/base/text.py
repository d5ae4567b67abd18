"""The one home of how numbers and values read in text: terminal, reports, verdicts, rules."""

from __future__ import annotations

SIGNIFICANT_DIGITS = 3  # enough to compare scores by eye; more is float noise


def number(x, digits: int = SIGNIFICANT_DIGITS) -> str:
    """A compact, human number: 3 significant digits, thousands separated, no float noise."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return f"{x:,}"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    if abs(x) < 10 ** -(digits + 1):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def percent(x) -> str:
    """A share as a percentage: one decimal, two below 0.1 %."""
    if x is None:
        return "n/a"
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.2%}"


def signed(x: float | None) -> str:
    """A difference with its sign, 3 significant digits."""
    return "n/a" if x is None else f"{x:+.{SIGNIFICANT_DIGITS}g}"


def show(value) -> str:
    """A fact's value as rules and requirements print it: 3 significant digits, lists bracketed."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{SIGNIFICANT_DIGITS}g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if value is None:
        return "n/a"
    return str(value)


def display(value) -> str:
    """A table cell: numbers as :func:`number`, anything else as text."""
    if value is None or isinstance(value, (bool, int, float)):
        return number(value)
    return str(value)
