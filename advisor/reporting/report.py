"""Reports of one recommendation: a self-contained HTML page, GitHub Markdown, or the JSON document.

``render(rec, "html" | "md" | "json")`` returns the text; ``write_report(rec, path)`` picks the
format by suffix and replaces the file atomically (Markdown's pictures go to ``<stem>_files/``
beside it). A saved ``--format json`` result read back by
:func:`advisor.pipeline.load_result` re-renders without re-running anything.

Both templates (``advisor/reporting/templates/``) walk the same view, built here, in the order of the
terminal output: the answer, the data profile, the features (what the trials did with each
column), the criteria, the candidates and their rules, the validation, warnings,
reproducibility. Every string from the data or the user is escaped — by Jinja2's autoescape in
HTML, and in Markdown by escaping every ``{{ }}`` output unless a filter below built it — and
the HTML page forbids scripts and network fetches in its
Content-Security-Policy, so a column named ``<script>`` is text, never code. Pictures are drawn
from the recommendation alone (the target's histogram is the profile's): the input file is never
read again. Importing this module imports neither TensorFlow nor matplotlib; rendering imports
matplotlib.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.files import umask, write_atomic
from advisor.base.text import display, number, percent, signed
from advisor.criteria.statement import DOMAINS
from advisor.losses.code import python_literal
from advisor.profiling.features import KINDS
from advisor.profiling.profiler import OUTLIER_Z
from advisor.reporting.textout import feature_uses

if TYPE_CHECKING:  # pragma: no cover
    from advisor.pipeline.recommendation import Recommendation

SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}
SECTIONS = (("answer", "Recommended loss"), ("profile", "Data profile"),
            ("features", "Features"), ("criteria", "Criteria"),
            ("candidates", "Candidates and the rules behind them"),
            ("validation", "Validation"), ("warnings", "Warnings"),
            ("reproducibility", "Reproducibility"))


# --- the public verbs ---------------------------------------------------------------------------


def check_report_path(path: str | os.PathLike) -> Path:
    """``path`` as a writable report path, checked before any trial runs."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in SUFFIXES:
        got = f"'{target.suffix}'" if target.suffix else "no suffix"
        raise UsageError(f"Report path {path} has {got}; it must end in .html, .htm, .md or "
                         ".json, e.g. report.html.")
    if target.is_dir():
        raise AdvisorError(f"Report path {path} is a directory; pass a file name inside it, "
                           f"e.g. {target / ('report' + target.suffix)}.")
    parent = target.parent
    if not parent.exists():
        raise AdvisorError(f"Cannot write report {path}: directory {parent} does not exist. "
                           f"Create it (mkdir -p {parent}) or choose another path.")
    if not parent.is_dir():
        raise AdvisorError(f"Cannot write report {path}: {parent} is a file, not a directory. "
                           "Choose another path.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AdvisorError(f"Cannot write report {path}: directory {parent} is not writable. "
                           "Choose a directory you can write to.")
    return target


def render(rec: Recommendation, fmt: str) -> str:
    """The report as text: ``"html"`` (one self-contained page), ``"md"`` (GitHub Markdown,
    without pictures: :func:`write_report` writes those beside the file) or ``"json"``
    (exactly the ``--format json`` document)."""
    if fmt == "json":
        return rec.to_json()
    if fmt == "html":
        pictures = {p.name: {"src": p.data_uri(), "alt": p.alt, "caption": p.caption}
                    for p in _pictures(rec)}
        return _template("report.html.j2").render(_view(rec, pictures, css=_css()))
    if fmt in ("md", "markdown"):
        return _markdown(rec, None)
    raise UsageError(f"Unknown report format '{fmt}'; expected html, md or json.")


def write_report(rec: Recommendation, path: str | os.PathLike) -> Path:
    """Render ``rec`` by the suffix of ``path`` and replace the file atomically.

    The text is rendered in memory first, then written to a temporary file in the same
    directory and moved into place, so a failure leaves the previous file (or none) and no
    partial one. Markdown's pictures go to ``<stem>_files/`` beside it, swapped in the same way.
    """
    target = check_report_path(path)
    fmt = SUFFIXES[target.suffix.lower()]
    try:
        if fmt == "md":
            folder = target.with_name(f"{target.stem}_files")
            _check_picture_folder(folder)
            pictures = _pictures(rec)
            text = _markdown(rec, folder.name, pictures)
            _publish_markdown(target, text, folder, pictures)
        else:
            text = render(rec, fmt)
            write_atomic(target, (text + "\n").encode("utf-8"))
    except OSError as exc:
        raise AdvisorError(f"Cannot write report {target}: {exc.strerror or exc}.") from exc
    return target


