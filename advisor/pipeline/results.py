"""Saved results read back: the JSON document of a ``--format json`` result, and the trial plan
inside one (to replay its trials exactly). ``load_result`` builds the whole
:class:`~advisor.pipeline.recommendation.Recommendation` from the same reader."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from advisor.base.errors import AdvisorError, UsageError
from advisor.validation.budget import Plan

RESULT_KEYS = ("advisor_version", "input", "profile", "criteria", "candidates", "validation",
               "recommendation")
SAVE_HOW = "save one with: advisor recommend DATA --target COLUMN --format json > result.json"


def read_json(path: str | os.PathLike, what: str, how: str,
              error: type[AdvisorError] = AdvisorError) -> Any:
    """The JSON document in ``path``; any failure is one ``error`` naming ``what`` and ``how``."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist; {how}.") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory; pass the JSON file.") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text; expected the JSON that "
                    f"advisor recommend --format json prints ({how}).") from None
    except OSError as exc:
        raise error(f"Cannot read {what.lower()} {path}: {exc.strerror or exc}.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON (line {exc.lineno}, column "
                    f"{exc.colno}: {exc.msg}); {how}.") from None


def load_plan(plan: Plan | str | os.PathLike) -> Plan:
    """The plan saved in a result's JSON (``reproducibility.plan``), to replay its trials."""
    if isinstance(plan, Plan):
        return plan
    how = "pass the JSON a validated run wrote (--format json or --report FILE.json)"
    data = read_json(plan, "Plan file", how, UsageError)
    saved = data.get("reproducibility", {}).get("plan") if isinstance(data, dict) else None
    if not saved:
        raise UsageError(f"{plan} holds no plan (reproducibility.plan): it is not the result of a "
                         "validated run. Pass the JSON of a run without --no-validate.")
    try:
        return Plan.from_dict(saved)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"The plan in {plan} does not fit this version of the advisor ({exc}); "
                         "re-run the original command to make a new one.") from None
