"""Reports from real recommendations: HTML, Markdown and JSON, written atomically and safely.

Three recommendations are built once for the module — a validated binary run, a validated
regression run (both small budgets, marked slow) and a ``--no-validate`` count run — and every
format is checked on what a reader relies on: the section order, the paste-ready code, pictures
that are real PNGs (inline in HTML, beside the file in Markdown), nothing fetched from a network,
escaping of hostile column names and labels, atomic writes, and a page a browser draws.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advisor.base.errors import AdvisorError, UsageError
from advisor.pipeline.recommendation import Recommendation, load_result, recommend
from advisor.reporting.report import SECTIONS, check_report_path, render, write_report

from .conftest import SAMPLE_DATA

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTION_IDS = [key for key, _ in SECTIONS]
CHROMIUM = Path("/usr/bin/chromium")
XSS = "<script>alert(1)</script>"


# --- the recommendations, built once ------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("trial_cache")


@pytest.fixture(scope="module")
def binary_rec(cache_dir) -> Recommendation:
    return recommend(SAMPLE_DATA / "diagnosis.csv", "diagnosis", domain="medical", budget=15,
                     cache=cache_dir, command="advisor recommend diagnosis.csv --budget 15")


@pytest.fixture(scope="module")
def regression_rec(cache_dir) -> Recommendation:
    return recommend(SAMPLE_DATA / "house_prices.csv", "price_k", budget=10, cache=cache_dir)


@pytest.fixture(scope="module")
def skipped_rec() -> Recommendation:
    return recommend(SAMPLE_DATA / "claims.csv", "n_claims", domain="insurance", validate=False)


@pytest.fixture(scope="module")
def hostile_table(tmp_path_factory) -> Path:
    """Column names and class labels that are HTML, Markdown and mathtext all at once."""
    rng = np.random.default_rng(0)
    n = 300
    signal = rng.normal(size=n)
    with_gaps = rng.normal(size=n)
    with_gaps[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame({
        "<img src=x onerror=alert(2)>": signal,
        "<script>alert(3)</script>": with_gaps,
        "row | `id`": [f"<i>row {i}</i>" for i in range(n)],  # unique: an identifier column
        XSS: np.where(signal + rng.normal(scale=0.8, size=n) > 0.9, "<b>yes</b>",
                      "<b>no</b> $\\frac$ | x"),
    })
    path = tmp_path_factory.mktemp("hostile") / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def hostile_rec(hostile_table) -> Recommendation:
    return recommend(hostile_table, XSS, validate=False)


ALL_RECS = [pytest.param("binary_rec", marks=pytest.mark.slow),
            pytest.param("regression_rec", marks=pytest.mark.slow),
            "skipped_rec"]


@pytest.fixture(params=ALL_RECS)
def rec(request) -> Recommendation:
    return request.getfixturevalue(request.param)


# --- reading the HTML back ----------------------------------------------------------------------


class Page(HTMLParser):
    """What a test needs from the page: section order, attributes, tags, the code block."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.images: list[str] = []
        self.meta: list[dict] = []
        self.code = ""
        self._in_code = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "meta":
            self.meta.append(attrs)
        if tag == "pre" and attrs.get("id") == "code":
            self._in_code = True
        for name in ("src", "href", "action", "poster", "data"):
            if name in attrs:
                self.urls.append((tag, name, attrs[name] or ""))

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.code += data


def _png_ok(data: bytes) -> None:
    import matplotlib.image

    assert data.startswith(PNG_SIGNATURE), data[:16]
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert pixels.shape[0] > 50 and pixels.shape[1] > 50, pixels.shape


def _pictures_expected(rec: Recommendation) -> set[str]:
    p = rec.profile
    names = {"class_balance"} if p.is_classification else {"target_distribution"}
    if any(f > 0 for f in p.feature_missing_fractions):
        names.add("missing_values")
    if rec.validation.status != "skipped":
        names |= {"metric_intervals", "learning_curves"}
    return names


# --- HTML ----------------------------------------------------------------------------------------


def test_html_sections_come_in_the_terminal_order(rec):
    page = Page(render(rec, "html"))
    assert page.sections == SECTION_IDS, page.sections


def test_html_code_block_is_the_recommended_code(rec):
    page = Page(render(rec, "html"))
    assert page.code == rec.recommendation.code, (page.code, rec.recommendation.code)


def test_html_verdict_and_answer_come_first(rec):
    html = render(rec, "html")
    answer = html[html.index('<section id="answer">'):html.index('<section id="profile">')]
    assert rec.recommendation.title in answer
    if rec.validation.status == "skipped":
        assert rec.recommendation.verdict.startswith("Not validated")
    assert _escaped(rec.recommendation.verdict) in answer