# --- pictures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    name: str  # file stem, also the key the templates use
    alt: str
    caption: str
    png: bytes

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _pictures(rec: Recommendation) -> list[Picture]:
    from advisor.reporting import plots

    p, v = rec.profile, rec.validation
    out: list[Picture] = []

    def add(name: str, png: bytes | None, alt: str, caption: str) -> None:
        if png is not None:
            out.append(Picture(name, alt, caption, png))

    if p.is_classification:
        multilabel = p.task == "multilabel"
        add("class_balance",
            plots.class_balance(p.class_labels or (), p.class_counts or (), p.minority_class,
                                p.n_rows, multilabel),
            "Positives per label" if multilabel else "Rows per class",
            f"{'Rows with each label' if multilabel else 'Rows per class'}; the minority "
            f"({p.minority_class}) is highlighted.")
    else:
        add("target_distribution",
            plots.target_distribution(
                p.target_histogram_edges, p.target_histogram_counts, p.target_outlier_low,
                p.target_outlier_high, p.target_median,
                {"min": p.target_min, "max": p.target_max, "median": p.target_median,
                 "mad": p.target_mad}),
            f"Distribution of the target {p.target}", _histogram_caption(rec))
    add("missing_values", plots.missing_values(p.feature_names, p.feature_missing_fractions),
        "Missing values per feature", "Share of missing cells in each feature that has any.")
    rows = [r.to_dict() for r in v.candidates]
    add("metric_intervals", plots.metric_intervals(rows, v.metric_title, v.greater_is_better),
        f"{v.metric_title} per candidate with 95% intervals",
        f"{v.metric_title} per candidate: mean over trials with its corrected 95% interval; "
        "dots are single trials.")
    add("learning_curves", plots.learning_curves(rows),
        "Learning curves: validation loss per epoch",
        "Validation loss per epoch of the first seed, one line per fold. Each candidate has its "
        "own scale: losses are not comparable with each other, only their shapes are.")
    return out


def _histogram_caption(rec: Recommendation) -> str:
    p = rec.profile
    fences = (f"Dashed lines: the outlier fences (modified z-score {OUTLIER_Z:g}); solid: the "
              "median.")
    if not p.target_histogram_counts:  # a result saved before profiles kept the histogram
        return ("The profile holds no histogram of the target, so this shows its summary "
                "statistics. " + fences)
    return (f"Histogram of the target over {sum(p.target_histogram_counts):,} rows; values "
            "beyond the end bins are counted in them. " + fences)


# --- the view both templates walk ---------------------------------------------------------------


def _view(rec: Recommendation, pictures: dict[str, dict], **extra) -> dict[str, Any]:
    r, v, p, c = rec.recommendation, rec.validation, rec.profile, rec.criteria
    results = {res.id: res for res in v.candidates}
    view = {
        "rec": rec, "r": r, "v": v, "p": p, "c": c,
        "title": f"Loss Advisor: {r.title} for '{p.target}'",
        "sections": SECTIONS,
        "section_number": {key: i for i, (key, _) in enumerate(SECTIONS, 1)},
        "section_name": dict(SECTIONS),
        "pictures": pictures,
        "answer": _answer_rows(rec),
        "facts": _fact_rows(rec),
        "task_reason": p.task_reason.rstrip(". "),
        "criteria": _criteria_rows(rec),
        **_features_view(rec),
        "candidates": [{"rank": i, "c": cand, "result": results.get(cand.id),
                        "chosen": cand.id == r.id} for i, cand in enumerate(rec.candidates, 1)],
        "results": list(v.candidates),
        "plan": _plan_rows(rec),
        "problems": [res for res in v.candidates if res.diverged or res.error],
        "reproducibility": _reproducibility_rows(rec),
        "versions": (rec.reproducibility.get("versions") or {}),
        "semantics": (rec.reproducibility.get("keras_semantics") or {}),
        "rules_files": (rec.reproducibility.get("rules_files") or []),
        "command": rec.reproducibility.get("command"),
        "generator": f"Loss Advisor {rec.advisor_version}",
    }
    view.update(extra)
    return view


def _answer_rows(rec: Recommendation) -> list[tuple[str, str]]:
    r = rec.recommendation
    return [
        ("Keras loss", _keras_call(r.keras)),
        ("Output layer", f"Dense({r.head.units}, activation={r.output_activation!r})"),
        ("from_logits", repr(r.from_logits)),
        ("Target transform", r.target_transform),
        ("fit() arguments", _fit_text(r.fit)),
    ]


