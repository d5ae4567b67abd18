"""A benchmark's printout: each line printed as it comes and kept, then saved whole under
``benchmarks/results/``."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LINES: list[str] = []


def say(text: str = "") -> None:
    """Print a line of the printout and keep it for :func:`save`."""
    print(text, flush=True)
    LINES.append(text)


def save(name: str) -> None:
    """Write the printout so far to ``benchmarks/results/<name>``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text("\n".join(LINES) + "\n")
