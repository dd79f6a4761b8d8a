"""The one error the command line turns into a message and an exit status."""

from __future__ import annotations

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "CliError"]

EXIT_ERROR = 1
"""Exit status for an environment problem: missing package or key, unusable database."""

EXIT_USAGE = 2
"""Exit status for a bad command line, as argparse uses."""


class CliError(Exception):
    """A problem the user can fix; printed as one line, never as a traceback."""

    def __init__(self, message: str, *, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code