def _keras_call(keras: dict[str, Any]) -> str:
    config = ", ".join(f"{k}={python_literal(v)}" for k, v in (keras.get("config") or {}).items())
    return f"{keras.get('class_name')}({config})"


def _fit_text(fit: dict[str, Any]) -> str:
    if not fit:
        return "none beyond your own (epochs, batch size, callbacks)"
    return ", ".join(f"{k}={python_literal(v)}" for k, v in fit.items())


def _fact_rows(rec: Recommendation) -> list[tuple[str, str, str]]:
    """(label, fact name, value) for the key facts table, classification or value targets."""
    p = rec.profile
    task = f"{p.task} (confidence {p.task_confidence:.2f}"
    task += f", alternative: {p.task_alternative}" if p.task_alternative else ""
    task += ", set by --task" if p.task_source == "user" else ""
    task += f") — {p.task_reason}"
    rows = [
        ("Input", "source", f"{p.source} ({p.source_format}, {number(p.memory_mb)} MB in memory)"),
        ("Target", "target", ", ".join(p.target_columns)),
        ("Task", "task", task),
        ("Rows", "n_rows", f"{p.n_rows:,} used of {p.n_rows_total:,}"
         + (f" ({p.n_rows_dropped:,} dropped: target missing)" if p.n_rows_dropped else "")),
    ]
    rows += _class_rows(p) if p.is_classification else _value_rows(p)
    return rows + _feature_fact_rows(p)


def _class_rows(p) -> list[tuple[str, str, str]]:
    """Key facts of a classification target."""
    noun = "Labels" if p.task == "multilabel" else "Classes"
    rows = [
        (noun, "n_classes", number(p.n_classes)),
        ("Minority", "minority_fraction",
         f"{p.minority_class} — {number(p.minority_count)} rows "
         f"({percent(p.minority_fraction)})"),
        ("Imbalance ratio (majority / minority)", "imbalance_ratio", number(p.imbalance_ratio)),
    ]
    if p.positive_class is not None:
        rows.append(("Positive class", "positive_class", str(p.positive_class)))
    if p.entropy_imbalance is not None:
        rows.append(("Entropy imbalance (0 = balanced)", "entropy_imbalance",
                     number(p.entropy_imbalance)))
    if p.n_small_classes:
        rows.append(("Classes too small to split", "n_small_classes",
                     number(p.n_small_classes)))
    if p.label_cardinality is not None:
        rows.append(("Labels per row", "label_cardinality", number(p.label_cardinality)))
    return rows


def _value_rows(p) -> list[tuple[str, str, str]]:
    """Key facts of a regression or count target."""
    rows = [
        ("Mean · std", "target_mean", f"{number(p.target_mean)} · {number(p.target_std)}"),
        ("Median · MAD", "target_median",
         f"{number(p.target_median)} · {number(p.target_mad)}"),
        ("Range", "target_min", f"[{number(p.target_min)}, {number(p.target_max)}]"),
        ("Skewness", "target_skewness", number(p.target_skewness)),
        ("Excess kurtosis", "target_excess_kurtosis", number(p.target_excess_kurtosis)),
        (f"Outliers (modified z-score > {OUTLIER_Z:g})", "target_outlier_fraction",
         f"{percent(p.target_outlier_fraction)} outside [{number(p.target_outlier_low)}, "
         f"{number(p.target_outlier_high)}]"),
        ("Zeros", "target_zero_fraction", percent(p.target_zero_fraction)),
    ]
    if p.target_dispersion is not None:
        rows.append(("Dispersion (variance / mean)", "target_dispersion",
                     number(p.target_dispersion)))
    if p.target_decades is not None:
        rows.append(("Decades spanned", "target_decades", number(p.target_decades)))
    return rows


def _feature_fact_rows(p) -> list[tuple[str, str, str]]:
    """Key facts of the features and the rows."""
    kinds = [f"{getattr(p, f'n_{k}_features')} {k}"
             for k in KINDS if getattr(p, f"n_{k}_features")]
    rows = [
        ("Features", "n_features", f"{p.n_features} ({', '.join(kinds) or 'none'})"),
        ("Missing cells · rows with any missing", "missing_cell_fraction",
         f"{percent(p.missing_cell_fraction)} · {percent(p.rows_with_missing_fraction)}"),
    ]
    if p.high_cardinality_columns:
        rows.append(("High-cardinality columns", "high_cardinality_columns",
                     ", ".join(p.high_cardinality_columns)))
    if p.identifier_columns:
        rows.append(("Identifier columns", "identifier_columns", ", ".join(p.identifier_columns)))
    if p.feature_outlier_fraction is not None:
        rows.append(("Feature outliers (IsolationForest)", "feature_outlier_fraction",
                     f"{percent(p.feature_outlier_fraction)} of "
                     f"{number(p.feature_outlier_sample_rows)} sampled rows"))
    rows.append(("Duplicate rows", "duplicate_row_fraction", percent(p.duplicate_row_fraction)))
    if p.conflicting_label_fraction is not None:
        rows.append(("Conflicting labels (same features, other label)",
                     "conflicting_label_fraction", percent(p.conflicting_label_fraction)))
    if p.sample_rows != p.n_rows:
        rows.append(("Rows sampled for the row-level facts", "sample_rows", f"{p.sample_rows:,}"))
    return rows