def test_html_pictures_are_inline_pngs(rec):
    page = Page(render(rec, "html"))
    ids = re.findall(r'<figure id="fig-([a-z_]+)">', render(rec, "html"))
    assert set(ids) == _pictures_expected(rec), ids
    assert len(page.images) == len(ids)
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:60]
        _png_ok(base64.b64decode(src.split(",", 1)[1], validate=True))


def test_html_fetches_nothing_and_runs_nothing(rec):
    html = render(rec, "html")
    page = Page(html)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    for tag, attribute, value in page.urls:
        assert value.startswith(("data:image/png;base64,", "#")), (tag, attribute, value[:80])
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html
    policy = [m["content"] for m in page.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert policy and "default-src 'none'" in policy[0], page.meta


def test_skipped_validation_says_so_instead_of_plots(skipped_rec):
    html = render(skipped_rec, "html")
    validation = html[html.index('<section id="validation">'):html.index('<section id="warnings">')]
    assert "Validation was skipped" in validation and "--no-validate" in validation
    assert "<img" not in validation and "<table" not in validation


@pytest.mark.slow
def test_validation_shows_plan_cuts_and_every_candidate(binary_rec):
    html = render(binary_rec, "html")
    validation = html[html.index('<section id="validation">'):html.index('<section id="warnings">')]
    for result in binary_rec.validation.candidates:
        assert f">{result.id}<" in validation and f">{result.status}<" in validation
    for cut in binary_rec.validation.plan.cuts:
        assert _escaped(cut) in validation
    assert 'id="fig-metric_intervals"' in validation and 'id="fig-learning_curves"' in validation


@pytest.mark.slow
def test_diverged_and_failed_candidates_are_listed(binary_rec, tmp_path):
    """The binary run with its first candidate diverged (NaN loss) and its second failed."""
    v = binary_rec.validation
    first, second = v.candidates[:2]
    diverged = first.replace(status="diverged", diverged=True, diverged_epoch=3, mean=None,
                             ci_low=None, ci_high=None, curves=((0.5, 0.4, None), (0.6, None)))
    failed = second.replace(status="failed", error="ValueError: <b>shapes</b> differ", mean=None,
                            ci_low=None, ci_high=None, curves=())
    rec = binary_rec.replace(validation=v.replace(candidates=(diverged, failed) + v.candidates[2:]))
    html = render(rec, "html")
    assert f"<code>{first.id}</code>: diverged at epoch 3" in html
    assert f"<code>{second.id}</code>: failed: ValueError: &lt;b&gt;shapes&lt;/b&gt; differ" in html
    assert 'id="fig-learning_curves"' in html
    for src in Page(html).images:
        _png_ok(base64.b64decode(src.split(",", 1)[1]))
    markdown = write_report(rec, tmp_path / "r.md").read_text(encoding="utf-8")
    assert "### Diverged or failed" in markdown and "diverged at epoch 3" in markdown


def test_candidates_show_rules_evidence_and_exclusions(rec):
    html = render(rec, "html")
    section = html[html.index('<section id="candidates">'):html.index('<section id="validation">')]
    for candidate in rec.candidates:
        for firing in candidate.rules:
            assert firing.rule in section
            assert _escaped(firing.because) in section
            for evidence in firing.evidence:
                assert _escaped(evidence.text()) in section
    for exclusion in rec.excluded:
        assert _escaped(exclusion.reason) in section


def test_reproducibility_lists_seed_rules_files_and_input(rec):
    html = render(rec, "html")
    section = html[html.index('<section id="reproducibility">'):]
    assert rec.input.sha256 in section
    for entry in rec.reproducibility["rules_files"]:
        assert entry["path"] in section and entry["sha256"] in section
    for package, version in rec.reproducibility["versions"].items():
        assert package in section and (version is None or version in section)


# --- Markdown ------------------------------------------------------------------------------------


def test_markdown_has_the_sections_and_pictures_beside_it(rec, tmp_path):
    path = write_report(rec, tmp_path / "report.md")
    text = path.read_text(encoding="utf-8")
    headings = re.findall(r"^## \d+\. (.+)$", text, re.M)
    assert headings == [name for _, name in SECTIONS], headings
    assert f"```python\n{rec.recommendation.code}\n```" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert {Path(link).stem for link in links} == _pictures_expected(rec), links
    for link in links:
        assert link.startswith("report_files/"), link
        _png_ok((tmp_path / link).read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report_files"]


def test_markdown_on_stdout_leaves_pictures_out(skipped_rec):
    text = render(skipped_rec, "md")
    assert "![" not in text and "--report report.md" in text


def test_markdown_tables_keep_their_columns(hostile_rec):
    """A pipe in a name or label must not split a table row into more cells."""
    text = render(hostile_rec, "md")
    table = None
    for line in text.splitlines():
        if line.startswith("|---") or line.startswith("|--:"):
            table = line.count("|")
        elif line.startswith("| ") and table is not None:
            assert len(re.findall(r"(?<!\\)\|", line)) == table, line
        elif not line.startswith("|"):
            table = None


# --- JSON and re-rendering -----------------------------------------------------------------------


def test_json_round_trips(rec, tmp_path):
    assert Recommendation.from_dict(json.loads(render(rec, "json"))) == rec
    path = write_report(rec, tmp_path / "result.json")
    assert path.read_text(encoding="utf-8") == rec.to_json() + "\n"
    assert load_result(path) == rec


def test_report_command_reproduces_the_direct_rendering(rec, tmp_path, cli):
    result_file = write_report(rec, tmp_path / "result.json")
    out = tmp_path / "again.html"
    run = cli("report", result_file, "--out", out)
    assert run.exit_code == 0, run
    assert out.read_text(encoding="utf-8") == render(rec, "html") + "\n"
    run = cli("report", result_file, "--out", tmp_path / "again.md")
    assert run.exit_code == 0, run
    direct = write_report(rec, tmp_path / "direct.md").read_text(encoding="utf-8")
    again = (tmp_path / "again.md").read_text(encoding="utf-8")
    assert again == direct.replace("direct_files/", "again_files/")
    for picture in (tmp_path / "direct_files").iterdir():
        assert (tmp_path / "again_files" / picture.name).read_bytes() == picture.read_bytes()


def test_recommend_report_json_is_the_stdout_document(cli, tmp_path):
    report = tmp_path / "r.json"
    run = cli("recommend", SAMPLE_DATA / "claims.csv", "--target", "n_claims", "--no-validate",
              "--format", "json", "--report", report)
    assert run.exit_code == 0, run
    assert report.read_text(encoding="utf-8") == run.stdout


def test_pictures_are_deterministic(skipped_rec):
    first, second = render(skipped_rec, "html"), render(skipped_rec, "html")
    assert first == second
    assert b"Software" not in base64.b64decode(Page(first).images[0].split(",", 1)[1])


# --- safety --------------------------------------------------------------------------------------


def test_hostile_names_and_labels_are_escaped(hostile_rec, tmp_path):
    html = render(hostile_rec, "html")
    for raw in (XSS, "<script>alert(3)</script>", "<img src=x", "<b>yes</b>", "<i>row"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;yes&lt;/b&gt;" in html
    assert "script" not in Page(html).tags
    assert Page(html).code == hostile_rec.recommendation.code  # still exact once unescaped
    markdown = write_report(hostile_rec, tmp_path / "hostile.md").read_text(encoding="utf-8")
    outside_code = re.sub(r"(`{3,})[^\n]*\n.*?\n\1", "", markdown, flags=re.S)
    outside_code = re.sub(r"(`+).*?\1", "", outside_code)
    outside_code = outside_code.replace("<br>", "")
    assert not re.search(r"(?<!\\)<", outside_code), re.findall(r".{20}(?<!\\)<.{20}", outside_code)


# --- writing files -------------------------------------------------------------------------------


def _broken(rec: Recommendation) -> Recommendation:
    """A recommendation whose class counts break the class chart half-way through rendering."""
    counts = ("many",) + tuple(rec.profile.class_counts[1:])
    return rec.replace(profile=rec.profile.replace(class_counts=counts))


@pytest.mark.parametrize("name", ["report.html", "report.md"])
def test_failed_render_leaves_the_old_report_and_no_temporary_files(hostile_rec, tmp_path, name):
    path = write_report(hostile_rec, tmp_path / name)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(Exception):
        write_report(_broken(hostile_rec), path)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (tmp_path / name, tmp_path / "report_files") if p.exists())


def test_failed_first_render_leaves_nothing(hostile_rec, tmp_path):
    for name in ("report.html", "report.md"):
        with pytest.raises(Exception):
            write_report(_broken(hostile_rec), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


CHECKED_PATHS = [
    # (path relative to tmp_path, error, words the message must hold)
    ("report.txt", UsageError, ["report.txt", ".html, .htm, .md or .json"]),
    ("report", UsageError, ["no suffix"]),
    ("missing/report.html", AdvisorError, ["missing/report.html", "does not exist", "mkdir -p"]),
    ("a_file/report.html", AdvisorError, ["a_file/report.html", "is a file, not a directory"]),
    ("a_dir.html", AdvisorError, ["a_dir.html", "is a directory"]),
]


def test_report_paths_are_checked(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir.html").mkdir()
    for relative, error, words in CHECKED_PATHS:
        with pytest.raises(error) as caught:
            check_report_path(tmp_path / relative)
        message = str(caught.value)
        assert "\n" not in message and all(w in message for w in words), (relative, message)
    for good in ("r.html", "r.HTM", "r.md", "r.json"):
        assert check_report_path(tmp_path / good) == tmp_path / good


@pytest.mark.parametrize("report, code", [("/nonexistent_dir/x.html", 1), ("x.pdf", 2)])
def test_bad_report_path_fails_before_any_trial(tmp_path, report, code):
    # In a fresh process: the failure comes before TensorFlow is imported, and nothing (no trial,
    # no pilot, no rules) reaches the cache.
    script = ("import sys\n"
              "from advisor.cli import main\n"
              "try:\n"
              "    main(sys.argv[1:])\n"
              "except SystemExit as exit:\n"
              "    loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
              "    assert not loaded, f'imported before the path check failed: {loaded}'\n"
              "    raise\n")
    cache = tmp_path / "cache"
    command = [sys.executable, "-c", script, "recommend", str(SAMPLE_DATA / "diagnosis.csv"),
               "--target", "diagnosis", "--budget", "600", "--report", report]
    run = subprocess.run(command, capture_output=True, text=True, check=False,
                         env={**os.environ, "ADVISOR_CACHE_DIR": str(cache)})
    assert run.returncode == code, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and report in lines[0], run.stderr
    assert not cache.exists() or list(cache.rglob("*")) == []


def test_target_histogram_comes_from_the_profile_not_the_input_file(tmp_path, monkeypatch):
    from advisor.profiling import loading
    from advisor.reporting import plots

    table = shutil.copy(SAMPLE_DATA / "claims.csv", tmp_path / "claims.csv")
    rec = recommend(table, "n_claims", domain="insurance", validate=False, cache=False)
    p = rec.profile
    assert sum(p.target_histogram_counts) == p.n_rows
    os.remove(table)  # the report never reads the input again: gone, or changed, it is the same

    def no_reading(*args, **kwargs):
        raise AssertionError("the report read the input file")

    monkeypatch.setattr(loading, "load_table", no_reading)
    drawn = []
    original = plots.target_distribution
    monkeypatch.setattr(plots, "target_distribution",
                        lambda *args, **kwargs: drawn.append(args) or original(*args, **kwargs))
    html = render(rec, "html")
    assert drawn[0][:2] == (p.target_histogram_edges, p.target_histogram_counts)
    assert f"Histogram of the target over {p.n_rows:,} rows" in html
    assert 'id="fig-target_distribution"' in html


def test_load_result_errors_are_one_line(tmp_path, cli):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"name": "not an advisor result"}')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00bad")
    cases = [("absent.json", "does not exist"), ("broken.json", "not valid JSON (line 1"),
             ("other.json", "not an advisor result"), ("list.json", "not an advisor result"),
             ("binary.json", "not UTF-8")]
    for name, words in cases:
        with pytest.raises(AdvisorError, match=re.escape(words)) as caught:
            load_result(tmp_path / name)
        assert name in str(caught.value) and "\n" not in str(caught.value)
        run = cli("report", tmp_path / name, "--out", tmp_path / "x.html")
        assert run.exit_code == 1 and run.stderr.startswith("Error: ") and words in run.stderr, run
    assert not (tmp_path / "x.html").exists()


def test_importing_report_imports_neither_tensorflow_nor_matplotlib():
    code = ("import sys, advisor.reporting.report; "
            "bad = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]; "
            "assert not bad, bad")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# --- a real browser ------------------------------------------------------------------------------


def screenshot(html_path: Path, png_path: Path, profile_dir: Path, size: str = "1280,2000") -> None:
    """The documented command (docs/README.md) that draws the page with headless Chromium."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile_dir}", f"--screenshot={png_path}",
               f"--window-size={size}", html_path.resolve().as_uri()]
    subprocess.run(command, capture_output=True, timeout=90, check=True)


@pytest.mark.slow
def test_a_browser_draws_the_page(binary_rec, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    import matplotlib.image

    html = write_report(binary_rec, tmp_path / "report.html")
    png = tmp_path / "shot.png"
    screenshot(html, png, tmp_path / "chromium-profile")
    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[:2] == (2000, 1280), pixels.shape
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert pixels.std() > 0.05 and len(colours) > 200, (pixels.std(), len(colours))
    # The first screen holds the answer: the accent-coloured card must be drawn.
    top = (pixels[:700] * 255).astype(int)
    card = (np.abs(top - [0xfd, 0xf1, 0xea]) <= 2).all(axis=-1).mean()
    assert card > 0.05, card


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
