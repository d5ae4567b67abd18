"""Shared fixtures: the command line through click's runner, and small tables written to disk."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"


@contextlib.contextmanager
def benchmark_module(name: str, cache_dir: Path):
    """A script of ``benchmarks/`` imported as a module, with the advisor's cache in
    ``cache_dir`` (a script makes a folder of its own when none is set). The setting,
    ``sys.path`` and ``sys.modules`` lose what the import added: the script and its sibling
    scripts are no modules of the test run."""
    folder = ROOT / "benchmarks"
    before = os.environ.get("ADVISOR_CACHE_DIR")
    path = list(sys.path)
    os.environ["ADVISOR_CACHE_DIR"] = str(cache_dir)
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = path
        for key, loaded in list(sys.modules.items()):
            if Path(getattr(loaded, "__file__", None) or "/").parent == folder:
                del sys.modules[key]
        if before is None:
            os.environ.pop("ADVISOR_CACHE_DIR", None)
        else:
            os.environ["ADVISOR_CACHE_DIR"] = before


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
