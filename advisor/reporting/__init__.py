"""Stage 4, reporting: the terminal text, and the HTML, Markdown and JSON reports with plots.

The report module (and Jinja2) loads on first use: the terminal's progress line and text output
need neither."""

__all__ = ["check_report_path", "render", "write_report"]


def __getattr__(name: str):
    if name in __all__:
        from advisor.reporting import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
