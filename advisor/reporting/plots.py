"""The report's pictures: matplotlib figures of one recommendation, as deterministic PNG bytes.

Every function takes plain facts (a profile, a validation) and returns PNG bytes, or ``None`` when
the picture does not apply. Figures are drawn on the Agg canvas with matplotlib's default style
and the DejaVu fonts it ships, at a fixed size and resolution, and saved without the
``Software`` stamp, so the same recommendation gives the same bytes on any machine with the same
matplotlib. Text from the data (column names, class labels) is escaped for mathtext: a ``$`` in a
label is a dollar sign, never a formula.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import sys
import warnings
from typing import Callable, Sequence

import matplotlib
import matplotlib.style

# The report never needs a display. Pin the headless backend unless pyplot is already in use
# (a notebook that imported pyplot keeps its inline backend); the figures below draw on an Agg
# canvas either way.
if "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from advisor.base.text import number  # noqa: E402

DPI = 110
WIDTH_INCHES = 7.2
MAX_BARS = 30  # classes or features drawn; the rest are summed up in the title
MAX_CURVE_PANELS = 6
LABEL_CHARS = 36

# Okabe & Ito's colour-blind-safe palette.
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
GREY = "#8c8c8c"
SERIES = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, YELLOW, GREY)
STATUS_COLOURS = {"recommended": VERMILLION, "pick": BLUE, "better": GREEN, "tied": SKY,
                  "worse": GREY, "dropped": GREY}
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
}


def _figure(height: float) -> Figure:
    fig = Figure(figsize=(WIDTH_INCHES, min(height, 12)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _drawing(draw: Callable[..., Figure | None]) -> Callable[..., bytes | None]:
    """Run ``draw`` in matplotlib's default style plus ours (never the user's matplotlibrc,
    which would make the bytes machine-dependent) and save its figure as PNG bytes."""

    @functools.wraps(draw)
    def png(*args, **kwargs) -> bytes | None:
        with matplotlib.rc_context(), warnings.catch_warnings():
            matplotlib.style.use("default")
            matplotlib.rcParams.update(STYLE)
            # Labels in scripts DejaVu lacks draw as boxes; that is no reason to warn the user.
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            fig = draw(*args, **kwargs)
            if fig is None:
                return None
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
            return buffer.getvalue()

    return png


@_drawing
def class_balance(labels: Sequence, counts: Sequence[int], highlight, total: int,
                  multilabel: bool = False) -> Figure | None:
    """Horizontal bars: rows per class (positives per label), the minority highlighted."""
    if not labels or not counts:
        return None
    pairs = list(zip(labels, counts))[:MAX_BARS]
    hidden = len(labels) - len(pairs)
    fig = _figure(height=0.8 + 0.28 * len(pairs))
    ax = fig.add_subplot()
    names = [_label(label) for label, _ in pairs][::-1]
    values = [count for _, count in pairs][::-1]
    colours = [VERMILLION if label == highlight else BLUE for label, _ in pairs][::-1]
    bars = ax.barh(range(len(pairs)), values, color=colours, height=0.7)
    ax.set_yticks(range(len(pairs)), names)
    ax.grid(axis="y", visible=False)
    for bar, value in zip(bars, values):
        ax.annotate(f"{value:,} ({value / total:.1%})", (bar.get_width(), bar.get_y() + 0.35),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, max(values) * 1.25)
    noun = "rows with the label" if multilabel else "rows"
    ax.set_xlabel(noun)
    more = f" (first {len(pairs)}, {hidden} more not shown)" if hidden else ""
    ax.set_title(("Positives per label" if multilabel else "Rows per class") + more
                 + " — minority highlighted", loc="left")
    return fig


@_drawing
def target_distribution(edges: Sequence[float] | None, counts: Sequence[int] | None,
                        low: float | None, high: float | None, median: float | None,
                        summary: dict[str, float | None]) -> Figure | None:
    """The profile's histogram of the target (``edges``, ``counts``) with the outlier fences, or
    (without one) the summary statistics on one axis: min, fences, median ± MAD, max."""
    fig = _figure(height=2.9)
    ax = fig.add_subplot()
    if edges and counts and len(edges) == len(counts) + 1:
        _histogram(ax, edges, counts)
        ax.set_title("Target distribution, outlier fences dashed", loc="left")
    else:
        if not _summary_strip(ax, summary):
            return None
        ax.set_title("Target summary (the profile holds no histogram)", loc="left")
    left, right = ax.get_xlim()
    for fence, side in ((low, "low"), (high, "high")):
        if fence is None or not math.isfinite(fence):
            continue
        if left <= fence <= right:
            ax.axvline(fence, color=VERMILLION, linestyle="--", linewidth=1.2,
                       label=f"outlier fence ({side}) {number(fence)}")
        else:  # beyond the drawn bins: still say where it is
            ax.plot([], [], " ", label=f"outlier fence ({side}) {number(fence)}, off the axis")
    if median is not None and left <= median <= right:
        ax.axvline(median, color=GREEN, linewidth=1.2, label=f"median {number(median)}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    return fig


@_drawing
def missing_values(names: Sequence[str], fractions: Sequence[float]) -> Figure | None:
    """Horizontal bars: the share of missing cells per feature, only features with any."""
    pairs = sorted(((f, n) for n, f in zip(names, fractions) if f and f > 0),
                   key=lambda p: (-p[0], str(p[1])))
    if not pairs:
        return None
    shown = pairs[:MAX_BARS]
    fig = _figure(height=0.8 + 0.28 * len(shown))
    ax = fig.add_subplot()
    shown = shown[::-1]
    bars = ax.barh(range(len(shown)), [100 * f for f, _ in shown], color=ORANGE, height=0.7)
    ax.set_yticks(range(len(shown)), [_label(n) for _, n in shown])
    ax.grid(axis="y", visible=False)
    for bar, (fraction, _) in zip(bars, shown):
        ax.annotate(f"{fraction:.1%}", (bar.get_width(), bar.get_y() + 0.35), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, min(100, max(100 * f for f, _ in shown) * 1.25) or 1)
    ax.set_xlabel("missing cells (%)")
    more = f" ({len(pairs) - len(shown)} more not shown)" if len(pairs) > len(shown) else ""
    ax.set_title("Missing values per feature" + more, loc="left")
    return fig


@_drawing
def metric_intervals(rows: Sequence[dict], metric_title: str,
                     greater_is_better: bool) -> Figure | None:
    """Per candidate: the mean score with its 95% interval, and each trial's score as a dot.

    ``rows``: dicts with ``id``, ``status``, ``mean``, ``ci_low``, ``ci_high``, ``scores``.
    """
    rows = [r for r in rows if r["mean"] is not None]
    if not rows:
        return None
    fig = _figure(height=0.9 + 0.45 * len(rows))
    ax = fig.add_subplot()
    for y, row in enumerate(reversed(rows)):
        colour = STATUS_COLOURS.get(row["status"], GREY)
        scores = [s for s in row["scores"] if s is not None and math.isfinite(s)]
        ax.scatter(scores, [y + 0.18] * len(scores), s=10, color=colour, alpha=0.55, linewidths=0)
        if row["ci_low"] is not None and row["ci_high"] is not None:
            ax.errorbar([row["mean"]], [y], xerr=[[row["mean"] - row["ci_low"]],
                                                  [row["ci_high"] - row["mean"]]],
                        fmt="o", color=colour, capsize=4, markersize=6, linewidth=1.6)
        else:
            ax.plot([row["mean"]], [y], "o", color=colour, markersize=6)
    ax.set_yticks(range(len(rows)), [f"{_label(r['id'])}\n({r['status']})" for r in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    direction = "higher is better" if greater_is_better else "lower is better"
    ax.set_xlabel(f"{_label(metric_title, 80)} ({direction})")
    ax.set_title("Mean score with 95% interval; dots are single trials", loc="left")
    return fig


@_drawing
def learning_curves(rows: Sequence[dict]) -> Figure | None:
    """One panel per trialled candidate: validation loss per epoch, one line per fold.

    ``rows``: dicts with ``id``, ``status``, ``curves`` (tuples of floats or None), and
    ``diverged_epoch``. Each panel has its own scale: losses are not comparable with each other.
    """
    rows = [r for r in rows if any(len(c) for c in r["curves"])][:MAX_CURVE_PANELS]
    if not rows:
        return None
    columns = min(3, len(rows))
    lines = math.ceil(len(rows) / columns)
    fig = _figure(height=0.8 + 2.1 * lines)
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.set_visible(False)
    for ax, row in zip(axes.flat, rows):
        for i, curve in enumerate(row["curves"]):
            values = [math.nan if v is None else float(v) for v in curve]
            epochs = range(1, len(values) + 1)
            # Short curves (a trial that diverged early) get markers, or one point would vanish.
            ax.plot(epochs, values, color=SERIES[i % len(SERIES)], linewidth=1.2,
                    marker="o" if len(values) <= 5 else None, markersize=3,
                    label=f"fold {i + 1}")
            bad = [(e, v) for e, v in zip(epochs, values) if not math.isfinite(v)]
            if bad:
                ax.axvline(bad[0][0], color=VERMILLION, linestyle=":", linewidth=1.2)
        if row.get("diverged_epoch"):
            ax.axvline(row["diverged_epoch"], color=VERMILLION, linestyle="--", linewidth=1.2,
                       label=f"diverged (epoch {row['diverged_epoch']})")
        ax.set_title(f"{_label(row['id'], 28)} ({row['status']})", loc="left", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes.flat[0].set_ylabel("validation loss")
    legend: dict[str, object] = {}
    for ax in axes.flat[:len(rows)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center",
               ncols=min(len(legend), 6), fontsize=8)
    return fig


# --- drawing helpers -----------------------------------------------------------------------------


def _histogram(ax, edges: Sequence[float], counts: Sequence[int]) -> None:
    """Bars of precomputed bins (the end bins also count the values beyond them)."""
    widths = [b - a for a, b in itertools.pairwise(edges)]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color=BLUE, alpha=0.85,
           edgecolor="white", linewidth=0.5)
    ax.set_xlabel("target value")
    ax.set_ylabel("rows")
    ax.grid(axis="x", visible=False)


def _summary_strip(ax, summary: dict[str, float | None]) -> bool:
    points = {k: v for k, v in summary.items() if v is not None and math.isfinite(v)}
    if "min" not in points or "max" not in points:
        return False
    ax.hlines(0, points["min"], points["max"], color=GREY, linewidth=2)
    median, mad = points.get("median"), points.get("mad")
    if median is not None and mad is not None:
        ax.hlines(0, median - mad, median + mad, color=BLUE, linewidth=8,
                  label="median ± MAD")
    for key in ("min", "max"):
        ax.plot([points[key]], [0], "|", color="black", markersize=14)
        ax.annotate(f"{key} {number(points[key])}", (points[key], 0), xytext=(0, 10),
                    textcoords="offset points", ha="center", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-1, 1)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("target value")
    span = points["max"] - points["min"]
    ax.set_xlim(points["min"] - 0.05 * span - 1e-9, points["max"] + 0.05 * span + 1e-9)
    return True


def _label(value, limit: int = LABEL_CHARS) -> str:
    """Data text for a matplotlib label: one line, shortened, ``$`` shown literally."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


