"""The package's shape: imports point down the stages, no cycles, no overlong functions."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "advisor"
MAX_FUNCTION_LINES = 60  # a function longer than a screen hides its steps; split it


def test_import_contracts_hold():
    """`.importlinter`: stages import downwards only, no sibling cycles, no TensorFlow below."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([command, "--no-cache"], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_contract_catches_an_upward_import(tmp_path):
    """The contract can fail: a profiling module importing the pipeline breaks it."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    copy = tmp_path / "tree"
    shutil.copytree(PACKAGE, copy / "advisor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PACKAGE.parent / ".importlinter", copy / ".importlinter")
    with open(copy / "advisor" / "profiling" / "features.py", "a") as handle:
        handle.write("\nimport advisor.pipeline  # noqa: E402,F401\n")
    done = subprocess.run([command, "--no-cache"], capture_output=True, text=True, cwd=copy,
                          env={"PYTHONPATH": str(copy), "PATH": str(Path(sys.executable).parent)},
                          timeout=300)
    assert done.returncode != 0
    assert "advisor.profiling.features -> advisor.pipeline" in done.stdout


def _own_lines(node: ast.AST) -> int:
    """A function's lines, less its docstring and the functions and classes defined inside it (a
    factory of route handlers is as long as its own steps; each handler is measured by itself)."""
    inner = sum(child.end_lineno - child.lineno + 1 for child in ast.walk(node)
                if child is not node
                and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and not any(child in ast.walk(other) for other in ast.walk(node)
                            if other is not node and other is not child
                            and isinstance(other, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.ClassDef))))
    body = node.body
    doc = body[0] if body and isinstance(body[0], ast.Expr) and \
        isinstance(getattr(body[0], "value", None), ast.Constant) and \
        isinstance(body[0].value.value, str) else None
    docstring = doc.end_lineno - doc.lineno + 1 if doc is not None else 0
    return node.end_lineno - node.lineno + 1 - inner - docstring


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = _own_lines(node)
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} "
                                f"({lines} lines)")
    assert not long, "split these: " + "; ".join(long)


def test_installed_versions_are_the_package_metadata():
    """The fast lookup (the wheel's .dist-info folder name) gives what importlib.metadata does."""
    from importlib import metadata

    from advisor.base.version import installed_version

    for package in ("numpy", "pandas", "pyarrow", "scikit-learn", "PyYAML", "loss-advisor"):
        assert installed_version(package) == metadata.version(package), package
    assert installed_version("no-such-package-here") is None
