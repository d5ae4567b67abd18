"""Frozen record types that round-trip through plain JSON-able dicts.

Every type that crosses a stage boundary (profile, criteria, candidates, validation,
recommendation) is a frozen dataclass deriving from :class:`Record`, so reports, caches and the
JSON output all come from ``to_dict()`` and rebuild with ``from_dict()``. Tuples become lists in
JSON and tuples again on the way back; NaN becomes ``None`` (JSON has no NaN).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

R = TypeVar("R", bound="Record")


class Record:
    """Mixin for frozen dataclasses: ``to_dict``/``from_dict``/``to_json`` by field type hints."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        hints = _hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
        return cls(**{name: _restore(value, hints[name]) for name, value in data.items()})

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def replace(self: R, **changes: Any) -> R:
        return dataclasses.replace(self, **changes)


def plain(value: Any) -> Any:
    """``value`` as JSON-native Python: numpy scalars unwrapped, tuples as lists, NaN as None."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _restore(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _restore(value, options[0])
        return value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_restore(v, args[0]) for v in value)
        return tuple(value)
    if origin is dict:
        return {k: _restore(v, args[1]) if args else v for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value
