"""Shared fixtures: the command line through click's runner, and small tables written to disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"


class CliResult:
    def __init__(self, result):
        self.exit_code = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.exception = result.exception

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@pytest.fixture
def cli():
    """``cli("profile", path, "--target", "y")`` runs the ``advisor`` command in-process."""
    from advisor.cli import main

    def run(*args: str) -> CliResult:
        return CliResult(CliRunner().invoke(main, [str(a) for a in args]))

    return run


@pytest.fixture
def write(tmp_path):
    """``write("name.csv", "a,b\\n1,2\\n")`` (text or bytes) and get its path."""

    def make(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:
            path.write_bytes(content)
        return path

    return make