def _features_view(rec: Recommendation) -> dict[str, Any]:
    """The Features section: every feature column, its facts and what the trials did with it."""
    from advisor.validation.prepare import MAX_CATEGORIES

    uses, fitted = feature_uses(rec)
    rows = [{"name": u.name, "kind": u.kind, "missing": percent(u.missing_fraction),
             "distinct": "n/a" if u.distinct is None else number(u.distinct),
             "treatment": u.treatment, "detail": u.detail,
             "inputs": "n/a" if u.inputs is None else number(u.inputs)} for u in uses]
    return {"features": rows, "features_fitted": fitted, "max_categories": MAX_CATEGORIES,
            "features_distinct": any(u.distinct is not None for u in uses),
            "feature_inputs": sum(u.inputs or 0 for u in uses) if fitted else None}


def _criteria_rows(rec: Recommendation) -> list[tuple[str, str, str]]:
    c, v = rec.criteria, rec.validation
    rows = [
        ("Model architecture", "model", c.model),
        ("Output layer emits", "output", c.output or "each loss's stable default"),
        ("Time budget", "budget_seconds", f"{c.budget_seconds:g} s of trials"),
        ("Memory limit", "memory_limit_mb",
         f"{c.memory_limit_mb:g} MB" if c.memory_limit_mb else "none given"),
        ("Parallel trials", "jobs", str(c.jobs)),
        ("Domain", "domain", f"{c.domain} — {DOMAINS.get(c.domain, 'declared by a rules file')}"),
        ("Calibrated probabilities needed", "calibration_needed", number(c.calibration_needed)),
    ]
    costs = [(label, fact, value) for label, fact, value in (
        ("Cost of a missed positive", "fn_cost", c.fn_cost),
        ("Cost of a false alarm", "fp_cost", c.fp_cost),
        ("Cost ratio (missed / false alarm)", "cost_ratio", c.cost_ratio),
        ("Cost of predicting too low", "under_cost", c.under_cost),
        ("Cost of predicting too high", "over_cost", c.over_cost),
        ("Pinball τ", "quantile_tau", c.quantile_tau)) if value is not None]
    rows += [(label, fact, number(value)) for label, fact, value in costs] or [
        ("Error costs", "fn_cost", "none given: all errors cost the same")]
    source = ("chosen with --metric" if c.metric_source == "user"
              else "chosen for the task and domain")
    rows.append(("Metric", "metric", f"{v.metric_title} ({c.metric}, {source}) — "
                 f"{c.metric_reason or v.metric_reason or 'no reason recorded'}"))
    return rows


def _plan_rows(rec: Recommendation) -> list[tuple[str, str]]:
    v = rec.validation
    plan = v.plan
    if plan is None:
        return []
    return [
        ("Folds × rounds", f"{plan.folds} × {len(plan.schedule)} (at most {plan.rounds}; "
                           "a round is every fold with one more seed)"),
        ("Trials per round", "; ".join(f"{i}: {', '.join(live)}"
                                        for i, live in enumerate(plan.schedule, 1))),
        ("Epochs", f"up to {plan.max_epochs}, early stopping with patience {plan.patience}"),
        ("Batch size", str(plan.batch_size)),
        ("Rows", f"{plan.rows:,} of {plan.rows_total:,}"),
        ("Candidates trialled", ", ".join(plan.candidates) + (
            f"; once the change was decided, with the budget left: {', '.join(plan.broadened())}"
            if plan.broadened() else "")),
        ("Model", v.model),
        ("Time", f"{v.seconds:.1f} s of a {v.budget_seconds:g} s budget "
                 f"(≈ {plan.trial_seconds_estimate:.1f} s a trial)"),
    ]


