"""Files the advisor writes and hashes: whole or not at all, and only where the run's cache allows."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

import advisor
from advisor.base import files
from advisor.base.files import sha256_file, write_atomic
from advisor.rules import engine
from advisor.rules.engine import RuleBook

from .conftest import SAMPLE_DATA


def _everything(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_write_atomic_replaces_the_file_with_a_plain_files_mode(tmp_path):
    path = tmp_path / "out.json"
    path.write_bytes(b"old")
    assert write_atomic(path, b"new") == path
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.json"]
    mask = files.umask()
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch, step):
    path = tmp_path / "report.html"
    path.write_bytes(b"the previous report")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, step, fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"x" * 100_000)
    assert _everything(tmp_path) == {"report.html": b"the previous report"}


def test_an_interrupted_first_write_leaves_nothing(tmp_path, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "new.md", b"text")
    assert list(tmp_path.iterdir()) == []


def test_sha256_file_reads_in_chunks_without_python_3_11(tmp_path, monkeypatch):
    # hashlib.file_digest is new in Python 3.11; the package supports 3.10.
    monkeypatch.delattr(hashlib, "file_digest", raising=False)
    data = os.urandom(files.CHUNK_BYTES * 2 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "empty.bin").write_bytes(b"")
    assert sha256_file(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "empty.bin") == hashlib.sha256(b"").hexdigest()
    rec = advisor.recommend(SAMPLE_DATA / "claims.csv", "n_claims", validate=False, cache=False)
    assert rec.input.sha256 == hashlib.sha256((SAMPLE_DATA / "claims.csv").read_bytes()).hexdigest()


def test_no_module_needs_python_3_11_to_hash():
    root = Path(advisor.__file__).parent
    users = [str(p.relative_to(root)) for p in root.rglob("*.py") if "file_digest(" in p.read_text()]
    assert users == []


# --- the rules' cache follows the run's --------------------------------------------------------


@pytest.fixture
def cold_rules(monkeypatch):
    """No validated rules in memory: loading them reads (and may write) the disk cache."""
    monkeypatch.setattr(engine, "_VALIDATED", {})


def test_rules_cache_is_written_where_the_run_caches(tmp_path, cold_rules):
    book = RuleBook.load(cache=tmp_path)
    written = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*.pickle"))
    assert written == ["rules"] and book.rules
    assert [p.name for p in (tmp_path / "rules").iterdir() if p.name.startswith(".")] == []


def test_no_cache_writes_nothing_under_the_cache_dir(tmp_path, monkeypatch, cold_rules):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path))
    book = RuleBook.load(cache=False)
    assert book.rules and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(engine, "_VALIDATED", {})
    rec = advisor.recommend(SAMPLE_DATA / "claims.csv", "n_claims", validate=False, cache=False)
    assert rec.recommendation.loss and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(engine, "_VALIDATED", {})
    advisor.recommend(SAMPLE_DATA / "claims.csv", "n_claims", validate=False)  # cache on: used
    assert [p.name for p in tmp_path.iterdir()] == ["rules"]
