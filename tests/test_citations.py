"""The project stands alone: what its code, rules and documents cite is a paper or a file in it."""

from __future__ import annotations

import re

from tests.conftest import ROOT

# Every file a reader or a user is pointed at: code, templates, rules, documents (not the tests).
SOURCES = sorted(
    path for pattern in ("advisor/**/*.py", "advisor/**/*.j2", "rules/*.yaml", "**/*.md",
                         "benchmarks/*.py", "sample_data/*.py", "pyproject.toml", ".importlinter")
    for path in ROOT.glob(pattern)
    if not {".venv", ".git", "tests", "node_modules"} & set(path.relative_to(ROOT).parts)
    and "egg-info" not in str(path))
# A Markdown file named with its folder ("docs/losses.md", "../benchmarks/README.md") or with a
# section ("losses.md §4"): a citation. A bare name ("report.md") is an example file name.
CITATION = re.compile(r"(?<![\w/.-])((?:\.\./)*(?:[\w-]+/)+[\w.-]+\.md|[\w.-]+\.md(?=\s*§))"
                      r"(?:\s*§\s*(\d+))?")


def _citations():
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for match in CITATION.finditer(text):
            yield source, match.group(1), match.group(2)


def _missing(source, name: str, section: str | None) -> str | None:
    """Why ``source``'s citation of ``name`` (§ ``section``) points outside the repository, or
    None when the file (and its section) is in it."""
    candidates = [(ROOT / name).resolve(), (source.parent / name).resolve()]
    found = next((c for c in candidates if c.is_file() and ROOT in c.parents), None)
    if found is None:
        return f"{source.relative_to(ROOT)} cites {name}"
    if section and not re.search(rf"^#+ {section}\.", found.read_text(encoding="utf-8"),
                                 re.MULTILINE):
        return f"{source.relative_to(ROOT)} cites {name} §{section}, no such section"
    return None


def test_the_scan_sees_the_projects_own_citations():
    cited = {(str(s.relative_to(ROOT)), name) for s, name, _ in _citations()}
    assert ("advisor/criteria/metrics.py", "docs/losses.md") in cited
    assert ("docs/losses.md", "../benchmarks/README.md") in cited


def test_every_cited_file_and_section_is_in_the_repository():
    missing = [why for source, name, section in _citations()
               if (why := _missing(source, name, section))]
    assert missing == []


def test_a_citation_of_a_file_or_section_outside_the_repository_is_found():
    readme = ROOT / "README.md"
    for text in ("as notes.md §5 says", "see ../../elsewhere/notes.md", "docs/losses.md §99"):
        (match,) = CITATION.finditer(text)
        assert _missing(readme, match.group(1), match.group(2)) is not None, text
    (match,) = CITATION.finditer("docs/losses.md §2")
    assert _missing(readme, match.group(1), match.group(2)) is None
