"""The two kinds of failure the advisor reports to people: bad input, and bad usage.

Every message is one line that names the input, says what was expected and what was found, and
how to fix it. The command line prints it after ``Error:`` and exits 1 (2 for usage errors); the
Python API raises it. Nothing else in the package should print a traceback at a user.
"""

from __future__ import annotations


class AdvisorError(Exception):
    """Bad input or a failed run: the command line exits with status 1."""

    exit_code = 1

    def __init__(self, message: str):
        # One line, always: the CLI prints it after "Error:" and a log line must stay a line.
        super().__init__(" ".join(str(message).split()))


class UsageError(AdvisorError, ValueError):
    """Options that contradict each other or cannot apply: the command line exits with status 2."""

    exit_code = 2