def _reproducibility_rows(rec: Recommendation) -> list[tuple[str, str]]:
    rep = rec.reproducibility
    return [
        ("Advisor version", rec.advisor_version),
        ("Seed", str(rep.get("seed"))),
        ("Validated", number(rep.get("validated"))
         + (f" ({rep.get('candidates_trialled')} candidates)" if rep.get("validated") else "")),
        ("Input", rec.input.path or "a DataFrame (no file)"),
        ("Input sha256", rec.input.sha256),
        ("Target · rows", f"{rec.input.target} · {rec.input.rows:,}"),
    ]


# --- templates and Markdown escaping -------------------------------------------------------------


class Markdown(str):
    """Text already made safe for Markdown by a filter below: printed as is."""


_MD_PUNCTUATION = re.compile(r"([\\`*\[\]<>|~&])|(?<!\w)_|_(?!\w)")
_MD_LINE_START = re.compile(r"^([-+#=>]|\d+[.)])(?=\s|$)")


def md_text(value: Any) -> str:
    """Any value as inline Markdown text: one line, and every character that could start markup,
    end a table cell or open an HTML tag backslash-escaped."""
    if isinstance(value, Markdown):
        return value
    text = re.sub(r"\s+", " ", display(value))
    text = _MD_PUNCTUATION.sub(lambda m: "\\" + m.group(0), text)
    return _MD_LINE_START.sub(r"\\\1", text)


def md_code(value: Any) -> Markdown:
    """An inline code span that survives any backticks inside and table cell borders."""
    text = " ".join(display(value).split()).replace("|", "\\|")
    if not text:
        return Markdown("")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown(f"{ticks}{pad}{text}{pad}{ticks}")


def md_fence(value: Any, language: str = "") -> Markdown:
    """A fenced code block longer than any backtick run inside, so nothing can close it early."""
    text = str(value).rstrip("\n")
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return Markdown(f"{fence}{language}\n{text}\n{fence}")


def _md_finalize(value: Any) -> str:
    return md_text(value)


def _environment(markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("advisor.reporting", "templates"),
        autoescape=not markdown,
        finalize=_md_finalize if markdown else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(number=number, percent=percent, display=display, signed=signed)
    if markdown:
        env.filters.update(code=md_code, fence=md_fence)
    return env


_ENVIRONMENTS: dict[bool, jinja2.Environment] = {}


def _template(name: str) -> jinja2.Template:
    markdown = name.endswith(".md.j2")
    if markdown not in _ENVIRONMENTS:
        _ENVIRONMENTS[markdown] = _environment(markdown)
    return _ENVIRONMENTS[markdown].get_template(name)


def _css() -> str:
    from markupsafe import Markup

    # Our own stylesheet, inlined so the page needs nothing beside it.
    text = (resources.files("advisor.reporting") / "templates" / "report.css").read_text("utf-8")
    return Markup(text)


def _markdown(rec: Recommendation, folder: str | None,
              pictures: list[Picture] | None = None) -> str:
    """Markdown linking pictures in ``folder`` (relative to the file), or none when ``None``."""
    links = {}
    if folder is not None:
        for p in pictures if pictures is not None else _pictures(rec):
            links[p.name] = {"src": Markdown(f"{quote(folder)}/{quote(p.name)}.png"), "alt": p.alt,
                             "caption": p.caption}
    return _template("report.md.j2").render(_view(rec, links, with_pictures=folder is not None))


# --- Markdown's pictures, swapped in whole (files go through advisor.base.files) ----------------


def _check_picture_folder(folder: Path) -> None:
    """An existing ``<stem>_files`` is replaced only if it holds nothing but our pictures."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise AdvisorError(f"Cannot write the report's pictures to {folder}: a file of that name "
                           "exists. Move it or choose another report name.")
    foreign = [p.name for p in folder.iterdir() if p.suffix != ".png"]
    if foreign:
        raise AdvisorError(f"Cannot replace {folder}: it holds files a report did not write "
                           f"({', '.join(sorted(foreign)[:3])}). Move them or choose another "
                           "report name.")


def _publish_markdown(path: Path, text: str, folder: Path, pictures: list[Picture]) -> None:
    """Pictures into a staged folder, then swap it for ``folder``, then replace ``path``."""
    staged = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{folder.name}."))
    retired = None
    placed = False
    try:
        for p in pictures:
            (staged / f"{p.name}.png").write_bytes(p.png)
        os.chmod(staged, 0o777 & ~umask())
        if folder.exists():
            retired = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{folder.name}.old."))
            os.replace(folder, retired / folder.name)
        if pictures:
            os.replace(staged, folder)
            placed = True
        write_atomic(path, text.encode("utf-8"))
    except BaseException:
        if placed:
            shutil.rmtree(folder, ignore_errors=True)
        if retired is not None and (retired / folder.name).exists():
            os.replace(retired / folder.name, folder)
        raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
