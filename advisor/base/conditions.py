"""Testing an observed fact against an expected value: the operators of rules and requirements.

A fact that is ``None`` (it does not apply to this data) fails every test and never raises;
ordered comparisons hold only between numbers.
"""

from __future__ import annotations

from typing import Any

OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in",
       "not_in": "not in"}
ORDERED_OPS = ("lt", "le", "gt", "ge")


def holds(observed: Any, op: str, expected: Any) -> bool:
    if observed is None:
        return False
    if op == "eq":
        return observed == expected
    if op == "ne":
        return observed != expected
    if op == "in":
        return observed in expected
    if op == "not_in":
        return observed not in expected
    if isinstance(observed, bool) or not isinstance(observed, (int, float)):
        return False
    return {"lt": observed < expected, "le": observed <= expected,
            "gt": observed > expected, "ge": observed >= expected}[op]
