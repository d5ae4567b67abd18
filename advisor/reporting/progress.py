"""Progress on a terminal: ``click.progressbar`` fed by the pipeline's ``progress(phase, done, total)``
calls. Only the trials phase is drawn, and only when stderr is a terminal (piped output and logs
stay clean)."""

from __future__ import annotations

import sys

import click


class TerminalProgress:
    """A ``progress(phase, done, total)`` callable that draws the trials as a bar on stderr."""

    def __init__(self) -> None:
        self._bar = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != "trials" or not sys.stderr.isatty():
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="trials", file=sys.stderr,
                                          show_eta=False, show_pos=True)
        self._bar.length = total
        self._bar.update(done - self._bar.pos)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None
