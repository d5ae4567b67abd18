"""Stage 4, reporting: the terminal text, and the HTML, Markdown and JSON reports with plots."""

from advisor.reporting.report import check_report_path, render, write_report

__all__ = ["check_report_path", "render", "write_report"]
